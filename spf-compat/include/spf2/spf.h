/*
 * spf.h: the libspf2 1.2.x C ABI as fastspf's libspf2.so.2 implements it.
 *
 * Programs built against Debian's libspf2-dev headers run unchanged on this
 * library: the names, the enum values, the layouts of every structure a
 * caller may touch, and the memory rules below are libspf2's. This header
 * declares the same things in one file (the other spf2/ headers include it),
 * so programs can also be built against it.
 *
 * Memory rules (libspf2's):
 *   - Objects come from their _new function and go back to their _free
 *     function: SPF_server_new[_dns]/SPF_server_free, SPF_request_new/
 *     SPF_request_free, SPF_response_free for every response a query or a
 *     setter hands out, SPF_dns_rr_free for every answer of SPF_dns_lookup,
 *     SPF_record_free, SPF_macro_free. Freeing NULL does nothing.
 *   - A query stores a NEW response in *responsep without freeing what was
 *     there: free the old one first.
 *   - SPF_server_set_explanation and SPF_server_set_localpolicy make a
 *     response when *responsep is NULL, to report errors into; free it.
 *   - Strings a response returns belong to it (valid until it is freed).
 *   - Buffers passed as (char **bufp, size_t *buflenp) are NULL/0 or
 *     malloc()ed; the library grows them with realloc(); the caller frees
 *     them with free().
 *   - SPF_server_free frees its DNS stack down to the first layer whose
 *     destroy function is NULL (a layer the caller owns).
 *   - Everything is allocated with the C library's malloc/calloc.
 *
 * Threads: a server may be used by several threads at once; a request and
 * its responses by one thread at a time. Real DNS goes through one
 * process-wide resolver and cache (rebuilt in a child after fork()).
 *
 * Where this library differs from libspf2 1.2.10 (by design):
 *   - Evaluation is RFC 7208's (fastspf's check_host()): the 10-term DNS
 *     limit, the void-lookup limit (2), permerror for syntax errors anywhere
 *     in a record, no type SPF (99) queries, temperror for any DNS error
 *     other than NXDOMAIN, a 20-second bound on one check.
 *   - Every text a response carries is sanitized whatever
 *     SPF_server_set_sanitize says: no control character can reach a
 *     header; in the comments, characters that could close the comment or
 *     pose as key=value become '?'; envelope-from and helo values that are
 *     not dot-atoms are quoted-strings (RFC 7208 section 9.1).
 *   - Every result fills the response (result, reason, comments,
 *     Received-SPF): libspf2 leaves them unset on some errors. The return
 *     codes are libspf2's: SPF_E_SUCCESS when a mechanism or the end of the
 *     record decided, SPF_E_NOT_SPF for none, SPF_E_DNS_ERROR for
 *     temperror, the record's error for permerror (fastspf's reason text is
 *     in the response's messages).
 *   - NULL arguments and misuse return error codes (SPF_E_NOT_CONFIG for a
 *     missing object, SPF_E_INVALID_OPT for a missing argument,
 *     SPF_E_BIG_STRING for input over 4096 bytes) where libspf2 aborts.
 *   - DNS layers: SPF_dns_resolv_new is fastspf's resolver
 *     (/etc/resolv.conf, hickory) with fastspf's shared cache;
 *     SPF_dns_cache_new and SPF_dns_null_new pass questions down (the cache
 *     is in the resolv layer); SPF_dns_zone_new is an in-memory zone. A
 *     caller's own layer (as Exim builds) is called through its lookup
 *     function. The get_spf, get_exp and add_cache hooks of a layer are not
 *     called. SPF_dns_test_new is not provided.
 *   - SPF_record_t's header fields are libspf2's; its buffers hold
 *     fastspf's form of the record (mech_first: the record's text), not
 *     libspf2's byte code. SPF_macro_t's data can only be expanded by this
 *     library (SPF_record_expand_data).
 *   - The local policy is compiled and kept but, as in libspf2 1.2.10
 *     (where no request turns use_local_policy on), not applied.
 *   - The debug flag is kept; no debug output is printed. The logging
 *     functions (SPF_error_handler, SPF_debugf, ...) and the internal
 *     SPF_response_add_error* / SPF_i_done / SPF_record_interpret /
 *     SPF_record_print / SPF_server_get_record / SPF_request_get_exp /
 *     SPF_dns_get_client_dom / SPF_request_get_client_dom are not provided.
 */

#ifndef FASTSPF_SPF2_COMPAT_H
#define FASTSPF_SPF2_COMPAT_H

/* The guards of libspf2's own headers, so that a program mixing them with
 * this one does not see two definitions. */
#define INC_SPF
#define INC_SPF_SERVER
#define INC_SPF_REQUEST
#define INC_SPF_RESPONSE
#define INC_SPF_RECORD
#define INC_SPF_DNS
#define INC_SPF_DNS_RR
#define INC_SPF_DNS_CACHE
#define INC_SPF_DNS_RESOLV
#define INC_SPF_DNS_ZONE
#define INC_SPF_DNS_NULL
#define INC_SPF_VERSION

#include <stddef.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <netdb.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPF_LIB_VERSION_MAJOR 1
#define SPF_LIB_VERSION_MINOR 2
#define SPF_LIB_VERSION_PATCH 10

#define SPF_VERSION 1
#define SPF_VER_STR "v=spf1"

#define SPF_C_ERR_MSG_SIZE    (2*80)
#define SPF_SMTP_COMMENT_SIZE (4*80)
#define SPF_RECEIVED_SPF_SIZE (6*80)
#define SPF_SYSLOG_SIZE       (10*80)

#define SPF_DEFAULT_MAX_DNS_MECH 10
#define SPF_DEFAULT_MAX_DNS_PTR  10
#define SPF_DEFAULT_MAX_DNS_MX   10
#define SPF_DEFAULT_SANITIZE     1
#define SPF_DEFAULT_WHITELIST    "include:spf.trusted-forwarder.org"
#define SPF_EXP_MOD_NAME         "exp-text"
#define SPF_DEFAULT_EXP "Please%_see%_http://www.openspf.org/Why?id=%{S}&ip=%{C}&receiver=%{R}"

#ifndef SPF_MAX_DNS_MECH
#define SPF_MAX_DNS_MECH 10
#endif
#ifndef SPF_MAX_DNS_PTR
#define SPF_MAX_DNS_PTR 10
#endif
#ifndef SPF_MAX_DNS_MX
#define SPF_MAX_DNS_MX 10
#endif

#define SPF_MAX_STR_LEN  255
#define SPF_MAX_MECH_LEN 511
#define SPF_MAX_MOD_LEN  511

#if ! HAVE_DECL_NS_T_SPF
#define ns_t_spf 99
#endif

typedef struct SPF_server_struct SPF_server_t;
typedef struct SPF_request_struct SPF_request_t;
typedef struct SPF_response_struct SPF_response_t;
typedef struct SPF_record_struct SPF_record_t;
typedef struct SPF_macro_struct SPF_macro_t;
typedef struct SPF_dns_server_struct SPF_dns_server_t;
typedef int SPF_dns_stat_t;

/* ---- Results, reasons, errors ------------------------------------------ */

typedef enum SPF_result_enum {
    SPF_RESULT_INVALID = 0, /* no result (yet) */
    SPF_RESULT_NEUTRAL,
    SPF_RESULT_PASS,
    SPF_RESULT_FAIL,
    SPF_RESULT_SOFTFAIL,
    SPF_RESULT_NONE,
    SPF_RESULT_TEMPERROR,
    SPF_RESULT_PERMERROR
} SPF_result_t;

/* What decided the result. */
typedef enum SPF_reason_enum {
    SPF_REASON_NONE = 0,
    SPF_REASON_FAILURE,
    SPF_REASON_LOCALHOST,    /* a loopback client: always pass, never checked */
    SPF_REASON_LOCAL_POLICY,
    SPF_REASON_MECH,         /* a mechanism matched */
    SPF_REASON_DEFAULT,      /* the end of the record was reached */
    SPF_REASON_2MX           /* the client is an MX host of the recipient */
} SPF_reason_t;

typedef enum SPF_errcode_t {
    SPF_E_SUCCESS = 0,
    SPF_E_NO_MEMORY,
    SPF_E_NOT_SPF,
    SPF_E_SYNTAX,
    SPF_E_MOD_W_PREF,
    SPF_E_INVALID_CHAR,
    SPF_E_UNKNOWN_MECH,
    SPF_E_INVALID_OPT,
    SPF_E_INVALID_CIDR,
    SPF_E_MISSING_OPT,
    SPF_E_INTERNAL_ERROR,
    SPF_E_INVALID_ESC,
    SPF_E_INVALID_VAR,
    SPF_E_BIG_SUBDOM,
    SPF_E_INVALID_DELIM,
    SPF_E_BIG_STRING,
    SPF_E_BIG_MECH,
    SPF_E_BIG_MOD,
    SPF_E_BIG_DNS,
    SPF_E_INVALID_IP4,
    SPF_E_INVALID_IP6,
    SPF_E_INVALID_PREFIX,
    SPF_E_RESULT_UNKNOWN,
    SPF_E_UNINIT_VAR,
    SPF_E_MOD_NOT_FOUND,
    SPF_E_NOT_CONFIG,
    SPF_E_DNS_ERROR,
    SPF_E_BAD_HOST_IP,
    SPF_E_BAD_HOST_TLD,
    SPF_E_MECH_AFTER_ALL,
    SPF_E_INCLUDE_RETURNED_NONE,
    SPF_E_RECURSIVE,
    SPF_E_MULTIPLE_RECORDS
} SPF_errcode_t;

/* One message of a response. */
typedef struct SPF_error_struct {
    SPF_errcode_t code;
    char *message;  /* owned by the response */
    char is_error;  /* 1 error, 0 warning */
} SPF_error_t;

/* ---- DNS --------------------------------------------------------------- */

/* One record of an answer; entries are malloc()ed larger than the union. */
typedef union {
    struct in_addr a;
    char ptr[1];
    char mx[1];
    char txt[1];
    struct in6_addr aaaa;
} SPF_dns_rr_data_t;

/* An answer as DNS layers pass it around. herrno is an h_errno value
 * (NETDB_SUCCESS, HOST_NOT_FOUND, NO_DATA, TRY_AGAIN, NO_RECOVERY). */
typedef struct SPF_dns_rr_struct {
    char *domain;
    size_t domain_buf_len;
    ns_type rr_type;
    int num_rr;
    SPF_dns_rr_data_t **rr;
    size_t *rr_buf_len;
    int rr_buf_num;
    time_t ttl;
    time_t utc_ttl;
    SPF_dns_stat_t herrno;
    void *hook;
    SPF_dns_server_t *source;
} SPF_dns_rr_t;

typedef void (*SPF_dns_destroy_t)(SPF_dns_server_t *spf_dns_server);
typedef SPF_dns_rr_t *(*SPF_dns_lookup_t)(SPF_dns_server_t *spf_dns_server,
                                          const char *domain, ns_type ns_type, int should_cache);
typedef SPF_errcode_t (*SPF_dns_get_spf_t)(SPF_server_t *spf_server, SPF_request_t *spf_request,
                                           SPF_response_t *spf_response, SPF_record_t **spf_recordp);
typedef SPF_errcode_t (*SPF_dns_get_exp_t)(SPF_server_t *spf_server, const char *domain,
                                           char **buf, size_t *buf_len);
typedef int (*SPF_dns_add_cache_t)(SPF_server_t *spf_server, SPF_dns_rr_t spfrr);

/* A DNS layer. A caller may build its own (lookup set, destroy NULL if it
 * keeps ownership) and put this library's layers above it. */
struct SPF_dns_server_struct {
    SPF_dns_destroy_t destroy;
    SPF_dns_lookup_t lookup;
    SPF_dns_get_spf_t get_spf;      /* not called by this library */
    SPF_dns_get_exp_t get_exp;      /* not called by this library */
    SPF_dns_add_cache_t add_cache;  /* not called by this library */
    SPF_dns_server_t *layer_below;
    const char *name;
    int debug;
    void *hook;
};

SPF_dns_server_t *SPF_dns_resolv_new(SPF_dns_server_t *layer_below, const char *name, int debug);
SPF_dns_server_t *SPF_dns_cache_new(SPF_dns_server_t *layer_below, const char *name, int debug,
                                    int cache_bits);
SPF_dns_server_t *SPF_dns_null_new(SPF_dns_server_t *layer_below, const char *name, int debug);
SPF_dns_server_t *SPF_dns_zone_new(SPF_dns_server_t *layer_below, const char *name, int debug);
/* data: a dotted quad (A), an IPv6 address (AAAA), a name (MX, PTR) or text
 * (TXT, SPF); ignored when herrno is not NETDB_SUCCESS. Wildcards
 * "*.example.com" and ns_t_any entries as in libspf2. */
SPF_errcode_t SPF_dns_zone_add_str(SPF_dns_server_t *spf_dns_server, const char *domain,
                                   ns_type rr_type, SPF_dns_stat_t herrno, const char *data);
void SPF_dns_cache_set_ttl(SPF_dns_server_t *spf_dns_server, time_t min_ttl, time_t err_ttl,
                           time_t txt_ttl, time_t rdns_ttl);          /* accepted, ignored */
void SPF_dns_set_conserve_cache(SPF_dns_server_t *spf_dns_server, int conserve_cache); /* ignored */
void SPF_dns_free(SPF_dns_server_t *spf_dns_server);
SPF_dns_rr_t *SPF_dns_lookup(SPF_dns_server_t *spf_dns_server, const char *domain,
                             ns_type rr_type, int should_cache);
SPF_dns_rr_t *SPF_dns_rlookup(SPF_dns_server_t *spf_dns_server, struct in_addr ipv4,
                              ns_type rr_type, int should_cache);
SPF_dns_rr_t *SPF_dns_rlookup6(SPF_dns_server_t *spf_dns_server, struct in6_addr ipv6,
                               ns_type rr_type, int should_cache);

SPF_dns_rr_t *SPF_dns_rr_new(void);
void SPF_dns_rr_free(SPF_dns_rr_t *spfrr);
SPF_dns_rr_t *SPF_dns_rr_new_init(SPF_dns_server_t *spf_dns_server, const char *domain,
                                  ns_type rr_type, int ttl, SPF_dns_stat_t herrno);
SPF_dns_rr_t *SPF_dns_rr_new_nxdomain(SPF_dns_server_t *spf_dns_server, const char *domain);
SPF_errcode_t SPF_dns_rr_buf_realloc(SPF_dns_rr_t *spfrr, int idx, size_t len);
/* A deep copy; records are copied by rr_type (4 bytes, 16 bytes, or a string). */
SPF_errcode_t SPF_dns_rr_dup(SPF_dns_rr_t **dstp, SPF_dns_rr_t *src);

/* ---- Records and macros ------------------------------------------------ */

/* libspf2's byte-code types, declared for source compatibility; this
 * library's records do not hold byte code (see SPF_record_struct). */
#define PARM_LP_FROM     0
#define PARM_ENV_FROM    1
#define PARM_DP_FROM     2
#define PARM_CUR_DOM     3
#define PARM_CLIENT_IP   4
#define PARM_CLIENT_IP_P 5
#define PARM_TIME        6
#define PARM_CLIENT_DOM  7
#define PARM_CLIENT_VER  8
#define PARM_HELO_DOM    9
#define PARM_REC_DOM    10
#define PARM_CIDR       11
#define PARM_STRING     12

typedef struct SPF_data_str_struct {
    unsigned char parm_type;
    unsigned char len;
    unsigned char __unused0;
    unsigned char __unused1;
} SPF_data_str_t;

typedef struct SPF_data_var_struct {
    unsigned char parm_type;
    unsigned char num_rhs;
    unsigned short rev : 1;
    unsigned short url_encode : 1;
    unsigned short delim_dot : 1;
    unsigned short delim_dash : 1;
    unsigned short delim_plus : 1;
    unsigned short delim_equal : 1;
    unsigned short delim_bar : 1;
    unsigned short delim_under : 1;
} SPF_data_var_t;

typedef struct SPF_data_cidr_struct {
    unsigned char parm_type;
    unsigned char ipv4;
    unsigned char ipv6;
    unsigned char __unused0;
} SPF_data_cidr_t;

typedef union SPF_data_union {
    SPF_data_var_t dv;
    SPF_data_str_t ds;
    SPF_data_cidr_t dc;
} SPF_data_t;

#define PREFIX_PASS     SPF_RESULT_PASS
#define PREFIX_FAIL     SPF_RESULT_FAIL
#define PREFIX_SOFTFAIL SPF_RESULT_SOFTFAIL
#define PREFIX_NEUTRAL  SPF_RESULT_NEUTRAL
#define PREFIX_UNKNOWN  SPF_RESULT_PERMERROR

#define MECH_UNKNOWN  0
#define MECH_A        1
#define MECH_MX       2
#define MECH_PTR      3
#define MECH_INCLUDE  4
#define MECH_IP4      5
#define MECH_IP6      6
#define MECH_EXISTS   7
#define MECH_ALL      8
#define MECH_REDIRECT 9

typedef struct SPF_mech_struct {
    unsigned char prefix_type;
    unsigned char mech_type;
    unsigned short mech_len;
} SPF_mech_t;

typedef struct SPF_mod_struct {
    unsigned short name_len;
    unsigned short data_len;
} SPF_mod_t;

/* Header fields as libspf2 fills them; buffers hold fastspf's form. */
struct SPF_record_struct {
    SPF_server_t *spf_server;
    unsigned char version;
    unsigned char num_mech;
    unsigned char num_mod;
    unsigned char num_dns_mech;
    SPF_mech_t *mech_first;  /* the record's text, NUL-terminated (this library) */
    size_t mech_size;
    size_t mech_len;
    SPF_mod_t *mod_first;    /* NULL (this library) */
    size_t mod_size;
    size_t mod_len;
};

/* macro_len bytes of data follow the header. */
struct SPF_macro_struct {
    size_t macro_len;
};

SPF_record_t *SPF_record_new(SPF_server_t *spf_server, const char *text);
void SPF_record_free(SPF_record_t *rp);
void SPF_macro_free(SPF_macro_t *mac);
SPF_errcode_t SPF_record_compile(SPF_server_t *spf_server, SPF_response_t *spf_response,
                                 SPF_record_t **spf_recordp, const char *record);
SPF_errcode_t SPF_record_compile_macro(SPF_server_t *spf_server, SPF_response_t *spf_response,
                                       SPF_macro_t **spf_macrop, const char *record);
SPF_errcode_t SPF_record_find_mod_value(SPF_server_t *spf_server, SPF_request_t *spf_request,
                                        SPF_response_t *spf_response, SPF_record_t *spf_record,
                                        const char *mod_name, char **bufp, size_t *buflenp);
/* data/data_len: the data of a macro from SPF_record_compile_macro. */
SPF_errcode_t SPF_record_expand_data(SPF_server_t *spf_server, SPF_request_t *spf_request,
                                     SPF_response_t *spf_response, SPF_data_t *data, size_t data_len,
                                     char **bufp, size_t *buflenp);
SPF_errcode_t SPF_record_stringify(SPF_record_t *spf_record, char **bufp, size_t *buflenp);

/* ---- Servers ----------------------------------------------------------- */

struct SPF_server_struct {
    SPF_dns_server_t *resolver;
    SPF_record_t *local_policy;
    SPF_macro_t *explanation;
    char *rec_dom;          /* %{r} and the comments; default: the host name */
    int max_dns_mech;
    int max_dns_ptr;
    int max_dns_mx;
    int sanitize;           /* kept; output is always sanitized */
    int debug;              /* kept; no debug output */
    int destroy_resolver;
};

typedef enum SPF_server_dnstype_enum {
    SPF_DNS_RESOLV, SPF_DNS_CACHE, SPF_DNS_ZONE
} SPF_server_dnstype_t;

SPF_server_t *SPF_server_new(SPF_server_dnstype_t dnstype, int debug);
SPF_server_t *SPF_server_new_dns(SPF_dns_server_t *dns, int debug);
void SPF_server_free(SPF_server_t *sp);
SPF_errcode_t SPF_server_set_rec_dom(SPF_server_t *sp, const char *dom);
SPF_errcode_t SPF_server_set_sanitize(SPF_server_t *sp, int sanitize);
SPF_errcode_t SPF_server_set_explanation(SPF_server_t *sp, const char *exp,
                                         SPF_response_t **spf_responsep);
SPF_errcode_t SPF_server_set_localpolicy(SPF_server_t *sp, const char *policy,
                                         int use_default_whitelist, SPF_response_t **spf_responsep);
/* Limits are used as given: above 10 breaks RFC 7208 section 4.6.4. */
SPF_errcode_t SPF_server_set_max_dns_mech(SPF_server_t *spf_server, int n);
int SPF_server_get_max_dns_mech(SPF_server_t *spf_server);
SPF_errcode_t SPF_server_set_max_dns_ptr(SPF_server_t *spf_server, int n);
int SPF_server_get_max_dns_ptr(SPF_server_t *spf_server);
SPF_errcode_t SPF_server_set_max_dns_mx(SPF_server_t *spf_server, int n);
int SPF_server_get_max_dns_mx(SPF_server_t *spf_server);

/* ---- Requests ---------------------------------------------------------- */

struct SPF_request_struct {
    SPF_server_t *spf_server;   /* may be set directly before a query */
    int client_ver;             /* AF_INET, AF_INET6 or AF_UNSPEC */
    struct in_addr ipv4;
    struct in6_addr ipv6;
    char *env_from;             /* local@domain, as checked */
    char *helo_dom;
    char *rcpt_to_dom;
    char use_local_policy;      /* ignored (see above) */
    char use_helo;              /* 1: queries check the HELO identity */
    char *env_from_lp;
    char *env_from_dp;
    char *client_dom;
    const char *cur_dom;        /* the domain of the last query */
};

SPF_request_t *SPF_request_new(SPF_server_t *spf_server);
void SPF_request_free(SPF_request_t *sr);
SPF_errcode_t SPF_request_set_ipv4(SPF_request_t *sr, struct in_addr addr);
SPF_errcode_t SPF_request_set_ipv6(SPF_request_t *sr, struct in6_addr addr);
SPF_errcode_t SPF_request_set_ipv4_str(SPF_request_t *sr, const char *astr);
SPF_errcode_t SPF_request_set_ipv6_str(SPF_request_t *sr, const char *astr);
/* Also sets the envelope sender (postmaster@dom) while none is set. */
SPF_errcode_t SPF_request_set_helo_dom(SPF_request_t *sr, const char *dom);
/* "" means the HELO name; no local part means postmaster. 0 on success. */
int SPF_request_set_env_from(SPF_request_t *sr, const char *from);
const char *SPF_request_get_rec_dom(SPF_request_t *sr);
int SPF_request_is_loopback(SPF_request_t *sr);
/* The queries: *spf_responsep gets a new response (free it). Loopback
 * clients pass without a check (SPF_REASON_LOCALHOST), as in libspf2. */
SPF_errcode_t SPF_request_query_mailfrom(SPF_request_t *spf_request, SPF_response_t **spf_responsep);
/* Evaluates `record` as if the request's domain published it. */
SPF_errcode_t SPF_request_query_fallback(SPF_request_t *spf_request, SPF_response_t **spf_responsep,
                                         const char *record);
/* Whether the client is an MX host of rcpt_to's domain: pass
 * (SPF_REASON_2MX) or neutral; permerror for a domain that is not a plain
 * host name. */
SPF_errcode_t SPF_request_query_rcptto(SPF_request_t *spf_request, SPF_response_t **spf_responsep,
                                       const char *rcpt_to);

/* ---- Responses --------------------------------------------------------- */

struct SPF_response_struct {
    SPF_request_t *spf_request;
    SPF_record_t *spf_record_exp;   /* NULL (this library) */
    SPF_result_t result;
    SPF_reason_t reason;
    SPF_errcode_t err;
    char *received_spf;             /* "Received-SPF: pass (...) client-ip=...; envelope-from=...; helo=...;" */
    char *received_spf_value;       /* points into received_spf, after "Received-SPF: " */
    char *header_comment;           /* "<rec_dom>: domain of <d> designates <ip> as permitted sender" */
    char *smtp_comment;             /* "<explanation> : Reason: <reason>" (fail, softfail, neutral) */
    char *explanation;              /* fail, softfail, neutral */
    SPF_error_t *errors;
    unsigned short errors_size;
    unsigned short errors_length;
    unsigned short num_errors;
    int num_dns_mech;
};

SPF_response_t *SPF_response_new(SPF_request_t *spf_request);
void SPF_response_free(SPF_response_t *rp);
/* If r2mx passed, frees main and returns r2mx; else frees r2mx, returns main. */
SPF_response_t *SPF_response_combine(SPF_response_t *main, SPF_response_t *r2mx);
SPF_result_t SPF_response_result(SPF_response_t *rp);
SPF_reason_t SPF_response_reason(SPF_response_t *rp);
SPF_errcode_t SPF_response_errcode(SPF_response_t *rp);
const char *SPF_response_get_received_spf(SPF_response_t *rp);
const char *SPF_response_get_received_spf_value(SPF_response_t *rp);
const char *SPF_response_get_header_comment(SPF_response_t *rp);
const char *SPF_response_get_smtp_comment(SPF_response_t *rp);
const char *SPF_response_get_explanation(SPF_response_t *rp);
int SPF_response_messages(SPF_response_t *rp);  /* errors + warnings */
int SPF_response_errors(SPF_response_t *rp);
int SPF_response_warnings(SPF_response_t *rp);
SPF_error_t *SPF_response_message(SPF_response_t *rp, int idx);  /* NULL out of range */
SPF_errcode_t SPF_error_code(SPF_error_t *err);
const char *SPF_error_message(SPF_error_t *err);
char SPF_error_errorp(SPF_error_t *err);

/* ---- Names and version (static strings) -------------------------------- */

const char *SPF_strerror(SPF_errcode_t spf_err);
const char *SPF_strresult(SPF_result_t result);
const char *SPF_strreason(SPF_reason_t reason);
const char *SPF_strrrtype(ns_type rr_type);
/* 1.2.10: the libspf2 release whose ABI this is. */
void SPF_get_lib_version(int *major, int *minor, int *patch);

#ifdef __cplusplus
}
#endif

#endif /* FASTSPF_SPF2_COMPAT_H */
