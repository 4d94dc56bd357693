/*
 * fastspf-milter: SPF checks (RFC 7208) for Postfix and Sendmail through the
 * milter protocol, on libfastspf.
 *
 * At MAIL FROM it checks the HELO identity and the MAIL FROM identity, then:
 *   fail       -> 550 5.7.23 <explanation>     (RFC 7372)
 *   permerror  -> 550 5.7.24 <reason>
 *   temperror  -> 451 4.7.24 <reason>
 *   otherwise  -> continue, and at end of message add a Received-SPF header.
 * A HELO identity that fails is rejected the same way (RFC 7208 2.3).
 * One line per check goes to standard error (run it under systemd or a
 * supervisor that keeps it), e.g.
 *   fastspf-milter: ip=192.0.2.10 identity=mailfrom sender=<a@b.example> result=pass mechanism=ip4:... action=accept reply=""
 *
 * Usage:
 *   fastspf-milter -p SOCKET [-r RECEIVER] [-n NAMESERVER]... [-z ZONEFILE]... [-t TIMEOUT_MS]
 * SOCKET is a libmilter socket spec: unix:/run/fastspf/milter.sock or inet:8891@127.0.0.1.
 * -z answers DNS from master files (tests and demos); -n picks resolvers
 * (default: /etc/resolv.conf).
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "fastspf.h"

static fastspf_checker *checker;

/* Per-connection state. */
struct conn {
    char ip[INET6_ADDRSTRLEN];
    char helo[256];
    char *header_mailfrom; /* Received-SPF field values to add at end of message */
    char *header_helo;
};

static struct conn *conn_of(SMFICTX *ctx) { return (struct conn *)smfi_getpriv(ctx); }

static void clear_headers(struct conn *c) {
    free(c->header_mailfrom);
    free(c->header_helo);
    c->header_mailfrom = c->header_helo = NULL;
}

/* The field value of a "Received-SPF: ..." line. */
static char *field_value(const char *field) {
    const char *colon = strchr(field, ':');
    const char *value = colon ? colon + 1 : field;
    while (*value == ' ') value++;
    return strdup(value);
}

static void log_check(const struct conn *c, const char *identity, const char *sender, const fastspf_result *r,
                      const char *action, const char *reply) {
    const char *mechanism = fastspf_result_mechanism(r);
    fprintf(stderr, "fastspf-milter: ip=%s identity=%s sender=<%s> result=%s mechanism=%s action=%s reply=\"%s\"\n",
            c->ip, identity, sender, fastspf_result_name(r), mechanism ? mechanism : "-", action, reply);
    fflush(stderr);
}

/* Turns a result into a reply; returns SMFIS_CONTINUE when the message may go on. */
static sfsistat decide(SMFICTX *ctx, const struct conn *c, const char *identity, const char *sender,
                       const fastspf_result *r) {
    const char *text = NULL;
    const char *code = NULL, *xcode = NULL;
    sfsistat verdict = SMFIS_CONTINUE;
    switch (fastspf_result_code(r)) {
    case FASTSPF_RESULT_FAIL:
        code = "550", xcode = "5.7.23", text = fastspf_result_explanation(r), verdict = SMFIS_REJECT;
        break;
    case FASTSPF_RESULT_PERMERROR:
        code = "550", xcode = "5.7.24", text = fastspf_result_reason(r), verdict = SMFIS_REJECT;
        break;
    case FASTSPF_RESULT_TEMPERROR:
        code = "451", xcode = "4.7.24", text = fastspf_result_reason(r), verdict = SMFIS_TEMPFAIL;
        break;
    default:
        break;
    }
    char reply[512] = "";
    if (code) {
        /* '%' is special in milter replies: keep the text printable and %-free. */
        snprintf(reply, sizeof reply, "SPF %s: %s", fastspf_result_name(r), text ? text : "");
        for (char *p = reply; *p; p++)
            if (*p == '%' || *p == '"' || (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) *p = '?';
        smfi_setreply(ctx, (char *)code, (char *)xcode, reply);
    }
    char logged[600];
    snprintf(logged, sizeof logged, "%s%s%s%s%s", code ? code : "", code ? " " : "", xcode ? xcode : "",
             code ? " " : "", reply);
    log_check(c, identity, sender, r,
              verdict == SMFIS_REJECT ? "reject" : verdict == SMFIS_TEMPFAIL ? "tempfail" : "accept", logged);
    return verdict;
}

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
    if (c && helo) snprintf(c->helo, sizeof c->helo, "%s", helo);
    return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv) {
    struct conn *c = conn_of(ctx);
    if (!c) return SMFIS_CONTINUE;
    clear_headers(c);
    /* argv[0] is "<address>" or "<>". */
    char sender[512] = "";
    if (argv && argv[0]) {
        const char *a = argv[0];
        size_t n = strlen(a);
        if (n >= 2 && a[0] == '<' && a[n - 1] == '>') snprintf(sender, sizeof sender, "%.*s", (int)(n - 2), a + 1);
        else snprintf(sender, sizeof sender, "%s", a);
    }
    fastspf_result *r = NULL;
    if (c->helo[0] && fastspf_checker_check_helo(checker, c->ip, c->helo, &r) == FASTSPF_STATUS_OK) {
        sfsistat v = fastspf_result_code(r) == FASTSPF_RESULT_FAIL ? decide(ctx, c, "helo", c->helo, r)
                                                                   : SMFIS_CONTINUE;
        if (v == SMFIS_CONTINUE) {
            if (fastspf_result_code(r) != FASTSPF_RESULT_FAIL) log_check(c, "helo", c->helo, r, "accept", "");
            c->header_helo = field_value(fastspf_result_received_spf(r));
        }
        fastspf_result_free(r);
        if (v != SMFIS_CONTINUE) return v;
    }
    r = NULL;
    fastspf_status s = fastspf_checker_check(checker, c->ip, sender, c->helo, &r);
    if (s != FASTSPF_STATUS_OK) {
        fprintf(stderr, "fastspf-milter: ip=%s sender=<%s> error=%s action=accept\n", c->ip, sender,
                fastspf_status_name((int)s));
        return SMFIS_CONTINUE;
    }
    sfsistat v = decide(ctx, c, "mailfrom", sender, r);
    if (v == SMFIS_CONTINUE) c->header_mailfrom = field_value(fastspf_result_received_spf(r));
    fastspf_result_free(r);
    return v;
}

static sfsistat on_eom(SMFICTX *ctx) {
    struct conn *c = conn_of(ctx);
    if (c && c->header_mailfrom) smfi_insheader(ctx, 0, "Received-SPF", c->header_mailfrom);
    if (c && c->header_helo) smfi_insheader(ctx, 0, "Received-SPF", c->header_helo);
    if (c) clear_headers(c);
    return SMFIS_CONTINUE;
}

static sfsistat on_abort(SMFICTX *ctx) {
    struct conn *c = conn_of(ctx);
    if (c) clear_headers(c);
    return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx) {
    struct conn *c = conn_of(ctx);
    if (c) {
        clear_headers(c);
        free(c);
        smfi_setpriv(ctx, NULL);
    }
    return SMFIS_CONTINUE;
}

static struct smfiDesc filter = {
    .xxfi_name = "fastspf",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_ADDHDRS,
    .xxfi_connect = on_connect,
    .xxfi_helo = on_helo,
    .xxfi_envfrom = on_envfrom,
    .xxfi_eom = on_eom,
    .xxfi_abort = on_abort,
    .xxfi_close = on_close,
};

static int usage(const char *argv0) {
    fprintf(stderr, "usage: %s -p SOCKET [-r RECEIVER] [-n NAMESERVER]... [-z ZONEFILE]... [-t TIMEOUT_MS]\n", argv0);
    return 2;
}

int main(int argc, char **argv) {
    const char *socket_spec = NULL;
    fastspf_config *config = NULL;
    if (fastspf_config_new(&config) != FASTSPF_STATUS_OK) return 1;
    int opt;
    fastspf_status s = FASTSPF_STATUS_OK;
    while ((opt = getopt(argc, argv, "p:r:n:z:t:")) != -1 && s == FASTSPF_STATUS_OK) {
        switch (opt) {
        case 'p': socket_spec = optarg; break;
        case 'r': s = fastspf_config_set_receiver(config, optarg); break;
        case 'n': s = fastspf_config_add_nameserver(config, optarg); break;
        case 'z': s = fastspf_config_add_zone_file(config, optarg); break;
        case 't': s = fastspf_config_set_timeout(config, (uint32_t)strtoul(optarg, NULL, 10), 2); break;
        default: fastspf_config_free(config); return usage(argv[0]);
        }
    }
    if (s != FASTSPF_STATUS_OK || !socket_spec) {
        if (s != FASTSPF_STATUS_OK) fprintf(stderr, "fastspf-milter: bad option: %s\n", fastspf_status_name((int)s));
        fastspf_config_free(config);
        return usage(argv[0]);
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
    fprintf(stderr, "fastspf-milter: fastspf %s listening on %s\n", fastspf_version(), socket_spec);
    int rc = smfi_main();
    fastspf_checker_free(checker);
    return rc == MI_SUCCESS ? 0 : 1;
}
