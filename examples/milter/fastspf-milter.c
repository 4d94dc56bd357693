/*
 * fastspf-milter: SPF checks (RFC 7208) for Postfix and Sendmail through the
 * milter protocol, on libfastspf.
 *
 * At MAIL FROM it checks the HELO identity and the MAIL FROM identity at
 * the same time (the MAIL FROM check runs on the library's threads while
 * this thread checks HELO), then:
 *   HELO fail            -> 550 5.7.23 SPF fail for the HELO identity NAME: <explanation>
 *   MAIL FROM fail       -> 550 5.7.23 SPF fail: <explanation>     (RFC 7372)
 *   MAIL FROM permerror  -> 550 5.7.24 SPF permerror: <reason>
 *   MAIL FROM temperror  -> 451 4.7.24 SPF temperror: <reason>     (or accept, -e accept)
 *   otherwise            -> continue; at end of message it adds a
 *                           Received-SPF field per identity and one
 *                           Authentication-Results field (RFC 8601).
 * Local policy (-s, -a, -H, -D, -P, -f, -g, -w: the library's, see -h):
 * an exempt client gets pass or none and is never rejected; a MAIL FROM
 * fail that a trusted forwarder explains is accepted (forwarded mail), the
 * Received-SPF field saying so; the log line names what the policy did
 * (policy=exempt|forwarded|best_guess|wide_open).
 * HELO results other than fail do not decide (RFC 7208 §2.3 makes the HELO
 * check optional; a HELO temperror must not refuse mail whose MAIL FROM
 * passes). Both checks end within the -d deadline; the MAIL FROM reply
 * waits at most that plus WAIT_GRACE_MS.
 *
 * Headers: Authentication-Results fields that carry this host's
 * authserv-id are deleted (RFC 8601 §5: they are forgeries when they come
 * from outside); those of other authserv-ids and every incoming
 * Received-SPF field are kept (they record earlier hops; ours are added
 * above them, so a reader trusts only the topmost, which is ours).
 *
 * One line per check goes to standard error (run it under systemd or a
 * supervisor that keeps it), e.g.
 *   fastspf-milter: ip=192.0.2.10 identity=mailfrom sender=<a@b.example> result=pass mechanism=ip4:... action=accept reply=""
 *
 * Usage: see usage() below, or fastspf-milter -h.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "fastspf.h"

/* The -d default: RFC 7208 §4.6.4 asks receivers to allow a check at least
 * 20 s; Postfix gives a milter 30 s per command (milter_command_timeout),
 * so 20 s plus WAIT_GRACE_MS leaves Postfix 9 s to spare. */
#define DEFAULT_DEADLINE_MS 20000u
/* -d bounds: below 100 ms even a resolver on the same host may not answer;
 * above 5 minutes the SMTP client gives up first (RFC 5321 §4.5.3.2.2:
 * MAIL command timeout 5 minutes). */
#define MIN_DEADLINE_MS 100u
#define MAX_DEADLINE_MS 300000u
/* How long past the library's own deadline the MAIL FROM reply waits for
 * the check's callback before giving up on it (it normally comes at the
 * deadline with a temperror). */
#define WAIT_GRACE_MS 1000u
/* RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets, code and CRLF
 * included. */
#define REPLY_LINE_MAX 512u
/* RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with CRLF, so
 * a HELO argument from a conforming client has at most 512 - 7 octets
 * ("EHLO " and CRLF). A longer one is not checked, nor passed on as %{h}. */
#define HELO_MAX 505u
/* RFC 5321 §4.5.3.1.3 allows a reverse-path of 256 octets; this allows four
 * times that (long SRS and VERP addresses) and answers 501 5.1.7 past it. */
#define SENDER_MAX 1024u
/* Authentication-Results fields with this host's authserv-id that one
 * message may carry (each is deleted at end of message). Past it the
 * message is refused (550 5.7.1): it is a forgery, and every index costs
 * memory. */
#define MAX_FORGED_AR 64u
/* An authserv-id (a domain name in practice; RFC 1035 names have at most
 * 255 octets). */
#define AUTHSERV_ID_MAX 255u
/* Longest field of a log line (sender, HELO, reply), after escaping. */
#define LOG_FIELD_MAX 1024u

static fastspf_checker *checker;
static char authserv_id[AUTHSERV_ID_MAX + 1];
static unsigned deadline_ms = DEFAULT_DEADLINE_MS;
static bool accept_temperror; /* -e accept */

/* ---- checks in flight (the checker is freed only when none is left) ---- */

static pthread_mutex_t inflight_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t inflight_cond; /* CLOCK_MONOTONIC, set up in main */
static unsigned inflight;

static void inflight_begin(void) {
    pthread_mutex_lock(&inflight_lock);
    inflight++;
    pthread_mutex_unlock(&inflight_lock);
}

static void inflight_end(void) {
    pthread_mutex_lock(&inflight_lock);
    if (--inflight == 0) pthread_cond_broadcast(&inflight_cond);
    pthread_mutex_unlock(&inflight_lock);
}

static struct timespec monotonic_after(unsigned ms) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) t.tv_sec++, t.tv_nsec -= 1000000000L;
    return t;
}

static int monotonic_cond_init(pthread_cond_t *cond) {
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) return -1;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0) rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

/* ---- one asynchronous MAIL FROM check ------------------------------------
 * Shared by the milter thread that waits for it and the library thread that
 * calls back; whichever lets go last frees it (and an unclaimed result). */

struct pending {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;
    bool done;
    fastspf_status status;
    fastspf_result *result;
};

static void pending_free(struct pending *p) {
    fastspf_result_free(p->result);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static struct pending *pending_new(void) {
    struct pending *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    if (monotonic_cond_init(&p->cond) != 0) {
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    p->refs = 2; /* the waiter and the callback */
    return p;
}

/* Drops one reference; the last one frees. */
static void pending_release(struct pending *p) {
    pthread_mutex_lock(&p->lock);
    bool last = --p->refs == 0;
    pthread_mutex_unlock(&p->lock);
    if (last) pending_free(p);
}

/* The fastspf_callback: runs on a library thread; only stores and signals,
 * never blocks (the lock is held by the waiter only between its waits). */
static void on_mailfrom_result(void *user_data, fastspf_status status, fastspf_result *result) {
    struct pending *p = user_data;
    pthread_mutex_lock(&p->lock);
    p->status = status;
    p->result = result;
    p->done = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pending_release(p);
    inflight_end();
}

/* Waits until the check called back or `until` passed; on true, *status
 * and *result (owned by the caller) are set. Releases the waiter's
 * reference either way. */
static bool pending_wait(struct pending *p, const struct timespec *until, fastspf_status *status,
                         fastspf_result **result) {
    pthread_mutex_lock(&p->lock);
    while (!p->done)
        if (pthread_cond_timedwait(&p->cond, &p->lock, until) == ETIMEDOUT) break;
    bool done = p->done;
    if (done) {
        *status = p->status;
        *result = p->result;
        p->result = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    pending_release(p);
    return done;
}

/* ---- text: replies, logs, header values ---------------------------------- */

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static bool ascii_equal_nocase(const char *a, size_t alen, const char *b) {
    size_t blen = strlen(b);
    if (alen != blen) return false;
    for (size_t i = 0; i < alen; i++)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

/*
 * A reply for smfi_setreply, built to fit one SMTP reply line. libmilter
 * reads the text as a format: a single '%' makes it drop the text, so '%'
 * is doubled. CR or LF would make smfi_setreply fail and must never reach
 * an SMTP reply: they and the other control characters become spaces;
 * RFC 5321 §4.2 reply text is printable US-ASCII, so other bytes become
 * '?'. The rest ('"', '\', ...) is kept. When the line would pass
 * REPLY_LINE_MAX octets (the doubled '%' counts once: it is one octet on
 * the wire), the text ends with "..." at the limit.
 */
struct reply {
    char wire[REPLY_LINE_MAX + 1];     /* the text as it goes on the wire */
    char text[2 * REPLY_LINE_MAX + 1]; /* the same for smfi_setreply ('%' doubled) */
    size_t len;                        /* octets in wire */
    size_t room;                       /* octets the text may take */
    bool cut;
};

static void reply_init(struct reply *r, const char *code, const char *xcode) {
    r->wire[0] = r->text[0] = '\0';
    r->len = 0;
    r->cut = false;
    /* "550 5.7.23 " + text + CRLF */
    r->room = REPLY_LINE_MAX - (strlen(code) + 1 + strlen(xcode) + 1) - 2;
}

static void reply_add(struct reply *r, const char *s) {
    for (; s && *s && !r->cut; s++) {
        unsigned char c = (unsigned char)*s;
        if (r->len == r->room) {
            r->cut = true;
            break;
        }
        r->wire[r->len++] = c < 0x20 || c == 0x7f ? ' ' : c > 0x7e ? '?' : (char)c;
    }
    r->wire[r->len] = '\0';
}

/* Ends the text ("..." in its last three octets if it did not fit) and
 * makes the smfi_setreply form. */
static void reply_finish(struct reply *r) {
    if (r->cut) {
        r->len = r->room - 3;
        memcpy(r->wire + r->len, "...", 4);
        r->len += 3;
    }
    size_t n = 0;
    for (size_t i = 0; i < r->len; i++) {
        r->text[n++] = r->wire[i];
        if (r->wire[i] == '%') r->text[n++] = '%';
    }
    r->text[n] = '\0';
}

/* A log field: '"' and '\' escaped, control and non-ASCII bytes as \xNN,
 * at most LOG_FIELD_MAX octets (then "..."). */
static void log_escape(char *out, size_t cap, const char *s) {
    size_t n = 0;
    bool cut = false;
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        char buf[5];
        size_t k;
        if (c == '"' || c == '\\') buf[0] = '\\', buf[1] = (char)c, k = 2;
        else if (c < 0x20 || c >= 0x7f) k = (size_t)snprintf(buf, sizeof buf, "\\x%02x", c);
        else buf[0] = (char)c, k = 1;
        if (n + k + 3 >= cap || n + k > LOG_FIELD_MAX) {
            cut = true;
            break;
        }
        memcpy(out + n, buf, k);
        n += k;
    }
    if (cut) memcpy(out + n, "...", 3), n += 3;
    out[n] = '\0';
}

/* A header field value for libmilter: folded lines use LF + whitespace
 * (the MTA adds the CR), so CRLF becomes LF and a lone CR goes. */
static char *header_text(const char *value) {
    char *out = malloc(strlen(value) + 1);
    if (!out) return NULL;
    size_t n = 0;
    for (const char *p = value; *p; p++)
        if (*p != '\r') out[n++] = *p;
    out[n] = '\0';
    return out;
}

/* The field value of a "Received-SPF: ..." line. */
static char *field_value(const char *field) {
    if (!field) return NULL;
    const char *colon = strchr(field, ':');
    const char *value = colon ? colon + 1 : field;
    while (*value == ' ') value++;
    return header_text(value);
}

/* ---- Authentication-Results: whose is it? (RFC 8601 §2.2, §5) ------------ */

/* Skips CFWS (RFC 5322 §3.2.2: whitespace, folding, nested comments with
 * quoted-pairs). NULL when a comment does not end. */
static const char *skip_cfws(const char *p) {
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (*p != '(') return p;
        unsigned depth = 0;
        do {
            if (*p == '\0') return NULL;
            if (*p == '\\' && p[1]) p++;
            else if (*p == '(') depth++;
            else if (*p == ')') depth--;
            p++;
        } while (depth > 0);
    }
}

/* RFC 2045 token characters (bytes past ASCII are taken as part of a
 * UTF-8 token, RFC 6532, so they never end one early). */
static bool is_token_char(unsigned char c) {
    return c > 0x20 && c != 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* Whether an Authentication-Results field value starts with `id` as its
 * authserv-id: the RFC 2045 value (a token or a quoted-string) after CFWS,
 * compared case-insensitively (RFC 8601 §2.5: it names a host or ADMD, a
 * domain name in practice), a final root dot ignored. */
static bool ar_is_ours(const char *value, const char *id) {
    const char *p = skip_cfws(value);
    if (!p) return false;
    char got[AUTHSERV_ID_MAX + 2];
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p != '"'; p++) {
            if (*p == '\0') return false;
            if (*p == '\r' || *p == '\n') continue; /* folding inside the quotes */
            if (*p == '\\' && p[1]) p++;
            if (n == sizeof got - 1) return false;
            got[n++] = *p;
        }
    } else {
        for (; is_token_char((unsigned char)*p); p++) {
            if (n == sizeof got - 1) return false;
            got[n++] = *p;
        }
    }
    if (n > 1 && got[n - 1] == '.') n--;
    return n > 0 && ascii_equal_nocase(got, n, id);
}

/* ---- per connection ---------------------------------------------------- */

struct conn {
    char ip[INET6_ADDRSTRLEN];
    char *helo; /* NULL: none given, or longer than HELO_MAX */
    bool helo_too_long;
    /* For the current message: */
    char *rspf_mailfrom, *rspf_helo; /* Received-SPF values to add */
    char *ar_mailfrom, *ar_helo;     /* Authentication-Results spf entries */
    unsigned ar_seen;                /* Authentication-Results fields so far */
    unsigned forged_count;
    int forged[MAX_FORGED_AR]; /* their 1-based indexes, to delete at eom */
};

static struct conn *conn_of(SMFICTX *ctx) { return (struct conn *)smfi_getpriv(ctx); }

static void clear_message(struct conn *c) {
    free(c->rspf_mailfrom);
    free(c->rspf_helo);
    free(c->ar_mailfrom);
    free(c->ar_helo);
    c->rspf_mailfrom = c->rspf_helo = c->ar_mailfrom = c->ar_helo = NULL;
    c->ar_seen = c->forged_count = 0;
}

static void log_check(const struct conn *c, const char *identity, const char *sender, const fastspf_result *r,
                      const char *action, const char *reply) {
    char esender[LOG_FIELD_MAX + 4], ereply[LOG_FIELD_MAX + 4], emech[LOG_FIELD_MAX + 4];
    const char *mechanism = r ? fastspf_result_mechanism(r) : NULL;
    log_escape(esender, sizeof esender, sender);
    log_escape(ereply, sizeof ereply, reply);
    log_escape(emech, sizeof emech, mechanism ? mechanism : "-");
    const char *kind = r ? fastspf_result_policy_kind(r) : NULL;
    fprintf(stderr, "fastspf-milter: ip=%s identity=%s sender=<%s> result=%s mechanism=%s%s%s action=%s reply=\"%s\"\n",
            c->ip, identity, esender, r ? fastspf_result_name(r) : "timeout", emech, kind ? " policy=" : "",
            kind ? kind : "", action, ereply);
    fflush(stderr);
}

/* Sets an SMTP reply and logs it. `lead` and `name` form the text before
 * ": " + `detail` (e.g. "SPF fail for the HELO identity" + " " + name). */
static void set_reply(SMFICTX *ctx, const char *code, const char *xcode, const char *lead, const char *name,
                      const char *detail, char *logged, size_t logged_cap) {
    struct reply r;
    reply_init(&r, code, xcode);
    reply_add(&r, lead);
    if (name) {
        reply_add(&r, " ");
        reply_add(&r, name);
    }
    reply_add(&r, ": ");
    reply_add(&r, detail ? detail : "");
    reply_finish(&r);
    smfi_setreply(ctx, (char *)code, (char *)xcode, r.text);
    snprintf(logged, logged_cap, "%s %s %s", code, xcode, r.wire); /* as on the wire */
}

enum identity { IDENTITY_HELO, IDENTITY_MAILFROM };

/* Turns a result into a reply; returns SMFIS_CONTINUE when the message may go on. */
static sfsistat decide(SMFICTX *ctx, const struct conn *c, enum identity identity, const char *sender,
                       const fastspf_result *r) {
    const char *code = NULL, *xcode = NULL, *detail = NULL;
    sfsistat verdict = SMFIS_CONTINUE;
    switch (fastspf_result_code(r)) {
    case FASTSPF_RESULT_FAIL: {
        /* A fail a trusted forwarder explains is forwarded mail: accepted. */
        const char *kind = fastspf_result_policy_kind(r);
        if (kind && strcmp(kind, "forwarded") == 0) break;
        code = "550", xcode = "5.7.23", detail = fastspf_result_explanation(r), verdict = SMFIS_REJECT;
        break;
    }
    case FASTSPF_RESULT_PERMERROR:
        if (identity == IDENTITY_MAILFROM)
            code = "550", xcode = "5.7.24", detail = fastspf_result_reason(r), verdict = SMFIS_REJECT;
        break;
    case FASTSPF_RESULT_TEMPERROR:
        if (identity == IDENTITY_MAILFROM && !accept_temperror)
            code = "451", xcode = "4.7.24", detail = fastspf_result_reason(r), verdict = SMFIS_TEMPFAIL;
        break;
    default:
        break;
    }
    char logged[2 * REPLY_LINE_MAX] = "";
    if (code) {
        char lead[64];
        snprintf(lead, sizeof lead, "SPF %s%s", fastspf_result_name(r),
                 identity == IDENTITY_HELO ? " for the HELO identity" : "");
        set_reply(ctx, code, xcode, lead, identity == IDENTITY_HELO ? sender : NULL, detail, logged, sizeof logged);
    }
    log_check(c, identity == IDENTITY_HELO ? "helo" : "mailfrom", sender, r,
              verdict == SMFIS_REJECT ? "reject" : verdict == SMFIS_TEMPFAIL ? "tempfail" : "accept", logged);
    return verdict;
}

/* Keeps what end-of-message adds for a result that let the message go on. */
static void keep_headers(struct conn *c, enum identity identity, const fastspf_result *r) {
    char **rspf = identity == IDENTITY_HELO ? &c->rspf_helo : &c->rspf_mailfrom;
    char **ar = identity == IDENTITY_HELO ? &c->ar_helo : &c->ar_mailfrom;
    free(*rspf);
    free(*ar);
    *rspf = field_value(fastspf_result_received_spf(r));
    const char *entry = fastspf_result_authentication_results(r);
    *ar = entry ? header_text(entry) : NULL;
}

/* ---- milter callbacks ---------------------------------------------------- */

static sfsistat on_connect(SMFICTX *ctx, char *hostname, struct sockaddr *addr) {
    (void)hostname;
    struct conn *c = calloc(1, sizeof *c);
    if (!c) return SMFIS_TEMPFAIL;
    if (addr && addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)addr)->sin_addr, c->ip, sizeof c->ip);
    else if (addr && addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)addr)->sin6_addr, c->ip, sizeof c->ip);
    smfi_setpriv(ctx, c);
    /* Local connections (no IP) are not checked. */
    return c->ip[0] ? SMFIS_CONTINUE : SMFIS_ACCEPT;
}

static sfsistat on_helo(SMFICTX *ctx, char *helo) {
    struct conn *c = conn_of(ctx);
    if (!c) return SMFIS_CONTINUE;
    free(c->helo);
    c->helo = NULL;
    c->helo_too_long = helo && strlen(helo) > HELO_MAX;
    if (helo && *helo && !c->helo_too_long) c->helo = strdup(helo);
    return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv) {
    struct conn *c = conn_of(ctx);
    if (!c) return SMFIS_CONTINUE;
    clear_message(c);
    /* argv[0] is "<address>" or "<>". */
    const char *a = argv && argv[0] ? argv[0] : "";
    size_t n = strlen(a);
    if (n >= 2 && a[0] == '<' && a[n - 1] == '>') a++, n -= 2;
    if (n > SENDER_MAX) {
        smfi_setreply(ctx, "501", "5.1.7", "sender address too long for an SPF check");
        fprintf(stderr, "fastspf-milter: ip=%s identity=mailfrom sender-length=%zu action=reject\n", c->ip, n);
        return SMFIS_REJECT;
    }
    char sender[SENDER_MAX + 1];
    memcpy(sender, a, n);
    sender[n] = '\0';
    if (c->helo_too_long)
        fprintf(stderr, "fastspf-milter: ip=%s identity=helo not checked: longer than %u octets\n", c->ip, HELO_MAX);

    /* Start the MAIL FROM check on the library's threads... */
    struct timespec until = monotonic_after(deadline_ms + WAIT_GRACE_MS);
    struct pending *p = pending_new();
    fastspf_status s = FASTSPF_STATUS_SETUP;
    if (p) {
        inflight_begin();
        s = fastspf_checker_check_async(checker, c->ip, sender, c->helo, on_mailfrom_result, p);
        if (s != FASTSPF_STATUS_OK) {
            inflight_end();
            pending_free(p); /* no callback will come */
            p = NULL;
        }
    }
    if (!p) {
        char esender[LOG_FIELD_MAX + 4];
        log_escape(esender, sizeof esender, sender);
        fprintf(stderr, "fastspf-milter: ip=%s identity=mailfrom sender=<%s> error=%s action=accept\n", c->ip,
                esender, fastspf_status_name((int)s));
    }

    /* ...while this thread checks HELO (bounded by the same deadline). */
    if (c->helo) {
        fastspf_result *h = NULL;
        if (fastspf_checker_check_helo(checker, c->ip, c->helo, &h) == FASTSPF_STATUS_OK) {
            sfsistat v = decide(ctx, c, IDENTITY_HELO, c->helo, h);
            if (v != SMFIS_CONTINUE) {
                /* A HELO fail decides (RFC 7208 §2.3); the MAIL FROM
                 * result, whenever it comes, is freed by its callback. */
                fastspf_result_free(h);
                if (p) pending_release(p);
                return v;
            }
            keep_headers(c, IDENTITY_HELO, h);
            fastspf_result_free(h);
        }
    }
    if (!p) return SMFIS_CONTINUE;

    fastspf_result *r = NULL;
    if (!pending_wait(p, &until, &s, &r)) {
        /* The library missed its own deadline: answer as for a temperror. */
        char logged[2 * REPLY_LINE_MAX] = "";
        char detail[128];
        snprintf(detail, sizeof detail, "no result within %u ms", deadline_ms + WAIT_GRACE_MS);
        if (!accept_temperror) set_reply(ctx, "451", "4.7.24", "SPF temperror", NULL, detail, logged, sizeof logged);
        log_check(c, "mailfrom", sender, NULL, accept_temperror ? "accept" : "tempfail", logged);
        return accept_temperror ? SMFIS_CONTINUE : SMFIS_TEMPFAIL;
    }
    if (s != FASTSPF_STATUS_OK) {
        fprintf(stderr, "fastspf-milter: ip=%s identity=mailfrom error=%s action=accept\n", c->ip,
                fastspf_status_name((int)s));
        fastspf_result_free(r);
        return SMFIS_CONTINUE;
    }
    sfsistat v = decide(ctx, c, IDENTITY_MAILFROM, sender, r);
    if (v == SMFIS_CONTINUE) keep_headers(c, IDENTITY_MAILFROM, r);
    fastspf_result_free(r);
    return v;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value) {
    struct conn *c = conn_of(ctx);
    if (!c || !name || !ascii_equal_nocase(name, strlen(name), "Authentication-Results")) return SMFIS_CONTINUE;
    if (c->ar_seen < (unsigned)INT32_MAX) c->ar_seen++;
    if (!value || !ar_is_ours(value, authserv_id)) return SMFIS_CONTINUE;
    if (c->forged_count == MAX_FORGED_AR) {
        char text[AUTHSERV_ID_MAX + 128];
        snprintf(text, sizeof text, "more than %u Authentication-Results fields claim to be from %s", MAX_FORGED_AR,
                 authserv_id);
        smfi_setreply(ctx, "550", "5.7.1", text);
        fprintf(stderr, "fastspf-milter: ip=%s forged Authentication-Results fields: more than %u action=reject\n",
                c->ip, MAX_FORGED_AR);
        return SMFIS_REJECT;
    }
    c->forged[c->forged_count++] = (int)c->ar_seen;
    return SMFIS_CONTINUE;
}

static sfsistat on_eom(SMFICTX *ctx) {
    struct conn *c = conn_of(ctx);
    if (!c) return SMFIS_CONTINUE;
    /* Last first, so that no deletion moves an index still to come. */
    for (unsigned i = c->forged_count; i > 0; i--)
        if (smfi_chgheader(ctx, "Authentication-Results", c->forged[i - 1], NULL) != MI_SUCCESS)
            fprintf(stderr, "fastspf-milter: ip=%s cannot delete Authentication-Results #%d\n", c->ip,
                    c->forged[i - 1]);
    if (c->forged_count) {
        /* "#1 #3 ...": at most MAX_FORGED_AR indexes of at most 11 octets. */
        char list[MAX_FORGED_AR * 12 + 1];
        size_t n = 0;
        for (unsigned i = 0; i < c->forged_count; i++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s#%d", i ? " " : "", c->forged[i]);
        fprintf(stderr, "fastspf-milter: ip=%s deleted %u Authentication-Results field(s) claiming to be from %s: %s\n",
                c->ip, c->forged_count, authserv_id, list);
    }
    if (c->rspf_mailfrom) smfi_insheader(ctx, 0, "Received-SPF", c->rspf_mailfrom);
    if (c->rspf_helo) smfi_insheader(ctx, 0, "Received-SPF", c->rspf_helo);
    if (c->ar_mailfrom || c->ar_helo) {
        /* "<authserv-id>;\n\t<mailfrom entry>;\n\t<helo entry>", one entry a line. */
        size_t len = strlen(authserv_id) + (c->ar_mailfrom ? strlen(c->ar_mailfrom) + 3 : 0) +
                     (c->ar_helo ? strlen(c->ar_helo) + 3 : 0) + 1;
        char *value = malloc(len);
        if (value) {
            snprintf(value, len, "%s%s%s%s%s", authserv_id, c->ar_mailfrom ? ";\n\t" : "",
                     c->ar_mailfrom ? c->ar_mailfrom : "", c->ar_helo ? ";\n\t" : "", c->ar_helo ? c->ar_helo : "");
            smfi_insheader(ctx, 0, "Authentication-Results", value);
            free(value);
        }
    }
    clear_message(c);
    return SMFIS_CONTINUE;
}

static sfsistat on_abort(SMFICTX *ctx) {
    struct conn *c = conn_of(ctx);
    if (c) clear_message(c);
    return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx) {
    struct conn *c = conn_of(ctx);
    if (c) {
        clear_message(c);
        free(c->helo);
        free(c);
        smfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

static struct smfiDesc filter = {
    .xxfi_name = "fastspf",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS,
    .xxfi_connect = on_connect,
    .xxfi_helo = on_helo,
    .xxfi_envfrom = on_envfrom,
    .xxfi_header = on_header,
    .xxfi_eom = on_eom,
    .xxfi_abort = on_abort,
    .xxfi_close = on_close,
};

/* ---- options -------------------------------------------------------------- */

static void usage(FILE *out, const char *argv0) {
    fprintf(out,
            "usage: %s -p SOCKET [-r RECEIVER] [-i AUTHSERV_ID] [-n NAMESERVER]... [-z ZONEFILE]...\n"
            "       [-t TIMEOUT_MS] [-d DEADLINE_MS] [-e tempfail|accept] [-s|-a NETWORKS]...\n"
            "       [-H|-D|-P|-f DOMAINS]... [-g] [-w pass|neutral] [-h]\n"
            "\n"
            "  -p SOCKET       where to listen: unix:/run/fastspf/milter.sock or inet:8891@127.0.0.1\n"
            "  -r RECEIVER     this host's name, for %%{r} and Received-SPF's receiver= (default: gethostname())\n"
            "  -i AUTHSERV_ID  the authserv-id of Authentication-Results (default: RECEIVER); incoming\n"
            "                  Authentication-Results fields with it are deleted\n"
            "  -n NAMESERVER   a recursive resolver, IP or IP:PORT or [IPv6]:PORT; repeatable\n"
            "                  (default: the resolvers of /etc/resolv.conf)\n"
            "  -z ZONEFILE     answer DNS from this RFC 1035 master file instead (tests, demos); repeatable\n"
            "  -t TIMEOUT_MS   wait for each DNS answer at most this long, 2 tries (default 5000)\n"
            "  -d DEADLINE_MS  each check's deadline (default %u, RFC 7208 4.6.4); the MAIL FROM reply\n"
            "                  comes within DEADLINE_MS + %u ms. Keep that below Postfix's\n"
            "                  milter_command_timeout (30 s). %u to %u.\n"
            "  -e ACTION       on a MAIL FROM temperror or a missed deadline: tempfail (451 4.7.24,\n"
            "                  the default) or accept\n"
            "local policy (lists are comma- or space-separated; each option repeatable):\n"
            "  -s NETWORKS     clients never checked (no DNS; result none), e.g. 127.0.0.0/8,::1\n"
            "  -a NETWORKS     clients treated as authorized (no DNS; result pass)\n"
            "  -H NAMES        HELO names that, when they resolve to the client, make it authorized\n"
            "  -D DOMAINS      domains whose SPF policy, when it passes the client, makes it authorized\n"
            "  -P DOMAINS      domains that, holding the client's validated PTR name, make it authorized\n"
            "  -f DOMAINS      trusted forwarders: a MAIL FROM fail they explain is accepted as forwarded\n"
            "  -g              best guess (v=spf1 a/24 mx/24 ptr) for domains without SPF, noted only\n"
            "  -w pass|neutral what a pass from a wide-open policy becomes (default pass)\n"
            "  -h              this help\n",
            argv0, DEFAULT_DEADLINE_MS, WAIT_GRACE_MS, MIN_DEADLINE_MS, MAX_DEADLINE_MS);
}

/* A decimal number in [min, max], or false. */
static bool parse_number(const char *text, unsigned long min, unsigned long max, unsigned long *out) {
    if (!text || *text < '0' || *text > '9') return false;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || *end || v < min || v > max) return false;
    *out = v;
    return true;
}

/* An authserv-id this milter can write unquoted: an RFC 2045 token. */
static bool valid_authserv_id(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > AUTHSERV_ID_MAX) return false;
    for (const char *p = id; *p; p++)
        if (!is_token_char((unsigned char)*p) || (unsigned char)*p > 0x7e) return false;
    return true;
}

int main(int argc, char **argv) {
    const char *socket_spec = NULL, *receiver = NULL, *id = NULL;
    fastspf_config *config = NULL;
    if (fastspf_config_new(&config) != FASTSPF_STATUS_OK) return 1;
    int opt;
    fastspf_status s = FASTSPF_STATUS_OK;
    unsigned long number;
    const char *bad = NULL;
    while ((opt = getopt(argc, argv, "p:r:i:n:z:t:d:e:s:a:H:D:P:f:gw:h")) != -1 && s == FASTSPF_STATUS_OK && !bad) {
        switch (opt) {
        case 'p': socket_spec = optarg; break;
        case 'r': receiver = optarg; break;
        case 'i': id = optarg; break;
        case 'n': s = fastspf_config_add_nameserver(config, optarg); break;
        case 'z': s = fastspf_config_add_zone_file(config, optarg); break;
        case 't':
            if (!parse_number(optarg, 1, 3600000, &number)) bad = "-t wants milliseconds, 1 to 3600000";
            else s = fastspf_config_set_timeout(config, (uint32_t)number, 2);
            break;
        case 'd':
            if (!parse_number(optarg, MIN_DEADLINE_MS, MAX_DEADLINE_MS, &number))
                bad = "-d wants milliseconds in the allowed range";
            else deadline_ms = (unsigned)number;
            break;
        case 'e':
            if (strcmp(optarg, "accept") == 0) accept_temperror = true;
            else if (strcmp(optarg, "tempfail") == 0) accept_temperror = false;
            else bad = "-e wants tempfail or accept";
            break;
        case 's': s = fastspf_config_add_skip_networks(config, optarg); break;
        case 'a': s = fastspf_config_add_allow_networks(config, optarg); break;
        case 'H': s = fastspf_config_add_allow_helo(config, optarg); break;
        case 'D': s = fastspf_config_add_allow_domains(config, optarg); break;
        case 'P': s = fastspf_config_add_allow_ptr_domains(config, optarg); break;
        case 'f': s = fastspf_config_add_trusted_forwarders(config, optarg); break;
        case 'g': s = fastspf_config_set_best_guess(config, true, NULL); break;
        case 'w': s = fastspf_config_set_wide_open_pass(config, optarg); break;
        case 'h':
            fastspf_config_free(config);
            usage(stdout, argv[0]);
            return 0;
        default:
            fastspf_config_free(config);
            usage(stderr, argv[0]);
            return 2;
        }
    }
    char host[AUTHSERV_ID_MAX + 1] = "";
    if (!bad && s == FASTSPF_STATUS_OK) {
        if (!receiver) {
            if (gethostname(host, sizeof host - 1) == 0 && host[0]) receiver = host;
            else bad = "no -r and no host name";
        }
        if (receiver) s = fastspf_config_set_receiver(config, receiver);
        if (!id) id = receiver;
        if (!bad && id && !valid_authserv_id(id)) bad = "the authserv-id (-i, or -r) must be an RFC 2045 token";
        else if (id) snprintf(authserv_id, sizeof authserv_id, "%s", id);
    }
    if (!bad && s == FASTSPF_STATUS_OK) s = fastspf_config_set_deadline(config, deadline_ms);
    if (!bad && s == FASTSPF_STATUS_OK && !socket_spec) bad = "-p SOCKET is required";
    if (s != FASTSPF_STATUS_OK || bad || optind != argc) {
        const char *why = fastspf_config_policy_error(config);
        if (s != FASTSPF_STATUS_OK && why) fprintf(stderr, "fastspf-milter: bad local policy option: %s\n", why);
        else if (s != FASTSPF_STATUS_OK) fprintf(stderr, "fastspf-milter: bad option: %s\n", fastspf_status_name((int)s));
        else if (bad) fprintf(stderr, "fastspf-milter: %s\n", bad);
        else fprintf(stderr, "fastspf-milter: unexpected argument %s\n", argv[optind]);
        fastspf_config_free(config);
        usage(stderr, argv[0]);
        return 2;
    }
    if (monotonic_cond_init(&inflight_cond) != 0) {
        fastspf_config_free(config);
        return 1;
    }
    s = fastspf_checker_new(config, &checker);
    fastspf_config_free(config);
    if (s != FASTSPF_STATUS_OK) {
        fprintf(stderr, "fastspf-milter: cannot create the checker: %s\n", fastspf_status_name((int)s));
        return 1;
    }
    if (smfi_setconn((char *)socket_spec) == MI_FAILURE || smfi_register(filter) == MI_FAILURE) {
        fprintf(stderr, "fastspf-milter: cannot set up the milter socket %s\n", socket_spec);
        fastspf_checker_free(checker);
        return 1;
    }
    fprintf(stderr, "fastspf-milter: fastspf %s listening on %s (authserv-id %s, deadline %u ms)\n",
            fastspf_version(), socket_spec, authserv_id, deadline_ms);
    int rc = smfi_main();
    /* Checks abandoned at their waiter's deadline still call back; the
     * checker may be freed only after the last one (they end by the
     * library's deadline). Past a generous bound, exit without freeing. */
    struct timespec until = monotonic_after(2 * (deadline_ms + WAIT_GRACE_MS));
    bool idle = true;
    pthread_mutex_lock(&inflight_lock);
    while (inflight > 0)
        if (pthread_cond_timedwait(&inflight_cond, &inflight_lock, &until) == ETIMEDOUT) {
            idle = inflight == 0;
            break;
        }
    pthread_mutex_unlock(&inflight_lock);
    if (idle) fastspf_checker_free(checker);
    return rc == MI_SUCCESS ? 0 : 1;
}
