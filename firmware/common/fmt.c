#include "fmt.h"
#include <stdint.h>

typedef struct {
    fmt_out_t out;
    void *ctx;
    int n;
} sink_t;

static void put(sink_t *s, char c)
{
    s->out(c, s->ctx);
    s->n++;
}

static void pad(sink_t *s, char c, int count)
{
    while (count-- > 0)
        put(s, c);
}

/* Emit digits (already reversed in tmp) with sign, width, zero/left flags. */
static void emit_number(sink_t *s, uint32_t v, unsigned base, int upper, int neg,
                        int width, int zero, int left)
{
    char tmp[12];
    int len = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        tmp[len++] = digits[v % base];
        v /= base;
    } while (v);
    int total = len + (neg ? 1 : 0);
    if (!left && !zero)
        pad(s, ' ', width - total);
    if (neg)
        put(s, '-');
    if (!left && zero)
        pad(s, '0', width - total);
    while (len)
        put(s, tmp[--len]);
    if (left)
        pad(s, ' ', width - total);
}

int fmt_vformat(fmt_out_t out, void *ctx, const char *f, va_list ap)
{
    sink_t s = { out, ctx, 0 };

    while (*f) {
        char c = *f++;
        if (c != '%') {
            put(&s, c);
            continue;
        }
        int left = 0, zero = 0, width = 0, prec = -1;
        for (;; f++) {
            if (*f == '-')
                left = 1;
            else if (*f == '0')
                zero = 1;
            else
                break;
        }
        if (*f == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                left = 1;
                width = -width;
            }
            f++;
        } else {
            while (*f >= '0' && *f <= '9')
                width = width * 10 + (*f++ - '0');
        }
        if (*f == '.') {
            f++;
            prec = 0;
            if (*f == '*') {
                prec = va_arg(ap, int);
                f++;
            } else {
                while (*f >= '0' && *f <= '9')
                    prec = prec * 10 + (*f++ - '0');
            }
        }
        while (*f == 'l' || *f == 'h' || *f == 'z')
            f++;

        switch (*f) {
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            int len = 0;
            while ((prec < 0 || len < prec) && str[len])
                len++;
            if (!left)
                pad(&s, ' ', width - len);
            for (int i = 0; i < len; i++)
                put(&s, str[i]);
            if (left)
                pad(&s, ' ', width - len);
            break;
        }
        case 'c': {
            char ch = (char)va_arg(ap, int);
            if (!left)
                pad(&s, ' ', width - 1);
            put(&s, ch);
            if (left)
                pad(&s, ' ', width - 1);
            break;
        }
        case 'd':
        case 'i': {
            int v = va_arg(ap, int);
            uint32_t mag = v < 0 ? (uint32_t)0 - (uint32_t)v : (uint32_t)v;
            emit_number(&s, mag, 10, 0, v < 0, width, zero, left);
            break;
        }
        case 'u':
            emit_number(&s, va_arg(ap, unsigned int), 10, 0, 0, width, zero, left);
            break;
        case 'x':
        case 'X':
            emit_number(&s, va_arg(ap, unsigned int), 16, *f == 'X', 0, width, zero, left);
            break;
        case 'p':
            put(&s, '0');
            put(&s, 'x');
            emit_number(&s, (uint32_t)(uintptr_t)va_arg(ap, void *), 16, 0, 0, 8, 1, 0);
            break;
        case '%':
            put(&s, '%');
            break;
        case '\0':
            return s.n;      /* dangling '%' at the end */
        default:             /* unknown conversion: print it verbatim */
            put(&s, '%');
            put(&s, *f);
            break;
        }
        f++;
    }
    return s.n;
}

typedef struct {
    char *buf;
    size_t size;
    size_t pos;
} bufctx_t;

static void buf_out(char c, void *ctx)
{
    bufctx_t *b = ctx;
    if (b->pos + 1 < b->size)
        b->buf[b->pos] = c;
    b->pos++;
}

int fmt_snprintf(char *buf, size_t size, const char *f, ...)
{
    bufctx_t b = { buf, size, 0 };
    va_list ap;
    va_start(ap, f);
    int n = fmt_vformat(buf_out, &b, f, ap);
    va_end(ap);
    if (size)
        buf[b.pos < size ? b.pos : size - 1] = '\0';
    return n;
}
