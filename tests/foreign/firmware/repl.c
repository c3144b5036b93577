/*
 * tinyrepl: a line-edited command interpreter for an LM3S6965-class part, written the way a
 * vendor SDK sample is: its own vector table and start-up, polled UART0, CR-terminated input
 * echoed back, a "> " prompt, no version block and no OK/ERR protocol.
 *
 *   > add 2 40       -> 42
 *   > echo text      -> text
 *   > peek 0x0       -> the word at that address, hex
 *   > ticks          -> how many lines were executed since reset
 *
 * A lone LF is ignored (a terminal sends CR): a host that sends LF only sees its command echoed
 * and never run.
 */
#include <stdint.h>

#define UART0_BASE 0x4000C000u
#define UART_DR    (*(volatile uint32_t *)(UART0_BASE + 0x000))
#define UART_FR    (*(volatile uint32_t *)(UART0_BASE + 0x018))
#define UART_LCRH  (*(volatile uint32_t *)(UART0_BASE + 0x02C))
#define UART_CR    (*(volatile uint32_t *)(UART0_BASE + 0x030))
#define FR_TXFF    (1u << 5)
#define FR_RXFE    (1u << 4)

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);

void Reset_Handler(void)
{
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    main();
    for (;;) {}
}

void Default_Handler(void)
{
    for (;;) {}
}

__attribute__((section(".isr_vector"), used))
void (*const g_pfnVectors[16])(void) = {
    (void (*)(void))&_estack, Reset_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, 0, 0, 0, 0,
    Default_Handler, Default_Handler, 0, Default_Handler, Default_Handler,
};

static unsigned executed;

static void putc_(char c)
{
    while (UART_FR & FR_TXFF) {}
    UART_DR = (uint8_t)c;
}

static void puts_(const char *s)
{
    while (*s) putc_(*s++);
}

static void put_unsigned(uint32_t v, unsigned base)
{
    char buf[12];
    int n = 0;
    do {
        unsigned d = v % base;
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    if (base == 16) puts_("0x");
    while (n) putc_(buf[--n]);
}

static int parse(const char **p, int32_t *out)
{
    const char *s = *p;
    int neg = 0;
    unsigned base = 10;
    uint32_t v = 0;
    while (*s == ' ') s++;
    if (*s == '-') { neg = 1; s++; }
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) { base = 16; s += 2; }
    const char *start = s;
    for (;; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9') d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f') d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F') d = (unsigned)(*s - 'A' + 10);
        else break;
        v = v * base + d;
    }
    if (s == start) return 0;
    *out = neg ? -(int32_t)v : (int32_t)v;
    *p = s;
    return 1;
}

static int starts(const char *line, const char *word, const char **rest)
{
    while (*word) if (*line++ != *word++) return 0;
    if (*line != ' ' && *line != 0) return 0;
    *rest = line;
    return 1;
}

static void execute(const char *line)
{
    const char *rest;
    int32_t a, b;
    executed++;
    if (starts(line, "add", &rest) && parse(&rest, &a) && parse(&rest, &b)) {
        int32_t sum = a + b;
        if (sum < 0) { putc_('-'); sum = -sum; }
        put_unsigned((uint32_t)sum, 10);
    } else if (starts(line, "echo", &rest)) {
        puts_(*rest ? rest + 1 : rest);
    } else if (starts(line, "peek", &rest) && parse(&rest, &a)) {
        put_unsigned(*(volatile uint32_t *)(uintptr_t)(uint32_t)a, 16);
    } else if (starts(line, "ticks", &rest)) {
        put_unsigned(executed, 10);
    } else if (*line) {
        puts_("?");
    }
    if (*line) puts_("\r\n");
}

int main(void)
{
    static char line[80];
    unsigned n = 0;
    UART_CR = 0;
    UART_LCRH = 0x70; /* 8 data bits, FIFOs on */
    UART_CR = 0x301;  /* UART, TX and RX enabled */
    puts_("\r\ntinyrepl 0.3 (c) Example Vendor\r\n> ");
    for (;;) {
        if (UART_FR & FR_RXFE) continue;
        char c = (char)(UART_DR & 0xFF);
        if (c == '\n') continue;
        if (c == '\r') {
            puts_("\r\n");
            line[n] = 0;
            execute(line);
            n = 0;
            puts_("> ");
        } else if ((c == 0x7f || c == 0x08) && n) {
            n--;
            puts_("\b \b");
        } else if (c >= ' ' && n < sizeof line - 1) {
            line[n++] = c;
            putc_(c);
        }
    }
}
