/* fastspf_lint: diagnostics, drafts and misuse, against the demo zone.
 * Usage: lint DEMO_ZONE */
#include "fastspf.h"
#include "check.h"

static fastspf_lint *run(const fastspf_config *config, const char *domain, const char *record) {
    fastspf_lint *lint = NULL;
    CHECK_STATUS(fastspf_lint_run(config, domain, record, &lint), FASTSPF_STATUS_OK);
    CHECK(lint != NULL);
    return lint;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DEMO_ZONE\n", argv[0]);
        return 2;
    }
    fastspf_config *config = NULL;
    CHECK_STATUS(fastspf_config_new(&config), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_zone_file(config, argv[1]), FASTSPF_STATUS_OK);
    if (!config) return check_summary("lint");

    /* A clean record: nothing to say. */
    fastspf_lint *lint = run(config, "pass.demo.example", NULL);
    CHECK(fastspf_lint_count(lint) == 0);
    CHECK(fastspf_lint_errors(lint) == 0);
    CHECK(fastspf_lint_dns_lookups(lint) == 0);
    CHECK(strstr(fastspf_lint_json(lint), "\"cidrs\":[\"192.0.2.0/24\"]") != NULL);
    fastspf_lint_free(lint);

    /* "+all": two errors, the first naming the term and its offset. */
    lint = run(config, "open.demo.example", NULL);
    CHECK(fastspf_lint_count(lint) == 2);
    CHECK(fastspf_lint_errors(lint) == 2);
    CHECK(fastspf_lint_diag_severity(lint, 0) == FASTSPF_SEVERITY_ERROR);
    CHECK_STR(fastspf_lint_diag_code(lint, 0), "plus-all");
    CHECK_STR(fastspf_lint_diag_term(lint, 0), "+all");
    CHECK(fastspf_lint_diag_offset(lint, 0) == 7);
    CHECK_STR(fastspf_lint_diag_domain(lint, 0), "open.demo.example");
    CHECK_PREFIX(fastspf_lint_diag_message(lint, 0), "\"+all\" passes every address");
    CHECK_STR(fastspf_lint_diag_code(lint, 1), "wide-open");
    CHECK(fastspf_lint_diag_term(lint, 1) == NULL);
    CHECK(fastspf_lint_diag_offset(lint, 1) == -1);
    /* Out of range: neutral answers. */
    CHECK(fastspf_lint_diag_code(lint, 2) == NULL);
    CHECK(fastspf_lint_diag_message(lint, 2) == NULL);
    CHECK(fastspf_lint_diag_domain(lint, 99) == NULL);
    CHECK(fastspf_lint_diag_offset(lint, 2) == -1);
    CHECK(fastspf_lint_diag_severity(lint, 2) == FASTSPF_SEVERITY_INFO);
    CHECK(strstr(fastspf_lint_json(lint), "\"count\":\"340282366920938463463374607431768211456\"") != NULL);
    fastspf_lint_free(lint);

    /* The lookup budget over the include tree. */
    lint = run(config, "toomany.demo.example", NULL);
    CHECK(fastspf_lint_dns_lookups(lint) == 11);
    CHECK_STR(fastspf_lint_diag_code(lint, 0), "too-many-lookups");
    fastspf_lint_free(lint);

    /* A draft fixing the published typo, and a typo linted on its own. */
    lint = run(config, "typo.demo.example", "v=spf1 ip4:192.0.2.0/24 -all");
    CHECK(fastspf_lint_errors(lint) == 0);
    fastspf_lint_free(lint);
    lint = run(config, NULL, "v-spf1 ip4:192.0.2.0/24 -all");
    CHECK(fastspf_lint_count(lint) == 1);
    CHECK_STR(fastspf_lint_diag_code(lint, 0), "not-spf-typo");
    CHECK_STR(fastspf_lint_diag_term(lint, 0), "v-spf1");
    CHECK(fastspf_lint_diag_offset(lint, 0) == 0);
    CHECK_STR(fastspf_lint_diag_domain(lint, 0), "");
    fastspf_lint_free(lint);

    /* Misuse: statuses, and *out untouched. */
    fastspf_lint *untouched = (fastspf_lint *)&check_failures;
    CHECK_STATUS(fastspf_lint_run(NULL, "pass.demo.example", NULL, &untouched), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_lint_run(config, NULL, NULL, &untouched), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fastspf_lint_run(config, "\xff\xfe", NULL, &untouched), FASTSPF_STATUS_INVALID_UTF8);
    CHECK_STATUS(fastspf_lint_run(config, "pass.demo.example", NULL, NULL), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK(untouched == (fastspf_lint *)&check_failures);
    CHECK(fastspf_lint_count(NULL) == 0 && fastspf_lint_errors(NULL) == 0);
    CHECK(fastspf_lint_json(NULL) == NULL && fastspf_lint_diag_code(NULL, 0) == NULL);
    fastspf_lint_free(NULL);

    fastspf_config *missing = NULL;
    CHECK_STATUS(fastspf_config_new(&missing), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_zone_file(missing, "/nonexistent/zone"), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_lint_run(missing, "pass.demo.example", NULL, &untouched), FASTSPF_STATUS_ZONE_FILE);
    fastspf_config_free(missing);

    /* The checker's form gives the stand-alone form's reports, over the same
       zone and limits. */
    fastspf_checker *checker = NULL;
    CHECK_STATUS(fastspf_config_set_limits(config, 5, 2), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_checker_new(config, &checker), FASTSPF_STATUS_OK);
    if (checker) {
        const char *domains[] = {"pass.demo.example", "open.demo.example", "toomany.demo.example",
                                 "typo.demo.example", "fail.demo.example"};
        for (size_t i = 0; i < sizeof domains / sizeof domains[0]; i++) {
            fastspf_lint *alone = run(config, domains[i], NULL);
            fastspf_lint *shared = NULL;
            CHECK_STATUS(fastspf_checker_lint(checker, domains[i], NULL, &shared), FASTSPF_STATUS_OK);
            CHECK(shared != NULL);
            if (shared && alone && strcmp(fastspf_lint_json(alone), fastspf_lint_json(shared)) != 0) {
                fprintf(stderr, "%s: stand-alone %s\n    through the checker %s\n", domains[i],
                        fastspf_lint_json(alone), fastspf_lint_json(shared));
                check_failures++;
            }
            fastspf_lint_free(alone);
            fastspf_lint_free(shared);
        }
        /* The checker's limits apply: toomany's 11 lookups are
           measured against 5. */
        lint = NULL;
        CHECK_STATUS(fastspf_checker_lint(checker, "toomany.demo.example", NULL, &lint), FASTSPF_STATUS_OK);
        CHECK_STR(fastspf_lint_diag_code(lint, 0), "too-many-lookups");
        CHECK(strstr(fastspf_lint_diag_message(lint, 0), "receivers allow 5 ") != NULL);
        fastspf_lint_free(lint);
        /* A draft through the checker. */
        lint = NULL;
        CHECK_STATUS(fastspf_checker_lint(checker, "typo.demo.example", "v=spf1 ip4:192.0.2.0/24 -all", &lint),
                     FASTSPF_STATUS_OK);
        CHECK(fastspf_lint_errors(lint) == 0);
        fastspf_lint_free(lint);
        fastspf_checker_free(checker);
    }

    fastspf_config_free(config);
    return check_summary("lint");
}
