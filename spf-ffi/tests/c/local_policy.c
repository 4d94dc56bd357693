/* Local policy through the C API: the fastspf_config_add_* and _set_* calls
 * of local policy, their errors, and fastspf_result_policy_kind/_note with
 * the header fields that name what the policy did.
 * Usage: local_policy LOCAL_POLICY_ZONE */
#include "fastspf.h"
#include "check.h"

static const char *zone;

/* A checker over the zone; `setup` adds the local policy. */
static fastspf_checker *checker_with(void (*setup)(fastspf_config *)) {
    fastspf_config *config = NULL;
    fastspf_checker *checker = NULL;
    CHECK_STATUS(fastspf_config_new(&config), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_zone_file(config, zone), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_set_receiver(config, "mx.test"), FASTSPF_STATUS_OK);
    if (setup) setup(config);
    CHECK_STATUS(fastspf_checker_new(config, &checker), FASTSPF_STATUS_OK);
    fastspf_config_free(config);
    return checker;
}

/* Checks one MAIL FROM and compares code, policy kind and note (NULL: none). */
static void expect(fastspf_checker *checker, const char *ip, const char *sender, fastspf_spf_result code,
                   const char *kind, const char *note) {
    fastspf_result *result = NULL;
    CHECK_STATUS(fastspf_checker_check(checker, ip, sender, "h.test", &result), FASTSPF_STATUS_OK);
    if (!result) return;
    if (fastspf_result_code(result) != code) {
        fprintf(stderr, "%s from %s: %s, expected %s\n", sender, ip, fastspf_result_name(result),
                fastspf_result_code_name((int)code));
        check_failures++;
    }
    if (kind) {
        CHECK_STR(fastspf_result_policy_kind(result), kind);
        CHECK_STR(fastspf_result_policy_note(result), note);
        /* The header fields name it (Received-SPF as the last key). */
        const char *spf = fastspf_result_received_spf(result);
        CHECK(spf != NULL && strstr(spf, "policy=\"") != NULL);
        CHECK(only_folds(spf));
        const char *ar = fastspf_result_authentication_results(result);
        CHECK(ar != NULL && ar[strlen(ar) - 1] == ')');
        /* Stable pointers. */
        CHECK(fastspf_result_policy_note(result) == fastspf_result_policy_note(result));
    } else {
        CHECK(fastspf_result_policy_kind(result) == NULL);
        CHECK(fastspf_result_policy_note(result) == NULL);
        CHECK(strstr(fastspf_result_received_spf(result), "policy=") == NULL);
    }
    fastspf_result_free(result);
}

static void lists(fastspf_config *config) {
    CHECK_STATUS(fastspf_config_add_skip_networks(config, "127.0.0.0/8, ::1"), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_allow_networks(config, "192.0.2.0/24"), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_allow_helo(config, "relay.fwd.test"), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_allow_ptr_domains(config, "fwd.test"), FASTSPF_STATUS_OK);
}

static void domains(fastspf_config *config) {
    CHECK_STATUS(fastspf_config_add_allow_domains(config, "fwd.test"), FASTSPF_STATUS_OK);
}

static void after(fastspf_config *config) {
    CHECK_STATUS(fastspf_config_add_trusted_forwarders(config, "fwd.test"), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_set_best_guess(config, true, NULL), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_set_wide_open_pass(config, "neutral"), FASTSPF_STATUS_OK);
}

static void errors(void) {
    fastspf_config *config = NULL;
    CHECK_STATUS(fastspf_config_new(&config), FASTSPF_STATUS_OK);
    CHECK(fastspf_config_policy_error(config) == NULL);
    CHECK_STATUS(fastspf_config_add_skip_networks(config, "10.0.0.0/33"), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STR(fastspf_config_policy_error(config),
              "\"10.0.0.0/33\" is not an IP network (address or address/prefix)");
    CHECK_STATUS(fastspf_config_add_allow_networks(config, "192.0.2.1 not-an-ip"),
                 FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(fastspf_config_add_trusted_forwarders(config, "bad..test"), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STR(fastspf_config_policy_error(config), "\"bad..test\" is not a domain name");
    CHECK_STATUS(fastspf_config_set_best_guess(config, true, "a/24 mx"), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STR(fastspf_config_policy_error(config), "best-guess record \"a/24 mx\" does not start with \"v=spf1\"");
    CHECK_STATUS(fastspf_config_set_wide_open_pass(config, "maybe"), FASTSPF_STATUS_INVALID_ARGUMENT);
    CHECK_STR(fastspf_config_policy_error(config), "wide-open pass \"maybe\" is neither \"pass\" nor \"neutral\"");
    CHECK_STATUS(fastspf_config_add_allow_domains(config, NULL), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_config_add_allow_domains(NULL, "fwd.test"), FASTSPF_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(fastspf_config_add_allow_domains(config, "\xff.test"), FASTSPF_STATUS_INVALID_UTF8);
    CHECK_STATUS(fastspf_config_set_wide_open_pass(config, "pass"), FASTSPF_STATUS_OK);
    CHECK(fastspf_config_policy_error(config) == NULL);
    CHECK_STATUS(fastspf_config_set_best_guess(config, false, NULL), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_set_best_guess(config, true, "v=spf1 a -all"), FASTSPF_STATUS_OK);
    CHECK(fastspf_config_policy_error(NULL) == NULL);
    CHECK(fastspf_result_policy_kind(NULL) == NULL);
    CHECK(fastspf_result_policy_note(NULL) == NULL);
    fastspf_config_free(config);

    /* A failed call changes nothing: "192.0.2.1" before the bad item is not
       allowed afterwards (the checker has no local policy at all). */
    CHECK_STATUS(fastspf_config_new(&config), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_zone_file(config, zone), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_allow_networks(config, "192.0.2.1 not-an-ip"),
                 FASTSPF_STATUS_INVALID_ARGUMENT);
    fastspf_checker *checker = NULL;
    CHECK_STATUS(fastspf_checker_new(config, &checker), FASTSPF_STATUS_OK);
    fastspf_config_free(config);
    expect(checker, "192.0.2.1", "a@fail.test", FASTSPF_RESULT_FAIL, NULL, NULL);
    fastspf_checker_free(checker);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s LOCAL_POLICY_ZONE\n", argv[0]);
        return 2;
    }
    zone = argv[1];

    fastspf_checker *checker = checker_with(lists);
    expect(checker, "127.0.0.1", "a@fail.test", FASTSPF_RESULT_NONE, "exempt",
           "not checked: client in a network that is not checked");
    expect(checker, "192.0.2.7", "a@fail.test", FASTSPF_RESULT_PASS, "exempt",
           "not checked: client in an allowed network");
    expect(checker, "203.0.113.9", "a@fail.test", FASTSPF_RESULT_PASS, "exempt",
           "not checked: client's validated PTR name is in fwd.test");
    expect(checker, "198.51.100.1", "a@fail.test", FASTSPF_RESULT_FAIL, NULL, NULL);
    /* A skipped client's header says why, not what a domain designates. */
    fastspf_result *result = NULL;
    CHECK_STATUS(fastspf_checker_check(checker, "::1", "a@fail.test", "h.test", &result), FASTSPF_STATUS_OK);
    CHECK_PREFIX(fastspf_result_received_spf(result),
                 "Received-SPF: none (mx.test: client in a network that is not checked)");
    fastspf_result_free(result);
    /* The HELO check too. */
    result = NULL;
    CHECK_STATUS(fastspf_checker_check_helo(checker, "192.0.2.7", "fail.test", &result), FASTSPF_STATUS_OK);
    CHECK(fastspf_result_code(result) == FASTSPF_RESULT_PASS);
    CHECK_STR(fastspf_result_policy_kind(result), "exempt");
    fastspf_result_free(result);
    fastspf_checker_free(checker);

    checker = checker_with(domains);
    expect(checker, "203.0.113.50", "a@fail.test", FASTSPF_RESULT_PASS, "exempt",
           "not checked: client authorized by the SPF policy of fwd.test");
    fastspf_checker_free(checker);

    checker = checker_with(after);
    expect(checker, "203.0.113.50", "a@fail.test", FASTSPF_RESULT_FAIL, "forwarded",
           "forwarded: trusted forwarder fwd.test authorizes the client");
    expect(checker, "198.51.100.20", "a@nospf.test", FASTSPF_RESULT_NONE, "best_guess",
           "no SPF record, best guess pass by a/24");
    expect(checker, "10.9.8.7", "a@open.test", FASTSPF_RESULT_NEUTRAL, "wide_open",
           "wide-open policy of open.test: passes 4294967296 IPv4 addresses and 100.000000 % of IPv6, "
           "pass treated as neutral");
    expect(checker, "10.9.8.7", "a@fail.test", FASTSPF_RESULT_FAIL, NULL, NULL);
    fastspf_checker_free(checker);

    /* Without local policy: nothing noted. */
    checker = checker_with(NULL);
    expect(checker, "127.0.0.1", "a@fail.test", FASTSPF_RESULT_FAIL, NULL, NULL);
    expect(checker, "10.9.8.7", "a@open.test", FASTSPF_RESULT_PASS, NULL, NULL);
    fastspf_checker_free(checker);

    errors();
    return check_summary("local_policy");
}
