/* Tiny printf-style formatter (no newlib printf).
 * Conversions: %s %d %i %u %x %X %c %p %%; flags '-' '0'; field width
 * (number or '*'); precision for %s (".N" or ".*") limits the characters
 * printed, so non NUL-terminated fixed fields print safely. 'l' is accepted
 * and ignored (int and long are both 32 bits here). */
#ifndef QSM_FMT_H
#define QSM_FMT_H

#include <stdarg.h>
#include <stddef.h>

typedef void (*fmt_out_t)(char c, void *ctx);

/* Returns the number of characters produced. */
int fmt_vformat(fmt_out_t out, void *ctx, const char *f, va_list ap);

/* snprintf-like: always NUL-terminates when size > 0; returns the length the
 * full output would have had. */
int fmt_snprintf(char *buf, size_t size, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

#endif
