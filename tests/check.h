/* SPDX-License-Identifier: MIT */
/* A tiny test harness: every CHECK counts as a pass or a failure, a failure
 * prints where and why, and check_done() prints the closing line
 * "N passed, N failed" and returns the exit status (1 if anything failed).
 *
 *     CHECK(n == 3, "expected 3 frames, got %zu", n);
 *     CHECK_CLOSE(e, ref, 1e-12, 1e-10, "energy of frame %zu", i);
 *     return check_done();
 *
 * A test that ran no check fails (it could not have failed otherwise); one
 * that does not apply where it runs returns check_skip("why"), which closes
 * with "N passed, N failed, 1 skipped". A missing required reference or
 * input is a failure, not a skip.
 *
 * Test data is found through $MLSHIFT_DATA (default ../shared/data);
 * check_data_path() builds a path into it. */
#ifndef MLSHIFT_CHECK_H
#define MLSHIFT_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) {                                                           \
            check_passed++;                                                   \
        } else {                                                              \
            check_failed++;                                                   \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);              \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

/* |a - b| <= atol + rtol·|b|, NaN never passes. */
#define CHECK_CLOSE(a, b, atol, rtol, ...)                                    \
    do {                                                                      \
        double check_a_ = (a), check_b_ = (b);                                \
        int check_ok_ = fabs(check_a_ - check_b_) <=                          \
                        (atol) + (rtol) * fabs(check_b_);                     \
        CHECK(check_ok_, "%s: got %.17g, want %.17g (diff %.3g)",            \
              check_msg_(__VA_ARGS__), check_a_, check_b_,                    \
              fabs(check_a_ - check_b_));                                     \
    } while (0)

static char check_buf_[512];
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static inline const char *check_msg_(const char *fmt, ...);
#include <stdarg.h>
static inline const char *check_msg_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(check_buf_, sizeof check_buf_, fmt, ap);
    va_end(ap);
    return check_buf_;
}

/* Worst-entry comparison of two arrays: one CHECK for the whole array,
 * naming the worst index. */
static inline void check_array_close(const char *what, const double *got,
                              const double *want, size_t n, double atol,
                              double rtol)
{
    size_t worst = 0;
    double worst_excess = -INFINITY;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]);
        double excess = d - (atol + rtol * fabs(want[i]));
        if (!(excess <= 0))
            bad = 1;
        if (!(excess <= worst_excess) || isnan(excess)) {
            worst_excess = excess;
            worst = i;
        }
    }
    if (n == 0) {
        CHECK(1, "%s", what);
        return;
    }
    CHECK(!bad, "%s: worst entry %zu: got %.17g, want %.17g", what, worst,
          got[worst], want[worst]);
}

static inline const char *check_data_dir(void)
{
    const char *d = getenv("MLSHIFT_DATA");
    return (d && *d) ? d : "../shared/data";
}

/* Path of a file under the data directory (a static buffer per call site
 * is enough for tests: copy it if two are needed at once). */
static inline const char *check_data_path(const char *rel)
{
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", check_data_dir(), rel);
    return buf[k];
}

static inline int check_done(void)
{
    if (check_passed + check_failed == 0)
        CHECK(0, "no check ran (a test that cannot fail; check_skip() if it "
                 "does not apply)");
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

/* Closes a test that does not apply here; scripts/run-tests counts it as
 * skipped and prints the reason. */
static inline int check_skip(const char *why)
{
    printf("SKIPPED: %s\n%d passed, %d failed, 1 skipped\n", why, check_passed,
           check_failed);
    return check_failed ? 1 : 0;
}

#endif /* MLSHIFT_CHECK_H */
