/* fastspf_checker_lint goes through the checker's DNS and cache: after a
 * lint, a check of the same domain sends no query (the DNS server is even
 * gone by then), which fastspf_checker_cache_stats shows. The test starts
 * its own DNS server (spf-testdns on loopback) and stops it after the lint.
 * Usage: checker_cache SPF_TESTDNS ZONE */
#define _POSIX_C_SOURCE 200809L
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fastspf.h"
#include "check.h"

static pid_t server = -1;
static int server_stdin = -1;

/* Starts spf-testdns serving `zone` on a free loopback port; writes its
   address to `addr`. Returns 0 on success. */
static int start_server(const char *testdns, const char *zone, char *addr, size_t addr_len) {
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0) return -1;
    if (pipe(from_child) != 0) return -1;
    server = fork();
    if (server < 0) return -1;
    if (server == 0) {
        dup2(to_child[0], STDIN_FILENO);
        dup2(from_child[1], STDOUT_FILENO);
        close(to_child[0]);
        close(to_child[1]);
        close(from_child[0]);
        close(from_child[1]);
        execl(testdns, testdns, "--zone", zone, "--listen", "127.0.0.1:0", (char *)NULL);
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    server_stdin = to_child[1];
    FILE *out = fdopen(from_child[0], "r");
    if (!out) return -1;
    char line[256];
    int ok = fgets(line, sizeof line, out) != NULL && strncmp(line, "listening on ", 13) == 0;
    fclose(out);
    if (!ok) return -1;
    line[strcspn(line, "\n")] = '\0';
    if (strlen(line + 13) >= addr_len) return -1;
    strcpy(addr, line + 13);
    return 0;
}

/* Stops the server (closing its standard input) and waits for it to exit. */
static int stop_server(void) {
    close(server_stdin);
    int status = 0;
    if (waitpid(server, &status, 0) != server) return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static fastspf_cache_stats stats_of(const fastspf_checker *checker) {
    fastspf_cache_stats stats;
    memset(&stats, 0xff, sizeof stats);
    CHECK_STATUS(fastspf_checker_cache_stats(checker, &stats, sizeof stats), FASTSPF_STATUS_OK);
    return stats;
}

static fastspf_spf_result check(const fastspf_checker *checker, const char *sender) {
    fastspf_result *result = NULL;
    CHECK_STATUS(fastspf_checker_check(checker, "198.51.100.7", sender, "out.lint.test", &result), FASTSPF_STATUS_OK);
    fastspf_spf_result code = fastspf_result_code(result);
    fastspf_result_free(result);
    return code;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SPF_TESTDNS ZONE\n", argv[0]);
        return 2;
    }
    char nameserver[64];
    if (start_server(argv[1], argv[2], nameserver, sizeof nameserver) != 0) {
        fprintf(stderr, "checker_cache: could not start %s\n", argv[1]);
        return 1;
    }
    fastspf_config *config = NULL;
    fastspf_checker *checker = NULL;
    CHECK_STATUS(fastspf_config_new(&config), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_nameserver(config, nameserver), FASTSPF_STATUS_OK);
    /* One try per query, so that the control below asks the server that is
       gone exactly once (loopback refuses it at once: ICMP port unreachable);
       a generous timeout, so that a slow run (valgrind, a loaded machine)
       does not turn the server's answers into timeouts. */
    CHECK_STATUS(fastspf_config_set_timeout(config, 10000, 1), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_checker_new(config, &checker), FASTSPF_STATUS_OK);
    fastspf_config_free(config);
    if (!checker) {
        stop_server();
        return check_summary("checker_cache");
    }

    /* A new checker's cache is empty. */
    fastspf_cache_stats before = stats_of(checker);
    CHECK(before.hits == 0 && before.misses == 0 && before.entries == 0 && before.bytes == 0);
    CHECK(before.inflight == 0 && before.abandoned == 0 && before.speculative_queries == 0);

    /* The lint fetches the record tree through the checker's cache. */
    fastspf_lint *lint = NULL;
    CHECK_STATUS(fastspf_checker_lint(checker, "lint.test", NULL, &lint), FASTSPF_STATUS_OK);
    CHECK(lint != NULL && fastspf_lint_errors(lint) == 0);
    CHECK(fastspf_lint_dns_lookups(lint) == 2);
    CHECK(strstr(fastspf_lint_json(lint), "198.51.100.7/32") != NULL);
    fastspf_lint_free(lint);
    fastspf_cache_stats linted = stats_of(checker);
    CHECK(linted.misses >= 3); /* TXT lint.test, TXT _spf.lint.test, A out.lint.test at least */
    CHECK(linted.entries > 0 && linted.bytes > 0);
    CHECK(linted.inflight == 0);
    printf("checker_cache: the lint sent %llu queries, cached %llu answers\n", (unsigned long long)linted.misses,
           (unsigned long long)linted.entries);

    /* No DNS server any more: only the cache can answer now. */
    CHECK(stop_server() == 0);

    /* The check of the same domain needs nothing the lint did not fetch. */
    CHECK(check(checker, "alice@lint.test") == FASTSPF_RESULT_PASS);
    fastspf_cache_stats checked = stats_of(checker);
    CHECK(checked.misses == linted.misses);
    CHECK(checked.speculative_queries == linted.speculative_queries);
    CHECK(checked.hits >= linted.hits + 3); /* the two TXT records and the A record */
    CHECK(checked.inflight == 0);

    /* The control: a domain the lint did not see has to be asked for, and
       with the server gone that is a temperror. */
    CHECK(check(checker, "alice@other.test") == FASTSPF_RESULT_TEMPERROR);
    fastspf_cache_stats control = stats_of(checker);
    CHECK(control.misses == checked.misses + 1);

    /* The struct size the caller was compiled with: a newer header's longer
       struct gets zeros past the fields this library has; one shorter than
       the first version is refused. */
    struct {
        fastspf_cache_stats stats;
        uint64_t newer[3];
    } longer;
    memset(&longer, 0xff, sizeof longer);
    CHECK_STATUS(fastspf_checker_cache_stats(checker, &longer.stats, sizeof longer), FASTSPF_STATUS_OK);
    CHECK(longer.stats.misses == control.misses && longer.stats.hits == control.hits);
    CHECK(longer.newer[0] == 0 && longer.newer[1] == 0 && longer.newer[2] == 0);
    fastspf_cache_stats shorter;
    memset(&shorter, 0xff, sizeof shorter);
    CHECK_STATUS(fastspf_checker_cache_stats(checker, &shorter, sizeof shorter - sizeof shorter.abandoned),
                 FASTSPF_STATUS_INVALID_ARGUMENT); /* shorter than the first version */
    CHECK(shorter.hits == UINT64_MAX);

    fastspf_checker_free(checker);
    return check_summary("checker_cache");
}
