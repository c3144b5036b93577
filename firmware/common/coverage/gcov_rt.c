/* Coverage builds only (make COVERAGE=1).
 *
 * GCC's coverage instrumentation names libgcov's merge routine in every unit's gcov_info
 * record. The chip never merges nor writes .gcda files (the harness reads the counters
 * through the debug port), so nothing calls it: this stands in for libgcov, whose file
 * system code a bare-metal image has no use for. */
#include <stdint.h>

void __gcov_merge_add(int64_t *counters, unsigned n);

__attribute__((weak)) void __gcov_merge_add(int64_t *counters, unsigned n)
{
    (void)counters;
    (void)n;
}
