/* Issue 14, item 4: callbacks of asynchronous checks that call the blocking
 * check on the same checker must not wedge it (they used to block both of
 * the runtime's threads, and then every check hung). Every check here waits
 * for a DNS server that answers slowly.
 * Usage: blocking_callbacks NAMESERVER */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <time.h>

#include "fastspf.h"
#include "check.h"

#define CALLBACKS 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_done = PTHREAD_COND_INITIALIZER;
static int done = 0;
static int wrong = 0;
static fastspf_checker *checker = NULL;

static void on_result(void *user_data, fastspf_status status, fastspf_result *result) {
    (void)user_data;
    int bad = status != FASTSPF_STATUS_OK || fastspf_result_code(result) != FASTSPF_RESULT_FAIL;
    fastspf_result_free(result);
    /* Blocks this callback on a check that has to wait for DNS. */
    fastspf_result *inner = NULL;
    if (fastspf_checker_check(checker, "192.0.2.1", "a@slow.test", "h.test", &inner) != FASTSPF_STATUS_OK ||
        fastspf_result_code(inner) != FASTSPF_RESULT_PASS)
        bad = 1;
    fastspf_result_free(inner);
    pthread_mutex_lock(&lock);
    wrong += bad;
    done++;
    pthread_cond_signal(&all_done);
    pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    fastspf_config *config = NULL;
    CHECK_STATUS(fastspf_config_new(&config), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_config_add_nameserver(config, argv[1]), FASTSPF_STATUS_OK);
    CHECK_STATUS(fastspf_checker_new(config, &checker), FASTSPF_STATUS_OK);
    fastspf_config_free(config);
    if (!checker) return check_summary("blocking_callbacks");

    /* The HELO check of outer.test fails as its MAIL FROM check does. */
    CHECK_STATUS(fastspf_checker_check_helo_async(checker, "192.0.2.1", "outer.test", on_result, NULL),
                 FASTSPF_STATUS_OK);
    for (int i = 1; i < CALLBACKS; i++)
        CHECK_STATUS(fastspf_checker_check_async(checker, "192.0.2.1", "a@outer.test", "h.test", on_result, NULL),
                     FASTSPF_STATUS_OK);
    /* The calling thread checks meanwhile. */
    fastspf_result *result = NULL;
    CHECK_STATUS(fastspf_checker_check(checker, "192.0.2.1", "b@slow.test", "h.test", &result), FASTSPF_STATUS_OK);
    CHECK(result && fastspf_result_code(result) == FASTSPF_RESULT_PASS);
    fastspf_result_free(result);

    /* A bound, so that a wedged checker fails the test instead of hanging it. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 60;
    pthread_mutex_lock(&lock);
    while (done < CALLBACKS)
        if (pthread_cond_timedwait(&all_done, &lock, &until) != 0) break;
    int finished = done;
    pthread_mutex_unlock(&lock);
    CHECK(finished == CALLBACKS);
    CHECK(wrong == 0);
    printf("blocking_callbacks: %d of %d callbacks finished their blocking check, %d wrong\n", finished, CALLBACKS,
           wrong);
    if (finished == CALLBACKS) fastspf_checker_free(checker);
    return check_summary("blocking_callbacks");
}
