/* The asynchronous path: callbacks arrive once each, on a library thread,
 * with the right results. Usage: async DEMO_ZONE */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "fastspf.h"
#include "check.h"

#define CHECKS 200

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_done = PTHREAD_COND_INITIALIZER;
static int done = 0;
static int wrong = 0;
static int on_main_thread = 0;
static pthread_t main_thread;

struct request {
    fastspf_spf_result expected;
    int calls;
};

static void on_result(void *user_data, fastspf_status status, fastspf_result *result) {
    struct request *req = user_data;
    pthread_mutex_lock(&lock);
    req->calls++;
    if (status != FASTSPF_STATUS_OK || fastspf_result_code(result) != req->expected) wrong++;
    if (pthread_equal(pthread_self(), main_thread)) on_main_thread++;
    done++;
    if (done == CHECKS) pthread_cond_signal(&all_done);
    pthread_mutex_unlock(&lock);
    fastspf_result_free(result); /* the callback owns the result */
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    main_thread = pthread_self();
    fastspf_config *config = NULL;
    fastspf_checker *checker = NULL;
    CHECK_STATUS(fastspf_config_new(&config), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_zone_file(config, argv[1]), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_checker_new(config, &checker), FASTSPF_STATUS_OK);
    fastspf_config_free(config);
    if (!checker) return check_summary("async");

    static struct request requests[CHECKS];
    for (int i = 0; i < CHECKS; i++) {
        int fail = i % 2;
        requests[i] = (struct request){fail ? FASTSPF_RESULT_FAIL : FASTSPF_RESULT_PASS, 0};
        CHECK_STATUS(fastspf_checker_check_async(checker, fail ? "203.0.113.9" : "192.0.2.10",
                                                 fail ? "a@fail.demo.example" : "a@pass.demo.example",
                                                 "mail.demo.example", on_result, &requests[i]),
                     FASTSPF_STATUS_OK);
    }
    /* Bad input is refused at once, and no callback follows. */
    CHECK_STATUS(fastspf_checker_check_async(checker, "not-an-ip", "a@b.example", "h", on_result, NULL),
                 FASTSPF_STATUS_INVALID_IP);

    pthread_mutex_lock(&lock);
    while (done < CHECKS) pthread_cond_wait(&all_done, &lock);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < CHECKS; i++) CHECK(requests[i].calls == 1);
    CHECK(wrong == 0);
    CHECK(on_main_thread == 0);
    printf("async: %d callbacks, %d wrong, %d on the calling thread\n", done, wrong, on_main_thread);
    fastspf_checker_free(checker);
    return check_summary("async");
}
