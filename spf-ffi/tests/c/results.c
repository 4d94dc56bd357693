/* Every SPF result through the demo zone, with explanation and headers.
 * Usage: results DEMO_ZONE */
#include "fastspf.h"
#include "check.h"

static fastspf_checker *zone_checker(const char *zone) {
    fastspf_config *config = NULL;
    fastspf_checker *checker = NULL;
    CHECK_STATUS(fastspf_config_new(&config), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_zone_file(config, zone), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_set_receiver(config, "mx.receiver.example"), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_checker_new(config, &checker), FASTSPF_STATUS_OK);
    fastspf_config_free(config);
    return checker;
}

struct expectation {
    const char *ip, *sender;
    fastspf_spf_result code;
    const char *name, *mechanism;
};

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DEMO_ZONE\n", argv[0]);
        return 2;
    }
    CHECK(fastspf_version() != NULL && strlen(fastspf_version()) > 0);
    fastspf_checker *checker = zone_checker(argv[1]);
    if (!checker) return check_summary("results");

    static const struct expectation cases[] = {
        {"192.0.2.10", "alice@pass.demo.example", FASTSPF_RESULT_PASS, "pass", "ip4:192.0.2.0/24"},
        {"203.0.113.9", "alice@fail.demo.example", FASTSPF_RESULT_FAIL, "fail", "-all"},
        {"203.0.113.9", "alice@softfail.demo.example", FASTSPF_RESULT_SOFTFAIL, "softfail", "~all"},
        {"203.0.113.9", "alice@neutral.demo.example", FASTSPF_RESULT_NEUTRAL, "neutral", "?all"},
        {"192.0.2.10", "alice@none.demo.example", FASTSPF_RESULT_NONE, "none", NULL},
        {"192.0.2.10", "alice@permerror.demo.example", FASTSPF_RESULT_PERMERROR, "permerror", NULL},
        {"198.51.100.7", "alice@redirect.demo.example", FASTSPF_RESULT_PASS, "pass",
         "include:_spf.provider.demo.example"},
        {"2001:db8:100::25", "alice@provider.demo.example", FASTSPF_RESULT_PASS, "pass",
         "include:_spf.provider.demo.example"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fastspf_result *result = NULL;
        CHECK_STATUS(fastspf_checker_check(checker, cases[i].ip, cases[i].sender, "mail.demo.example", &result),
                     FASTSPF_STATUS_OK);
        if (!result) continue;
        CHECK(fastspf_result_code(result) == cases[i].code);
        CHECK_STR(fastspf_result_name(result), cases[i].name);
        if (cases[i].mechanism) {
            CHECK_STR(fastspf_result_mechanism(result), cases[i].mechanism);
        } else {
            CHECK(fastspf_result_mechanism(result) == NULL);
            CHECK(fastspf_result_reason(result) != NULL);
        }
        char prefix[64];
        snprintf(prefix, sizeof prefix, "Received-SPF: %s (mx.receiver.example: ", cases[i].name);
        CHECK_PREFIX(fastspf_result_received_spf(result), prefix);
        CHECK(strstr(fastspf_result_received_spf(result), "identity=mailfrom") != NULL);
        CHECK(only_folds(fastspf_result_received_spf(result)));
        snprintf(prefix, sizeof prefix, "spf=%s", cases[i].name);
        CHECK_PREFIX(fastspf_result_authentication_results(result), prefix);
        CHECK(only_folds(fastspf_result_authentication_results(result)));
        /* Accessors are stable: the same pointer twice. */
        CHECK(fastspf_result_received_spf(result) == fastspf_result_received_spf(result));
        fastspf_result_free(result);
    }

    /* fail carries the exp= text, expanded. */
    fastspf_result *result = NULL;
    CHECK_STATUS(fastspf_checker_check(checker, "203.0.113.9", "alice@fail.demo.example", NULL, &result),
                 FASTSPF_STATUS_OK);
    CHECK_STR(fastspf_result_explanation(result),
              "203.0.113.9 is not a mail server of fail.demo.example; ask postmaster@fail.demo.example");
    CHECK_STR(fastspf_result_domain(result), "fail.demo.example");
    CHECK(fastspf_result_dns_lookups(result) == 0);
    fastspf_result_free(result);

    /* The null sender checks postmaster@helo; the HELO identity too. */
    result = NULL;
    CHECK_STATUS(fastspf_checker_check(checker, "192.0.2.10", "", "mail.demo.example", &result), FASTSPF_STATUS_OK);
    CHECK(fastspf_result_code(result) == FASTSPF_RESULT_PASS);
    CHECK(strstr(fastspf_result_received_spf(result), "envelope-from=postmaster@mail.demo.example") != NULL);
    fastspf_result_free(result);
    result = NULL;
    CHECK_STATUS(fastspf_checker_check_helo(checker, "203.0.113.9", "mail.demo.example", &result), FASTSPF_STATUS_OK);
    CHECK(fastspf_result_code(result) == FASTSPF_RESULT_FAIL);
    CHECK(strstr(fastspf_result_received_spf(result), "identity=helo") != NULL);
    CHECK_PREFIX(fastspf_result_authentication_results(result), "spf=fail smtp.helo=mail.demo.example");
    fastspf_result_free(result);

    /* Void lookups and DNS lookups are counted. */
    result = NULL;
    CHECK_STATUS(fastspf_checker_check(checker, "203.0.113.9", "alice@toomany.demo.example", NULL, &result),
                 FASTSPF_STATUS_OK);
    CHECK(fastspf_result_code(result) == FASTSPF_RESULT_PERMERROR);
    CHECK(fastspf_result_dns_lookups(result) == 11);
    CHECK(strstr(fastspf_result_reason(result), "limit") != NULL);
    fastspf_result_free(result);
    fastspf_checker_free(checker);

    /* temperror: a nameserver on loopback that refuses (nothing listens on port 1). */
    fastspf_config *config = NULL;
    fastspf_checker *offline = NULL;
    CHECK_STATUS(fastspf_config_new(&config), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_nameserver(config, "127.0.0.1:1"), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_set_timeout(config, 300, 1), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_checker_new(config, &offline), FASTSPF_STATUS_OK);
    fastspf_config_free(config);
    result = NULL;
    CHECK_STATUS(fastspf_checker_check(offline, "192.0.2.1", "a@example.com", "h.example.com", &result),
                 FASTSPF_STATUS_OK);
    CHECK(fastspf_result_code(result) == FASTSPF_RESULT_TEMPERROR);
    CHECK_STR(fastspf_result_name(result), "temperror");
    CHECK(fastspf_result_reason(result) != NULL);
    CHECK(strstr(fastspf_result_received_spf(result), "problem=") != NULL);
    fastspf_result_free(result);
    fastspf_checker_free(offline);
    return check_summary("results");
}
