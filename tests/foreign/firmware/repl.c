/*
 * tinyrepl: a line-edited command interpreter for small Cortex-M boards, written the way a
 * vendor SDK sample is: its own vector table and start-up, polled UART0, CR-terminated input
 * echoed back, a "> " prompt, no version block and no OK/ERR protocol.
 *
 *   > add 2 40       -> 42
 *   > echo text      -> text
 *   > peek 0x0       -> the word at that address, hex
 *   > ticks          -> how many lines were executed since reset
 *   > noise N SEED   -> N pseudo-random bytes, every value 0..255 (xorshift32 from SEED): a
 *                       line-noise test pattern
 *
 * A lone LF is ignored (a terminal sends CR): a host that sends LF only sees its command echoed
 * and never run.
 */
#include <stdint.h>

/* The board's console UART: an ARM PL011 (Stellaris), a CMSDK APB UART (MPS2), an STM32 USART or
 * the nRF51's. */
#if defined(UART_CMSDK)
#ifndef UART_BASE
#define UART_BASE   0x40004000u
#endif
#define UART_DATA   (*(volatile uint32_t *)(UART_BASE + 0x000))
#define UART_STATE  (*(volatile uint32_t *)(UART_BASE + 0x004))
#define UART_CTRL   (*(volatile uint32_t *)(UART_BASE + 0x008))
#define UART_BAUD   (*(volatile uint32_t *)(UART_BASE + 0x010))
static void uart_init(void) { UART_BAUD = 16; UART_CTRL = 3; /* TX and RX enabled */ }
static int tx_full(void) { return UART_STATE & 1u; }
static void tx(uint8_t c) { UART_DATA = c; }
static int rx_ready(void) { return (UART_STATE & 2u) != 0; }
static uint8_t rx(void) { return (uint8_t)UART_DATA; }
#elif defined(UART_STM32)
#ifndef UART_BASE
#define UART_BASE   0x40011000u /* USART1 on the F2/F4 */
#endif
#define USART_SR    (*(volatile uint32_t *)(UART_BASE + 0x00))
#define USART_DR    (*(volatile uint32_t *)(UART_BASE + 0x04))
#define USART_CR1   (*(volatile uint32_t *)(UART_BASE + 0x0C))
static void uart_init(void) { USART_CR1 = (1u << 13) | (1u << 3) | (1u << 2); /* UE TE RE */ }
static int tx_full(void) { return !(USART_SR & (1u << 7)); /* TXE */ }
static void tx(uint8_t c) { USART_DR = c; }
static int rx_ready(void) { return (USART_SR & (1u << 5)) != 0; /* RXNE */ }
static uint8_t rx(void) { return (uint8_t)USART_DR; }
#elif defined(UART_NRF51)
#define UART_BASE      0x40002000u
#define REG(off)       (*(volatile uint32_t *)(UART_BASE + (off)))
#define TASKS_STARTRX  REG(0x000)
#define TASKS_STARTTX  REG(0x008)
#define EVENTS_RXDRDY  REG(0x108)
#define EVENTS_TXDRDY  REG(0x11C)
#define UART_ENABLE    REG(0x500)
#define UART_RXD       REG(0x518)
#define UART_TXD       REG(0x51C)
static int sent_once;
static void uart_init(void) { UART_ENABLE = 4; TASKS_STARTTX = 1; TASKS_STARTRX = 1; }
static int tx_full(void) { return sent_once && !EVENTS_TXDRDY; }
static void tx(uint8_t c) { EVENTS_TXDRDY = 0; UART_TXD = c; sent_once = 1; }
static int rx_ready(void) { return EVENTS_RXDRDY != 0; }
static uint8_t rx(void) { EVENTS_RXDRDY = 0; return (uint8_t)UART_RXD; }
#else /* PL011 on the LM3S6965 */
#define UART0_BASE 0x4000C000u
#define UART_DR    (*(volatile uint32_t *)(UART0_BASE + 0x000))
#define UART_FR    (*(volatile uint32_t *)(UART0_BASE + 0x018))
#define UART_LCRH  (*(volatile uint32_t *)(UART0_BASE + 0x02C))
#define UART_CR    (*(volatile uint32_t *)(UART0_BASE + 0x030))
#define FR_TXFF    (1u << 5)
#define FR_RXFE    (1u << 4)
static void uart_init(void)
{
    UART_CR = 0;
    UART_LCRH = 0x70; /* 8 data bits, FIFOs on */
    UART_CR = 0x301;  /* UART, TX and RX enabled */
}
static int tx_full(void) { return (UART_FR & FR_TXFF) != 0; }
static void tx(uint8_t c) { UART_DR = c; }
static int rx_ready(void) { return !(UART_FR & FR_RXFE); }
static uint8_t rx(void) { return (uint8_t)(UART_DR & 0xFF); }
#endif

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
    while (tx_full()) {}
    tx((uint8_t)c);
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

__attribute__((noipa)) static void execute(const char *line)
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
    } else if (starts(line, "noise", &rest) && parse(&rest, &a) && parse(&rest, &b)) {
        uint32_t x = (uint32_t)b ? (uint32_t)b : 1u;
        for (int32_t i = 0; i < a; i++) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            putc_((char)(x >> 24));
        }
    } else if (*line) {
        puts_("?");
    }
    if (*line) puts_("\r\n");
}

int main(void)
{
    static char line[80];
    unsigned n = 0;
#ifdef BOOT_WORK
    /* an interpreter or RTOS setting itself up: work before the first prompt */
    for (volatile uint32_t i = 0; i < BOOT_WORK; i++) {}
#endif
    uart_init();
    puts_("\r\ntinyrepl 0.3 (c) Example Vendor\r\n> ");
    for (;;) {
        if (!rx_ready()) continue;
        char c = (char)rx();
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
