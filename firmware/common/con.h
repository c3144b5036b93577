/* Console output on top of the UART driver: whole lines, CRLF endings. */
#ifndef QSM_CON_H
#define QSM_CON_H

#include <stdarg.h>

void con_putc(char c);
void con_puts(const char *s);
void con_printf(const char *f, ...) __attribute__((format(printf, 1, 2)));
void con_vprintf(const char *f, va_list ap);
/* One complete line: formatted text followed by "\r\n". */
void con_line(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* Nonzero when the last character written was not the end of a line. */
int con_mid_line(void);

#endif
