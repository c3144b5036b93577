/* qtest's own check: built only with -DQTEST_SELFTEST (the harness's
 * integration tests build an image that way), these tests exercise every
 * outcome the runner reports, so a broken runner or collector shows. */
#ifdef QTEST_SELFTEST
#include "qtest.h"

static int torn_down;
static void setup(void) { torn_down = 0; }
static void teardown(void) { torn_down++; }
QTEST_SUITE(qtest_self, setup, teardown);

static void skip_setup(void) { QT_SKIP("setup decided: %s", "not on this board"); }
QTEST_SUITE(qtest_skipped, skip_setup, 0);

static void helper_fails(int v) { QT_ASSERT_EQ(v, 2); }

QTEST(qtest_self, passes)
{
    QT_ASSERT_EQ(1 + 1, 2);
    QT_ASSERT_STR_EQ("abc", "abc");
}

QTEST(qtest_self, fails_eq)
{
    int answer = 41;
    QT_ASSERT_EQ(answer, 42);
}

QTEST(qtest_self, fails_in_helper)
{
    helper_fails(3);
    QT_FAIL("not reached: the helper's failure stops the test");
}

QTEST(qtest_self, fails_str)
{
    QT_ASSERT_STR_EQ("left", "right");
}

QTEST(qtest_self, skips)
{
    QT_SKIP("needs a %s", "real IR receiver");
}

QTEST(qtest_skipped, body_not_run)
{
    QT_FAIL("setup skipped: the body must not run");
}

QTEST(qtest_self, crashes)
{
    __asm volatile ("udf #1");
}
#else
typedef int qtest_selftest_not_built;   /* ISO C: a translation unit needs a declaration */
#endif
