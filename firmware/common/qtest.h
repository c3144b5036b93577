/* qtest: on-target C unit tests.
 *
 *   #include "qtest.h"
 *
 *   static int counter;
 *   static void setup(void)    { counter = 0; }
 *   static void teardown(void) { }
 *   QTEST_SUITE(counter, setup, teardown);    // fixture: runs around every test
 *
 *   QTEST(counter, starts_at_zero)
 *   {
 *       QT_ASSERT_EQ(counter, 0);
 *   }
 *
 * Tests register themselves (no list to maintain): every QTEST() puts a
 * descriptor into the linker section `qtest_cases`, found at run time through
 * the linker's __start_/__stop_ symbols and read by the harness from the ELF.
 *
 * An assertion that fails records "file:line: message" and returns from the
 * function it is in. In a helper function that means the helper returns; the
 * next assertion of the test then returns at once, so a test stops at the first
 * failure whichever function it happened in. Only the first failure is kept.
 *
 * Results go to the console, one line each (format in firmware/README.md). */
#ifndef QSM_QTEST_H
#define QSM_QTEST_H

#include <stdint.h>
#include <stddef.h>

#define QTEST_MAGIC 0x54535451u      /* bytes "QTST" */

typedef struct {
    const char *name;
    void (*setup)(void);             /* may be NULL */
    void (*teardown)(void);          /* may be NULL */
} qtest_suite_t;

/* Layout read by the harness from the ELF (harness/ctest/image.py): six words. */
typedef struct {
    uint32_t magic;                  /* QTEST_MAGIC */
    const qtest_suite_t *suite;
    const char *name;
    const char *file;                /* as compiled, relative to firmware/ */
    uint32_t line;
    void (*fn)(void);
} qtest_case_t;

#define QTEST_SUITE(sname, setup_fn, teardown_fn) \
    const qtest_suite_t qtest_suite_##sname = { #sname, setup_fn, teardown_fn }

#define QTEST(sname, tname)                                                      \
    extern const qtest_suite_t qtest_suite_##sname;                              \
    static void qtest_fn_##sname##__##tname(void);                               \
    __attribute__((used, section("qtest_cases"), aligned(4)))                    \
    static const qtest_case_t qtest_case_##sname##__##tname = {                  \
        QTEST_MAGIC, &qtest_suite_##sname, #tname, __FILE__, __LINE__,           \
        qtest_fn_##sname##__##tname };                                           \
    static void qtest_fn_##sname##__##tname(void)

/* ---- runner internals used by the macros ---------------------------------- */
/* Nonzero once the current test has failed or been skipped. */
int qtest_stopped(void);
void qtest_fail_at(const char *file, int line, const char *f, ...)
    __attribute__((format(printf, 3, 4)));
void qtest_skip_at(const char *file, int line, const char *f, ...)
    __attribute__((format(printf, 3, 4)));
int qtest_mem_diff(const void *a, const void *b, size_t n);   /* -1 when equal */
int qtest_str_eq(const char *a, const char *b);

#define QT__CHECK(cond, ...)                                                     \
    do {                                                                         \
        if (qtest_stopped())                                                     \
            return;                                                              \
        if (!(cond)) {                                                           \
            qtest_fail_at(__FILE__, __LINE__, __VA_ARGS__);                      \
            return;                                                              \
        }                                                                        \
    } while (0)

/* ---- assertions ----------------------------------------------------------- */
#define QT_ASSERT(cond)        QT__CHECK(cond, "assertion failed: %s", #cond)
#define QT_ASSERT_TRUE(cond)   QT_ASSERT(cond)
#define QT_ASSERT_FALSE(cond)  QT__CHECK(!(cond), "expected false: %s", #cond)

/* Signed integers (up to 32 bits); the message shows both values. */
#define QT__CMP(a, op, b)                                                        \
    do {                                                                         \
        long qt_a_ = (long)(a), qt_b_ = (long)(b);                               \
        QT__CHECK(qt_a_ op qt_b_, "expected %s %s %s: %ld vs %ld",               \
                  #a, #op, #b, qt_a_, qt_b_);                                    \
    } while (0)
#define QT_ASSERT_EQ(a, b) QT__CMP(a, ==, b)
#define QT_ASSERT_NE(a, b) QT__CMP(a, !=, b)
#define QT_ASSERT_LT(a, b) QT__CMP(a, <, b)
#define QT_ASSERT_LE(a, b) QT__CMP(a, <=, b)
#define QT_ASSERT_GT(a, b) QT__CMP(a, >, b)
#define QT_ASSERT_GE(a, b) QT__CMP(a, >=, b)

/* Unsigned values shown in hex (registers, codes, checksums). */
#define QT_ASSERT_EQ_HEX(a, b)                                                   \
    do {                                                                         \
        unsigned long qt_a_ = (unsigned long)(a), qt_b_ = (unsigned long)(b);    \
        QT__CHECK(qt_a_ == qt_b_, "expected %s == %s: 0x%lx vs 0x%lx",           \
                  #a, #b, qt_a_, qt_b_);                                         \
    } while (0)

#define QT_ASSERT_STR_EQ(a, b)                                                   \
    do {                                                                         \
        const char *qt_a_ = (a), *qt_b_ = (b);                                   \
        QT__CHECK(qtest_str_eq(qt_a_, qt_b_), "expected %s == %s: \"%s\" vs \"%s\"", \
                  #a, #b, qt_a_ ? qt_a_ : "(null)", qt_b_ ? qt_b_ : "(null)");   \
    } while (0)

#define QT_ASSERT_MEM_EQ(a, b, n)                                                \
    do {                                                                         \
        int qt_at_ = qtest_mem_diff((a), (b), (n));                              \
        QT__CHECK(qt_at_ < 0, "expected %s == %s (%u bytes): differ at byte %d", \
                  #a, #b, (unsigned)(n), qt_at_);                                \
    } while (0)

#define QT_FAIL(...)                                                             \
    do {                                                                         \
        if (!qtest_stopped())                                                    \
            qtest_fail_at(__FILE__, __LINE__, __VA_ARGS__);                      \
        return;                                                                  \
    } while (0)

/* Skip the current test with a reason (also from setup: the body does not run). */
#define QT_SKIP(...)                                                             \
    do {                                                                         \
        if (!qtest_stopped())                                                    \
            qtest_skip_at(__FILE__, __LINE__, __VA_ARGS__);                      \
        return;                                                                  \
    } while (0)

/* ---- runner --------------------------------------------------------------- */
typedef struct {
    unsigned total, passed, failed, skipped;
} qtest_totals_t;

/* Number of registered tests, and the i-th in (file, line) order. */
unsigned qtest_count(void);
const qtest_case_t *qtest_case(unsigned i);

/* Run every test whose "suite.name" id, or suite name, equals one of `filters`
 * (all tests when nfilters is 0). Prints the result lines; returns the totals. */
qtest_totals_t qtest_run(int nfilters, char *const filters[]);

/* Shell commands of a test image: "list" and "run [id|suite ...]". */
void qtest_cmd_list(int argc, char *argv[]);
void qtest_cmd_run(int argc, char *argv[]);

#endif
