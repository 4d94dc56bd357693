/* Misuse never crashes: NULLs everywhere, garbage, invalid UTF-8, bad IPs,
 * unreadable zone files, out-of-range settings, double-free-safe NULL frees.
 * Usage: misuse DEMO_ZONE */
#include "fastspf.h"
#include "check.h"

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    fastspf_config *config = NULL;
    fastspf_checker *checker = NULL;
    fastspf_result *result = NULL;

    /* NULL out-parameters and handles. */
    CHECK_STATUS(fastspf_config_new(NULL), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_config_add_nameserver(NULL, "127.0.0.1"), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_config_add_zone_file(NULL, "x"), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_config_set_timeout(NULL, 1000, 1), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_config_set_deadline(NULL, 1000), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_config_set_cache(NULL, 10, 10), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_config_set_limits(NULL, 10, 2), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_config_set_speculation(NULL, true, 30), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_config_set_receiver(NULL, "x"), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_checker_new(NULL, &checker), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK(checker == NULL);
    CHECK_STATUS(fastspf_checker_check(NULL, "192.0.2.1", "a@b.example", "h", &result), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_checker_check_helo(NULL, "192.0.2.1", "h", &result), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_checker_check_async(NULL, "192.0.2.1", "a@b", "h", NULL, NULL), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK(result == NULL);

    /* Accessors and frees accept NULL. */
    CHECK(fastspf_result_code(NULL) == FASTSPF_RESULT_TEMPERROR);
    CHECK(fastspf_result_name(NULL) == NULL);
    CHECK(fastspf_result_explanation(NULL) == NULL);
    CHECK(fastspf_result_mechanism(NULL) == NULL);
    CHECK(fastspf_result_domain(NULL) == NULL);
    CHECK(fastspf_result_reason(NULL) == NULL);
    CHECK(fastspf_result_received_spf(NULL) == NULL);
    CHECK(fastspf_result_authentication_results(NULL) == NULL);
    CHECK(fastspf_result_dns_lookups(NULL) == 0);
    CHECK(fastspf_result_void_lookups(NULL) == 0);
    fastspf_result_free(NULL);
    fastspf_checker_free(NULL);
    fastspf_config_free(NULL);

    /* Status and result names, including numbers that are not codes. */
    CHECK_STR(fastspf_status_name(FASTSPF_STATUS_INVALID_IP), "FASTSPF_STATUS_INVALID_IP");
    CHECK_STR(fastspf_status_name(-1), "FASTSPF_STATUS_UNKNOWN");
    CHECK_STR(fastspf_status_name(1 << 30), "FASTSPF_STATUS_UNKNOWN");
    CHECK_STR(fastspf_result_code_name(FASTSPF_RESULT_SOFTFAIL), "softfail");
    CHECK_STR(fastspf_result_code_name(99), "unknown");

    /* Bad settings. */
    CHECK_STATUS(fastspf_config_new(&config), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_nameserver(config, "not an address"), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fastspf_config_add_nameserver(config, "\xff\xfe"), FASTSPF_STATUS_INVALID_UTF8);
    CHECK_STATUS(fastspf_config_add_nameserver(config, NULL), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_config_set_timeout(config, 0, 1), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fastspf_config_set_timeout(config, 1000, 0), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fastspf_config_set_deadline(config, 0), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fastspf_config_set_cache(config, 0, 1024), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fastspf_config_set_limits(config, 0, 2), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fastspf_config_set_speculation(config, true, 0), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fastspf_config_set_speculation(config, false, 0), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_set_speculation(config, true, 30), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_set_receiver(config, NULL), FASTSPF_STATUS_OK);

    /* An unreadable zone file is reported when the checker is made. */
    CHECK_STATUS(fastspf_config_add_zone_file(config, "/nonexistent/fastspf.zone"), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_checker_new(config, &checker), FASTSPF_STATUS_ZONE_FILE);
    CHECK(checker == NULL);
    CHECK_STATUS(fastspf_checker_new(config, NULL), FASTSPF_STATUS_NULL_ARGUMENT);
    fastspf_config_free(config);

    /* A working checker, then garbage in every string argument. */
    CHECK_STATUS(fastspf_config_new(&config), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_zone_file(config, argv[1]), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_checker_new(config, &checker), FASTSPF_STATUS_OK);
    fastspf_config_free(config);
    const char *bad_ips[] = {"", "999.1.1.1", "1.2.3", "::g", "192.0.2.1 ", "\x01\x02", "localhost"};
    for (size_t i = 0; i < sizeof bad_ips / sizeof bad_ips[0]; i++) {
        result = NULL;
        fastspf_status s = fastspf_checker_check(checker, bad_ips[i], "a@pass.demo.example", "h", &result);
        CHECK(s == FASTSPF_STATUS_INVALID_IP || (i == 4 && s == FASTSPF_STATUS_OK));
        fastspf_result_free(result);
    }
    CHECK_STATUS(fastspf_checker_check(checker, "\xc3\x28", "a@b.example", "h", &result), FASTSPF_STATUS_INVALID_UTF8);
    CHECK_STATUS(fastspf_checker_check(checker, "192.0.2.1", "a@\xff.example", "h", &result), FASTSPF_STATUS_INVALID_UTF8);
    CHECK_STATUS(fastspf_checker_check(checker, "192.0.2.1", "a@b.example", "\x80", &result), FASTSPF_STATUS_INVALID_UTF8);
    CHECK_STATUS(fastspf_checker_check(checker, NULL, "a@b.example", "h", &result), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_checker_check(checker, "192.0.2.1", "a@b.example", "h", NULL), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_checker_check_helo(checker, "192.0.2.1", NULL, &result), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_checker_check_async(checker, "192.0.2.1", "a@b", "h", NULL, NULL), FASTSPF_STATUS_NULL_ARGUMENT);

    /* Garbage that is valid UTF-8 is a result, not an error. */
    const char *senders[] = {"", "@", "@@@", "no-at-sign", "a@", "a@.", "a@[1.2.3.4]", "a b@c d.example",
                             "\xe2\x98\x83@\xe2\x98\x83.example", "a@x;y=z\r\n.example"};
    for (size_t i = 0; i < sizeof senders / sizeof senders[0]; i++) {
        result = NULL;
        CHECK_STATUS(fastspf_checker_check(checker, "192.0.2.1", senders[i], "", &result), FASTSPF_STATUS_OK);
        CHECK(result != NULL);
        CHECK(fastspf_result_received_spf(result) != NULL);
        CHECK(only_folds(fastspf_result_received_spf(result)));
        fastspf_result_free(result);
    }
    /* A huge sender. */
    size_t n = 1 << 20;
    char *huge = malloc(n + 1);
    if (huge) {
        memset(huge, 'a', n);
        huge[n / 2] = '@';
        huge[n] = '\0';
        result = NULL;
        CHECK_STATUS(fastspf_checker_check(checker, "192.0.2.1", huge, "h", &result), FASTSPF_STATUS_OK);
        CHECK(fastspf_result_code(result) == FASTSPF_RESULT_NONE);
        fastspf_result_free(result);
        free(huge);
    }
    fastspf_checker_free(checker);
    return check_summary("misuse");
}
