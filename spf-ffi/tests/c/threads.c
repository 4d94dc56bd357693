/* 8 threads share one checker for thousands of checks; every result equals
 * the single-threaded one. Usage: threads DEMO_ZONE */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "fastspf.h"
#include "check.h"

#define THREADS 8
#define ROUNDS 2000

static const char *corpus[][2] = {
    {"192.0.2.10", "alice@pass.demo.example"},     {"203.0.113.9", "alice@fail.demo.example"},
    {"203.0.113.9", "alice@softfail.demo.example"}, {"203.0.113.9", "alice@neutral.demo.example"},
    {"192.0.2.10", "alice@none.demo.example"},     {"192.0.2.10", "alice@permerror.demo.example"},
    {"203.0.113.9", "alice@toomany.demo.example"}, {"198.51.100.7", "alice@provider.demo.example"},
    {"198.51.100.7", "alice@redirect.demo.example"}, {"2001:db8:100::25", "alice@provider.demo.example"},
    {"192.0.2.10", "bob@mx.demo.example"},         {"203.0.113.66", "spammer@open.demo.example"},
};
#define CORPUS (sizeof corpus / sizeof corpus[0])

static fastspf_checker *checker;
static fastspf_spf_result expected[CORPUS];
static char expected_header[CORPUS][512];

struct worker {
    int id;
    int mismatches;
};

static void *work(void *arg) {
    struct worker *w = arg;
    for (int i = 0; i < ROUNDS; i++) {
        size_t k = (size_t)(i + w->id) % CORPUS;
        fastspf_result *result = NULL;
        if (fastspf_checker_check(checker, corpus[k][0], corpus[k][1], "mail.demo.example", &result) !=
                FASTSPF_STATUS_OK ||
            fastspf_result_code(result) != expected[k] ||
            strcmp(fastspf_result_received_spf(result), expected_header[k]) != 0) {
            w->mismatches++;
        }
        fastspf_result_free(result);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    fastspf_config *config = NULL;
    CHECK_STATUS(fastspf_config_new(&config), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_zone_file(config, argv[1]), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_checker_new(config, &checker), FASTSPF_STATUS_OK);
    fastspf_config_free(config);
    if (!checker) return check_summary("threads");

    for (size_t k = 0; k < CORPUS; k++) {
        fastspf_result *result = NULL;
        CHECK_STATUS(fastspf_checker_check(checker, corpus[k][0], corpus[k][1], "mail.demo.example", &result),
                     FASTSPF_STATUS_OK);
        expected[k] = fastspf_result_code(result);
        snprintf(expected_header[k], sizeof expected_header[k], "%s", fastspf_result_received_spf(result));
        fastspf_result_free(result);
    }
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (struct worker){.id = t, .mismatches = 0};
        CHECK(pthread_create(&threads[t], NULL, work, &workers[t]) == 0);
    }
    int mismatches = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        mismatches += workers[t].mismatches;
    }
    CHECK(mismatches == 0);
    printf("threads: %d checks on %d threads, %d mismatches\n", THREADS * ROUNDS, THREADS, mismatches);
    fastspf_checker_free(checker);
    return check_summary("threads");
}
