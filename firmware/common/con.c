#include "con.h"
#include "fmt.h"
#include "uart.h"

static volatile int mid_line;

void con_putc(char c)
{
    uart_putc(c);
    mid_line = (c != '\n');
}

void con_puts(const char *s)
{
    while (*s)
        con_putc(*s++);
}

static void con_out(char c, void *ctx)
{
    (void)ctx;
    con_putc(c);
}

void con_vprintf(const char *f, va_list ap)
{
    fmt_vformat(con_out, 0, f, ap);
}

void con_printf(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    con_vprintf(f, ap);
    va_end(ap);
}

void con_line(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    con_vprintf(f, ap);
    va_end(ap);
    con_puts("\r\n");
}

int con_mid_line(void)
{
    return mid_line;
}
