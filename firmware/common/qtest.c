/* qtest runner: finds the registered tests, runs them with their suite's
 * fixture, prints one result line per test (format: firmware/README.md). */
#include "qtest.h"
#include "con.h"
#include "fmt.h"
#include "shell.h"

#include <stdarg.h>

/* Provided by the linker for the orphan section `qtest_cases`. */
extern const qtest_case_t __start_qtest_cases[];
extern const qtest_case_t __stop_qtest_cases[];

#define QTEST_MAX_CASES 256u
#define QTEST_MSG_MAX   160u

enum { RUNNING, FAILED, SKIPPED };

static int outcome;
static char message[QTEST_MSG_MAX];
static unsigned msg_len;
static const char *where_file;
static int where_line;

static const qtest_case_t *order[QTEST_MAX_CASES];
static unsigned ncases;
static int sorted;

static int str_cmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

int qtest_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return str_cmp(a, b) == 0;
}

int qtest_mem_diff(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return (int)i;
    return -1;
}

static int before(const qtest_case_t *a, const qtest_case_t *b)
{
    int c = str_cmp(a->file, b->file);
    return c < 0 || (c == 0 && a->line < b->line);
}

/* Registration order is link order; list and run in (file, line) order. */
static void sort_cases(void)
{
    if (sorted)
        return;
    ncases = 0;
    for (const qtest_case_t *c = __start_qtest_cases; c < __stop_qtest_cases; c++) {
        if (c->magic != QTEST_MAGIC || ncases == QTEST_MAX_CASES)
            continue;
        unsigned i = ncases++;
        while (i > 0 && before(c, order[i - 1])) {
            order[i] = order[i - 1];
            i--;
        }
        order[i] = c;
    }
    sorted = 1;
}

unsigned qtest_count(void)
{
    sort_cases();
    return ncases;
}

const qtest_case_t *qtest_case(unsigned i)
{
    sort_cases();
    return i < ncases ? order[i] : 0;
}

int qtest_stopped(void)
{
    return outcome != RUNNING;
}

/* A result is one console line: line breaks become spaces, the rest is cut. */
static void msg_out(char c, void *ctx)
{
    (void)ctx;
    if (c == '\r' || c == '\n')
        c = ' ';
    if (msg_len + 1u < QTEST_MSG_MAX)
        message[msg_len++] = c;
}

static void record(int what, const char *file, int line, const char *f, va_list ap)
{
    if (outcome != RUNNING)
        return;
    outcome = what;
    where_file = file;
    where_line = line;
    msg_len = 0;
    fmt_vformat(msg_out, 0, f, ap);
    message[msg_len] = '\0';
}

void qtest_fail_at(const char *file, int line, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    record(FAILED, file, line, f, ap);
    va_end(ap);
}

void qtest_skip_at(const char *file, int line, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    record(SKIPPED, file, line, f, ap);
    va_end(ap);
}

static int selected(const qtest_case_t *c, int nfilters, char *const filters[])
{
    if (nfilters == 0)
        return 1;
    for (int i = 0; i < nfilters; i++) {
        const char *f = filters[i];
        const char *s = c->suite->name;
        while (*s && *s == *f) {
            s++;
            f++;
        }
        if (*s)
            continue;
        if (*f == '\0')
            return 1;                          /* the whole suite */
        if (*f == '.' && str_cmp(f + 1, c->name) == 0)
            return 1;                          /* suite.name */
    }
    return 0;
}

static int run_one(const qtest_case_t *c)
{
    const qtest_suite_t *s = c->suite;
    outcome = RUNNING;
    message[0] = '\0';
    con_line("QTEST CASE %s.%s", s->name, c->name);
    if (s->setup)
        s->setup();
    if (outcome == RUNNING)
        c->fn();
    if (s->teardown) {
        /* Teardown runs whatever the outcome, with working assertions; the
         * first failure stays the one reported (a failing teardown turns a
         * pass or a skip into a failure). */
        int kept = outcome;
        const char *kept_file = where_file;
        int kept_line = where_line;
        char kept_msg[QTEST_MSG_MAX];
        for (unsigned i = 0; i < QTEST_MSG_MAX; i++)
            kept_msg[i] = message[i];
        outcome = RUNNING;
        s->teardown();
        if (kept == FAILED || (kept == SKIPPED && outcome != FAILED)) {
            outcome = kept;
            where_file = kept_file;
            where_line = kept_line;
            for (unsigned i = 0; i < QTEST_MSG_MAX; i++)
                message[i] = kept_msg[i];
        }
    }
    switch (outcome) {
    case FAILED:
        con_line("QTEST FAIL %s.%s %s:%d: %s", s->name, c->name, where_file, where_line,
                 message);
        break;
    case SKIPPED:
        con_line("QTEST SKIP %s.%s %s:%d: %s", s->name, c->name, where_file, where_line,
                 message);
        break;
    default:
        con_line("QTEST PASS %s.%s", s->name, c->name);
        break;
    }
    return outcome;
}

qtest_totals_t qtest_run(int nfilters, char *const filters[])
{
    qtest_totals_t t = { 0, 0, 0, 0 };
    for (unsigned i = 0; i < qtest_count(); i++) {
        const qtest_case_t *c = order[i];
        if (!selected(c, nfilters, filters))
            continue;
        t.total++;
        switch (run_one(c)) {
        case FAILED:  t.failed++;  break;
        case SKIPPED: t.skipped++; break;
        default:      t.passed++;  break;
        }
    }
    outcome = RUNNING;
    return t;
}

void qtest_cmd_list(int argc, char *argv[])
{
    (void)argc;
    (void)argv;
    for (unsigned i = 0; i < qtest_count(); i++)
        con_line("QTEST LIST %s.%s %s:%u", order[i]->suite->name, order[i]->name,
                 order[i]->file, (unsigned)order[i]->line);
    shell_okf("%u", qtest_count());
}

void qtest_cmd_run(int argc, char *argv[])
{
    qtest_totals_t t = qtest_run(argc - 1, argv + 1);
    if (t.total == 0 && argc > 1) {
        shell_err(SHELL_ERR_BAD_ARG, "no test matches %s", argv[1]);
        return;
    }
    shell_okf("total=%u passed=%u failed=%u skipped=%u", t.total, t.passed, t.failed,
              t.skipped);
}
