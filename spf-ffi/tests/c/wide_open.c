/* A pass says how much address space the sender's policy passes, and
 * whether that makes it wide open: `+all`, a /1, a /24, `exists:%{i}`.
 * The first check of a domain gives a lower bound (the matched term's
 * range); from the second on the policy is compiled and the count exact
 * (except where it depends on the client).
 * Usage: wide_open ZONE */
#include "fastspf.h"
#include "check.h"

struct expectation {
    const char *sender;
    uint64_t first_v4, first_v6, later_v4, later_v6;
    int later_exact, wide;
};

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s ZONE\n", argv[0]);
        return 2;
    }
    fastspf_config *config = NULL;
    fastspf_checker *checker = NULL;
    CHECK_STATUS(fastspf_config_new(&config), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_zone_file(config, argv[1]), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_checker_new(config, &checker), FASTSPF_STATUS_OK);
    fastspf_config_free(config);
    if (!checker) return check_summary("wide_open");

    static const struct expectation cases[] = {
        {"a@all.test", 1ull << 32, UINT64_MAX, 1ull << 32, UINT64_MAX, 1, 1},
        {"a@half.test", 1ull << 31, 0, 1ull << 31, 0, 1, 1},
        {"a@net.test", 256, 0, 256, 0, 1, 0},
        {"a@ex.test", 1, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int round = 0; round < 3; round++) {
            fastspf_result *result = NULL;
            CHECK_STATUS(fastspf_checker_check(checker, "192.0.2.7", cases[i].sender, "h.test", &result),
                         FASTSPF_STATUS_OK);
            if (!result) continue;
            CHECK(fastspf_result_code(result) == FASTSPF_RESULT_PASS);
            CHECK(fastspf_result_wide_open(result) == cases[i].wide);
            uint64_t v4 = round == 0 ? cases[i].first_v4 : cases[i].later_v4;
            uint64_t v6 = round == 0 ? cases[i].first_v6 : cases[i].later_v6;
            CHECK(fastspf_result_authorized_ipv4(result) == v4);
            CHECK(fastspf_result_authorized_ipv6_64s(result) == v6);
            CHECK(fastspf_result_authorized_exact(result) == (round == 0 ? 0 : cases[i].later_exact));
            CHECK((strstr(fastspf_result_received_spf(result), "wide-open policy") != NULL) == cases[i].wide);
            fastspf_result_free(result);
        }
    }
    /* Not a pass: nothing authorized, not wide open. */
    fastspf_result *result = NULL;
    CHECK_STATUS(fastspf_checker_check(checker, "198.51.100.1", "a@net.test", "h.test", &result), FASTSPF_STATUS_OK);
    if (result) {
        CHECK(fastspf_result_code(result) == FASTSPF_RESULT_FAIL);
        CHECK(fastspf_result_wide_open(result) == 0);
        CHECK(fastspf_result_authorized_ipv4(result) == 0);
        CHECK(fastspf_result_authorized_exact(result) == 0);
        fastspf_result_free(result);
    }
    CHECK(fastspf_result_wide_open(NULL) == 0 && fastspf_result_authorized_ipv4(NULL) == 0);
    fastspf_checker_free(checker);
    return check_summary("wide_open");
}
