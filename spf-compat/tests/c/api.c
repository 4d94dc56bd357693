/* api.c: libspf2's API on fastspf's libspf2.so.2, offline (a zone layer and
 * a DNS layer of our own, as Exim builds one), under valgrind: every result
 * and its texts, the return codes, the memory rules, and misuse (NULLs, bad
 * input) without a crash. Exits non-zero on the first failed check. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <spf2/spf.h>

static int failures;

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                   \
        }                                                                 \
    } while (0)

#define CHECK_STR(got, want)                                              \
    do {                                                                  \
        const char *g_ = (got);                                           \
        if (g_ == NULL || strcmp(g_, (want)) != 0) {                      \
            fprintf(stderr, "%s:%d: got \"%s\"\n  want \"%s\"\n", __FILE__, __LINE__, \
                    g_ ? g_ : "(null)", (want));                          \
            failures++;                                                   \
        }                                                                 \
    } while (0)

static void zone(SPF_server_t *server, const char *name, ns_type type, int herrno, const char *data)
{
    CHECK(SPF_dns_zone_add_str(server->resolver, name, type, herrno, data) == SPF_E_SUCCESS);
}

/* One MAIL FROM check: the result, return code and reason. */
static SPF_response_t *check(SPF_server_t *server, const char *ip, const char *helo, const char *from,
                             SPF_errcode_t want_err, SPF_result_t want_result, SPF_reason_t want_reason)
{
    SPF_request_t *request = SPF_request_new(server);
    SPF_response_t *response = NULL;
    CHECK(request != NULL);
    if (SPF_request_set_ipv4_str(request, ip) != SPF_E_SUCCESS)
        CHECK(SPF_request_set_ipv6_str(request, ip) == SPF_E_SUCCESS);
    CHECK(SPF_request_set_helo_dom(request, helo) == SPF_E_SUCCESS);
    CHECK(SPF_request_set_env_from(request, from) == 0);
    SPF_errcode_t err = SPF_request_query_mailfrom(request, &response);
    if (err != want_err || SPF_response_result(response) != want_result
        || SPF_response_reason(response) != want_reason) {
        fprintf(stderr, "%s from %s: err %d result %s reason %s, want %d %s %s\n", from, ip, err,
                SPF_strresult(SPF_response_result(response)), SPF_strreason(SPF_response_reason(response)),
                want_err, SPF_strresult(want_result), SPF_strreason(want_reason));
        failures++;
    }
    CHECK(SPF_response_errcode(response) == want_err);
    /* The request goes, the response stays readable (its texts are its own). */
    SPF_request_free(request);
    return response;
}

static int lookups;

/* A DNS layer of our own, built the way Exim builds its layer: answers on
 * the stack, handed over with SPF_dns_rr_dup. */
static SPF_dns_rr_t *own_lookup(SPF_dns_server_t *layer, const char *domain, ns_type type, int should_cache)
{
    (void)should_cache;
    lookups++;
    SPF_dns_rr_t srr;
    memset(&srr, 0, sizeof srr);
    srr.domain = (char *)domain;
    srr.rr_type = type;
    srr.source = layer;
    srr.ttl = 60;
    char *record[1];
    if (strcmp(domain, "own.example") == 0 && type == ns_t_txt) {
        record[0] = "v=spf1 ip4:198.51.100.0/24 -all";
        srr.rr = (SPF_dns_rr_data_t **)record;
        srr.num_rr = 1;
        srr.herrno = NETDB_SUCCESS;
    } else {
        srr.herrno = HOST_NOT_FOUND;
    }
    SPF_dns_rr_t *copy = NULL;
    CHECK(SPF_dns_rr_dup(&copy, &srr) == SPF_E_SUCCESS);
    return copy;
}

static void results(void)
{
    SPF_server_t *server = SPF_server_new(SPF_DNS_ZONE, 0);
    CHECK(server != NULL && server->resolver != NULL);
    CHECK(SPF_server_set_rec_dom(server, "mx.example.net") == SPF_E_SUCCESS);
    zone(server, "pass.example", ns_t_txt, NETDB_SUCCESS, "v=spf1 ip4:192.0.2.0/24 -all");
    zone(server, "fail.example", ns_t_txt, NETDB_SUCCESS, "v=spf1 -all exp=exp.fail.example");
    zone(server, "exp.fail.example", ns_t_txt, NETDB_SUCCESS, "%{i} may not send for %{d}");
    zone(server, "soft.example", ns_t_txt, NETDB_SUCCESS, "v=spf1 ~all");
    zone(server, "neutral.example", ns_t_txt, NETDB_SUCCESS, "v=spf1 a");
    zone(server, "neutral.example", ns_t_a, NETDB_SUCCESS, "192.0.2.200");
    zone(server, "none.example", ns_t_txt, NO_DATA, NULL);
    zone(server, "perm.example", ns_t_txt, NETDB_SUCCESS, "v=spf1 foo:bar -all");
    zone(server, "temp.example", ns_t_txt, TRY_AGAIN, NULL);
    zone(server, "mx.example", ns_t_mx, NETDB_SUCCESS, "mail.mx.example");
    zone(server, "mail.mx.example", ns_t_a, NETDB_SUCCESS, "203.0.113.25");

    SPF_response_t *r = check(server, "192.0.2.7", "mail.pass.example", "alice@pass.example", SPF_E_SUCCESS,
                              SPF_RESULT_PASS, SPF_REASON_MECH);
    CHECK_STR(SPF_response_get_header_comment(r),
              "mx.example.net: domain of pass.example designates 192.0.2.7 as permitted sender");
    CHECK_STR(SPF_response_get_received_spf(r),
              "Received-SPF: pass (mx.example.net: domain of pass.example designates 192.0.2.7 as permitted "
              "sender) client-ip=192.0.2.7; envelope-from=alice@pass.example; helo=mail.pass.example;");
    CHECK(SPF_response_get_received_spf_value(r) == SPF_response_get_received_spf(r) + strlen("Received-SPF: "));
    CHECK(SPF_response_get_smtp_comment(r) == NULL);
    CHECK(SPF_response_messages(r) == 0);
    SPF_response_free(r);

    r = check(server, "192.0.2.99", "h.example", "bob@fail.example", SPF_E_SUCCESS, SPF_RESULT_FAIL,
              SPF_REASON_MECH);
    CHECK_STR(SPF_response_get_explanation(r), "192.0.2.99 may not send for fail.example");
    CHECK_STR(SPF_response_get_smtp_comment(r), "192.0.2.99 may not send for fail.example : Reason: mechanism");
    CHECK_STR(SPF_response_get_header_comment(r),
              "mx.example.net: domain of fail.example does not designate 192.0.2.99 as permitted sender");
    SPF_response_free(r);

    r = check(server, "192.0.2.99", "h.example", "carol@soft.example", SPF_E_SUCCESS, SPF_RESULT_SOFTFAIL,
              SPF_REASON_MECH);
    CHECK_STR(SPF_response_get_header_comment(r), "mx.example.net: transitioning domain of soft.example does not "
                                                  "designate 192.0.2.99 as permitted sender");
    CHECK(strstr(SPF_response_get_smtp_comment(r), "Please see http://www.openspf.org/Why?id=carol%40soft.example")
          == SPF_response_get_smtp_comment(r));
    SPF_response_free(r);

    r = check(server, "192.0.2.99", "h.example", "dave@neutral.example", SPF_E_SUCCESS, SPF_RESULT_NEUTRAL,
              SPF_REASON_DEFAULT);
    SPF_response_free(r);
    r = check(server, "192.0.2.99", "h.example", "erin@none.example", SPF_E_NOT_SPF, SPF_RESULT_NONE,
              SPF_REASON_NONE);
    CHECK_STR(SPF_response_get_header_comment(r), "mx.example.net: domain of none.example does not provide an SPF record");
    CHECK(SPF_response_messages(r) == 1 && SPF_response_errors(r) == 1);
    SPF_response_free(r);
    r = check(server, "192.0.2.99", "h.example", "frank@perm.example", SPF_E_UNKNOWN_MECH, SPF_RESULT_PERMERROR,
              SPF_REASON_NONE);
    SPF_error_t *e = SPF_response_message(r, 0);
    CHECK(e != NULL && SPF_error_code(e) == SPF_E_UNKNOWN_MECH && SPF_error_errorp(e) == 1);
    CHECK(strstr(SPF_error_message(e), "unknown mechanism") != NULL);
    CHECK(SPF_response_message(r, 1) == NULL && SPF_response_message(r, -1) == NULL);
    CHECK(strstr(SPF_response_get_received_spf(r), "Received-SPF: permerror (") != NULL);
    SPF_response_free(r);
    r = check(server, "192.0.2.99", "h.example", "gina@temp.example", SPF_E_DNS_ERROR, SPF_RESULT_TEMPERROR,
              SPF_REASON_NONE);
    SPF_response_free(r);
    /* IPv6 clients, null senders (postmaster@helo), loopback's free ride. */
    r = check(server, "2001:db8::1", "h.example", "alice@pass.example", SPF_E_SUCCESS, SPF_RESULT_FAIL,
              SPF_REASON_MECH);
    SPF_response_free(r);
    r = check(server, "192.0.2.7", "pass.example", "", SPF_E_SUCCESS, SPF_RESULT_PASS, SPF_REASON_MECH);
    SPF_response_free(r);
    r = check(server, "127.0.0.1", "h.example", "x@perm.example", SPF_E_SUCCESS, SPF_RESULT_PASS,
              SPF_REASON_LOCALHOST);
    CHECK_STR(SPF_response_get_header_comment(r), "mx.example.net: localhost is always allowed.");
    SPF_response_free(r);

    /* HELO identity, fallback record, secondary MX, combine. */
    SPF_request_t *q = SPF_request_new(server);
    CHECK(SPF_request_set_ipv4_str(q, "203.0.113.25") == SPF_E_SUCCESS);
    CHECK(SPF_request_set_helo_dom(q, "neutral.example") == SPF_E_SUCCESS);
    CHECK_STR(q->env_from, "postmaster@neutral.example");
    CHECK(SPF_request_set_env_from(q, "@pass.example") == 0);
    CHECK_STR(q->env_from, "postmaster@pass.example");
    q->use_helo = 1;
    CHECK(SPF_request_query_mailfrom(q, &r) == SPF_E_SUCCESS && SPF_response_result(r) == SPF_RESULT_NEUTRAL);
    CHECK_STR(q->cur_dom, "neutral.example");
    SPF_response_free(r);
    q->use_helo = 0;
    r = NULL;
    CHECK(SPF_request_query_fallback(q, &r, "v=spf1 ip4:203.0.113.0/24 -all") == SPF_E_SUCCESS);
    CHECK(SPF_response_result(r) == SPF_RESULT_PASS);
    SPF_response_free(r);
    SPF_response_t *main_r = NULL, *mx_r = NULL;
    CHECK(SPF_request_query_mailfrom(q, &main_r) == SPF_E_SUCCESS && SPF_response_result(main_r) == SPF_RESULT_FAIL);
    CHECK(SPF_request_query_rcptto(q, &mx_r, "rcpt@mx.example") == SPF_E_SUCCESS);
    CHECK(SPF_response_result(mx_r) == SPF_RESULT_PASS && SPF_response_reason(mx_r) == SPF_REASON_2MX);
    CHECK_STR(SPF_response_get_header_comment(mx_r),
              "mx.example.net: message received from 203.0.113.25 which is an MX secondary for mx.example.");
    r = SPF_response_combine(main_r, mx_r);
    CHECK(r == mx_r);
    SPF_response_free(r);
    r = NULL;
    CHECK(SPF_request_query_rcptto(q, &r, "x@evil.example -all include:") == SPF_E_INVALID_OPT);
    CHECK(SPF_response_result(r) == SPF_RESULT_PERMERROR);
    SPF_response_free(r);
    SPF_request_free(q);

    /* Setters that report into a response they make. */
    SPF_response_t *errors = NULL;
    CHECK(SPF_server_set_explanation(server, "%{q}", &errors) == SPF_E_INVALID_VAR);
    CHECK(errors != NULL && SPF_response_messages(errors) >= 1);
    CHECK(SPF_server_set_explanation(server, "Go away, %{i}", &errors) == SPF_E_SUCCESS);
    SPF_response_free(errors);
    errors = NULL;
    CHECK(SPF_server_set_localpolicy(server, "a:trusted.example", 1, &errors) == SPF_E_SUCCESS);
    SPF_response_free(errors);
    CHECK(SPF_server_set_max_dns_mech(server, 5) == SPF_E_SUCCESS && SPF_server_get_max_dns_mech(server) == 5);
    r = check(server, "192.0.2.99", "h.example", "bob@soft.example", SPF_E_SUCCESS, SPF_RESULT_SOFTFAIL,
              SPF_REASON_MECH);
    CHECK_STR(SPF_response_get_explanation(r), "Go away, 192.0.2.99");
    SPF_response_free(r);
    SPF_server_free(server);
}

static void own_layer(void)
{
    SPF_dns_server_t *own = calloc(1, sizeof *own);
    own->lookup = own_lookup;
    own->name = "own";
    SPF_dns_server_t *cache = SPF_dns_cache_new(own, NULL, 0, 8);
    CHECK(cache != NULL && cache->layer_below == own);
    SPF_server_t *server = SPF_server_new_dns(cache, 0);
    SPF_response_t *r = check(server, "198.51.100.1", "h.example", "alice@own.example", SPF_E_SUCCESS,
                              SPF_RESULT_PASS, SPF_REASON_MECH);
    SPF_response_free(r);
    r = check(server, "198.51.100.1", "h.example", "alice@other.example", SPF_E_NOT_SPF, SPF_RESULT_NONE,
              SPF_REASON_NONE);
    SPF_response_free(r);
    CHECK(lookups == 2);
    /* Frees the cache layer and stops at ours (its destroy is NULL). */
    SPF_server_free(server);
    free(own);
}

static void records(void)
{
    SPF_record_t *record = NULL;
    SPF_response_t *response = SPF_response_new(NULL);
    CHECK(SPF_record_compile(NULL, response, &record, "v=spf1 a:%{d} -all exp=why.%{d} moo=cow") == SPF_E_SUCCESS);
    CHECK(record->version == 1 && record->num_mech == 2 && record->num_mod == 2);
    char *buf = NULL;
    size_t len = 0;
    CHECK(SPF_record_stringify(record, &buf, &len) == SPF_E_SUCCESS);
    CHECK_STR(buf, "v=spf1 a:%{d} -all exp=why.%{d} moo=cow");
    SPF_request_t *q = SPF_request_new(NULL);
    CHECK(SPF_request_set_ipv4_str(q, "192.0.2.1") == SPF_E_SUCCESS);
    CHECK(SPF_request_set_env_from(q, "alice@example.com") == 0);
    CHECK(SPF_record_find_mod_value(NULL, q, response, record, "exp", &buf, &len) == SPF_E_SUCCESS);
    CHECK_STR(buf, "why.example.com");
    CHECK(SPF_record_find_mod_value(NULL, q, response, record, "nope", &buf, &len) == SPF_E_MOD_NOT_FOUND);
    SPF_macro_t *mac = NULL;
    CHECK(SPF_record_compile_macro(NULL, response, &mac, "%{l} from %{i}") == SPF_E_SUCCESS);
    CHECK(SPF_record_expand_data(NULL, q, response, (SPF_data_t *)(mac + 1), mac->macro_len, &buf, &len)
          == SPF_E_SUCCESS);
    CHECK_STR(buf, "alice from 192.0.2.1");
    free(buf);
    SPF_macro_free(mac);
    SPF_record_free(record);
    record = NULL;
    CHECK(SPF_record_compile(NULL, response, &record, "v=spf1 ip4:300.0.0.1") != SPF_E_SUCCESS);
    CHECK(record == NULL && SPF_response_errors(response) == 1);
    SPF_request_free(q);
    SPF_response_free(response);
}

static void dns_answers(void)
{
    SPF_dns_rr_t *rr = SPF_dns_rr_new_init(NULL, "example.com", ns_t_a, 300, NETDB_SUCCESS);
    CHECK(SPF_dns_rr_buf_realloc(rr, 0, sizeof(struct in_addr)) == SPF_E_SUCCESS);
    inet_pton(AF_INET, "192.0.2.1", &rr->rr[0]->a);
    rr->num_rr = 1;
    SPF_dns_rr_t *copy = NULL;
    CHECK(SPF_dns_rr_dup(&copy, rr) == SPF_E_SUCCESS);
    CHECK(copy->num_rr == 1 && copy->rr[0]->a.s_addr == rr->rr[0]->a.s_addr && copy->herrno == NETDB_SUCCESS);
    CHECK_STR(copy->domain, "example.com");
    SPF_dns_rr_free(copy);
    SPF_dns_rr_free(rr);
    SPF_dns_server_t *zone = SPF_dns_zone_new(NULL, "test", 0);
    CHECK(SPF_dns_zone_add_str(zone, "*.example.org", ns_t_any, HOST_NOT_FOUND, NULL) == SPF_E_SUCCESS);
    CHECK(SPF_dns_zone_add_str(zone, "x.example", ns_t_a, NETDB_SUCCESS, "not an address") == SPF_E_INVALID_IP4);
    struct in_addr a;
    inet_pton(AF_INET, "192.0.2.1", &a);
    rr = SPF_dns_rlookup(zone, a, ns_t_ptr, 1);
    CHECK_STR(rr->domain, "1.2.0.192.in-addr.arpa");
    CHECK(rr->herrno == HOST_NOT_FOUND);
    SPF_dns_rr_free(rr);
    rr = SPF_dns_lookup(zone, "a.b.example.org", ns_t_mx, 1);
    CHECK(rr->herrno == HOST_NOT_FOUND);
    SPF_dns_rr_free(rr);
    SPF_dns_free(zone);
}

static void misuse(void)
{
    SPF_response_t *r = NULL;
    CHECK(SPF_request_query_mailfrom(NULL, &r) == SPF_E_NOT_CONFIG);
    CHECK(SPF_response_result(r) == SPF_RESULT_PERMERROR);
    SPF_response_free(r);
    CHECK(SPF_request_query_mailfrom(NULL, NULL) == SPF_E_INVALID_OPT);
    SPF_request_t *q = SPF_request_new(NULL);
    r = NULL;
    CHECK(SPF_request_query_mailfrom(q, &r) == SPF_E_NOT_CONFIG); /* no client address */
    SPF_response_free(r);
    CHECK(SPF_request_set_ipv4_str(q, "300.1.2.3") == SPF_E_INVALID_IP4);
    CHECK(SPF_request_set_ipv6_str(q, "not:an:address::x") == SPF_E_INVALID_IP6);
    CHECK(SPF_request_set_helo_dom(q, NULL) == SPF_E_INVALID_OPT);
    CHECK(SPF_request_set_env_from(NULL, "a@b.example") == SPF_E_NOT_CONFIG);
    char big[5000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(SPF_request_set_env_from(q, big) == SPF_E_BIG_STRING);
    CHECK(SPF_request_set_ipv4_str(q, "192.0.2.1") == SPF_E_SUCCESS);
    CHECK(SPF_request_set_env_from(q, "a@b.example") == 0);
    r = NULL;
    CHECK(SPF_request_query_mailfrom(q, &r) == SPF_E_NOT_CONFIG); /* no server */
    SPF_response_free(r);
    SPF_request_free(q);
    CHECK(SPF_response_result(NULL) == SPF_RESULT_INVALID);
    CHECK(SPF_response_get_received_spf(NULL) == NULL);
    CHECK(SPF_response_messages(NULL) == 0 && SPF_response_message(NULL, 0) == NULL);
    CHECK(SPF_error_message(NULL) != NULL && SPF_error_errorp(NULL) == 0);
    CHECK(SPF_server_set_rec_dom(NULL, "x") == SPF_E_NOT_CONFIG);
    CHECK(SPF_server_new((SPF_server_dnstype_t)42, 0) == NULL);
    CHECK(SPF_dns_zone_add_str(NULL, "a", ns_t_a, 0, "1.2.3.4") == SPF_E_NOT_CONFIG);
    CHECK(SPF_dns_rr_dup(NULL, NULL) == SPF_E_INVALID_OPT);
    SPF_server_free(NULL);
    SPF_request_free(NULL);
    SPF_response_free(NULL);
    SPF_record_free(NULL);
    SPF_macro_free(NULL);
    SPF_dns_free(NULL);
    SPF_dns_rr_free(NULL);
    SPF_get_lib_version(NULL, NULL, NULL);
    CHECK_STR(SPF_strresult((SPF_result_t)99), "(error: unknown result)");
}

int main(void)
{
    results();
    own_layer();
    records();
    dns_answers();
    misuse();
    if (failures) {
        fprintf(stderr, "api: %d checks failed\n", failures);
        return 1;
    }
    printf("api: all checks passed\n");
    return 0;
}
