/* Tiny assertion helpers shared by the C tests. */
#ifndef FASTSPF_TEST_CHECK_H
#define FASTSPF_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures = 0;

/* Whether a header field is folded as the library folds: no CR, and every
   LF followed by a space (a continuation line). */
static inline int only_folds(const char *s) {
    for (; *s; s++) {
        if (*s == '\r') return 0;
        if (*s == '\n' && s[1] != ' ') return 0;
    }
    return 1;
}

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

#define CHECK_STATUS(expr, expected)                                             \
    do {                                                                         \
        fastspf_status got_ = (expr);                                            \
        if (got_ != (expected)) {                                                \
            fprintf(stderr, "%s:%d: %s gave %s, expected %s\n", __FILE__, __LINE__, #expr, \
                    fastspf_status_name((int)got_), fastspf_status_name((int)(expected))); \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

#define CHECK_STR(got, expected)                                                 \
    do {                                                                         \
        const char *g_ = (got), *e_ = (expected);                                \
        if (g_ == NULL || strcmp(g_, e_) != 0) {                                 \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #got, \
                    g_ ? g_ : "(null)", e_);                                     \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

#define CHECK_PREFIX(got, prefix)                                                \
    do {                                                                         \
        const char *g_ = (got), *p_ = (prefix);                                  \
        if (g_ == NULL || strncmp(g_, p_, strlen(p_)) != 0) {                    \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected it to start with \"%s\"\n", __FILE__, \
                    __LINE__, #got, g_ ? g_ : "(null)", p_);                     \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

static int check_summary(const char *name) {
    if (check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

#endif
