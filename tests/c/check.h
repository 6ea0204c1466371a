/* The C tests' check. CHECK(cond) reports a false condition (file, line,
 * the condition and nr_last_error()) and counts it in `failures` (the test
 * exits non-zero when it is not 0); a test that defines CHECK_FATAL 1
 * before including this file exits at the first one instead. Include
 * <netring.h> first. */
#ifndef NR_TEST_CHECK_H
#define NR_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#ifndef CHECK_FATAL
#define CHECK_FATAL 0
#endif

static int failures;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__, __LINE__, \
                    #cond, nr_last_error());                                                 \
            failures++;                                                                      \
            if (CHECK_FATAL)                                                                 \
                exit(1);                                                                     \
        }                                                                                    \
    } while (0)

#endif
