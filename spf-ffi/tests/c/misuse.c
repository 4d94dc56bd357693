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
    fastspf_lint *lint = NULL;
    CHECK_STATUS(fastspf_checker_lint(NULL, "pass.demo.example", NULL, &lint), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK(lint == NULL);
    fastspf_cache_stats stats;
    memset(&stats, 0xab, sizeof stats);
    CHECK_STATUS(fastspf_checker_cache_stats(NULL, &stats, sizeof stats), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK(stats.hits == 0xababababababababULL);

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
    CHECK_STR(fastspf_status_name(FASTSPF_STATUS_OK), "FASTSPF_STATUS_OK");
    CHECK_STR(fastspf_status_name(FASTSPF_STATUS_NULL_ARGUMENT), "FASTSPF_STATUS_NULL_ARGUMENT");
    CHECK_STR(fastspf_status_name(FASTSPF_STATUS_INVALID_UTF8), "FASTSPF_STATUS_INVALID_UTF8");
    CHECK_STR(fastspf_status_name(FASTSPF_STATUS_INVALID_IP), "FASTSPF_STATUS_INVALID_IP");
    CHECK_STR(fastspf_status_name(FASTSPF_STATUS_INVALID_ARGUMENT), "FASTSPF_STATUS_INVALID_ARGUMENT");
    CHECK_STR(fastspf_status_name(FASTSPF_STATUS_ZONE_FILE), "FASTSPF_STATUS_ZONE_FILE");
    CHECK_STR(fastspf_status_name(FASTSPF_STATUS_SETUP), "FASTSPF_STATUS_SETUP");
    CHECK_STR(fastspf_status_name(FASTSPF_STATUS_PANIC), "FASTSPF_STATUS_PANIC");
    CHECK_STR(fastspf_status_name(FASTSPF_STATUS_PANIC + 1), "FASTSPF_STATUS_UNKNOWN");
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

    /* The checker's lint: every argument NULL in turn, garbage, *out untouched. */
    fastspf_lint *untouched = (fastspf_lint *)&check_failures;
    CHECK_STATUS(fastspf_checker_lint(checker, "pass.demo.example", NULL, NULL), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_checker_lint(checker, NULL, NULL, &untouched), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fastspf_checker_lint(checker, NULL, NULL, NULL), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_checker_lint(checker, "\xff.example", NULL, &untouched), FASTSPF_STATUS_INVALID_UTF8);
    CHECK_STATUS(fastspf_checker_lint(checker, NULL, "v=spf1 \xc3\x28 -all", &untouched), FASTSPF_STATUS_INVALID_UTF8);
    CHECK(untouched == (fastspf_lint *)&check_failures);
    /* NULL domain with a record, NULL record with a domain: both are lints. */
    CHECK_STATUS(fastspf_checker_lint(checker, NULL, "v=spf1 -all", &lint), FASTSPF_STATUS_OK);
    CHECK(lint != NULL && fastspf_lint_errors(lint) == 0);
    fastspf_lint_free(lint);
    lint = NULL;
    CHECK_STATUS(fastspf_checker_lint(checker, "no-such-domain.example", NULL, &lint), FASTSPF_STATUS_OK);
    CHECK(lint != NULL);
    fastspf_lint_free(lint);
    /* Hostile input is data: a huge record and a huge domain are lints, not crashes. */
    size_t big = 1 << 16;
    char *text = malloc(big + 1);
    if (text) {
        memset(text, 'x', big);
        memcpy(text, "v=spf1 ", 7);
        text[big] = '\0';
        lint = NULL;
        CHECK_STATUS(fastspf_checker_lint(checker, NULL, text, &lint), FASTSPF_STATUS_OK);
        CHECK(lint != NULL && fastspf_lint_errors(lint) > 0);
        fastspf_lint_free(lint);
        lint = NULL;
        CHECK_STATUS(fastspf_checker_lint(checker, text + 7, NULL, &lint), FASTSPF_STATUS_OK);
        CHECK(lint != NULL);
        fastspf_lint_free(lint);
        free(text);
    }

    /* Cache stats: NULL out, sizes out of range; *out untouched. */
    memset(&stats, 0xab, sizeof stats);
    CHECK_STATUS(fastspf_checker_cache_stats(checker, NULL, sizeof stats), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_checker_cache_stats(checker, &stats, 0), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fastspf_checker_cache_stats(checker, &stats, 87), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fastspf_checker_cache_stats(checker, &stats, (size_t)-1), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fastspf_checker_cache_stats(checker, &stats, 4097), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK(stats.hits == 0xababababababababULL && stats.abandoned == 0xababababababababULL);
    CHECK_STATUS(fastspf_checker_cache_stats(checker, &stats, sizeof stats), FASTSPF_STATUS_OK);
    CHECK(stats.inflight == 0 && stats.misses > 0);

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
