/* Console UART driver for the LM3S6965 UART0: 8N1, FIFOs on, blocking
 * transmit, interrupt-driven receive into a ring buffer. */
#include "uart.h"
#include "ringbuf.h"
#include "lm3s6965.h"

uint32_t board_uart_clock_hz(void);

static ringbuf_t rx;
static volatile uint32_t rx_overruns;

void uart_init(uint32_t baud)
{
    ringbuf_reset(&rx);
    rx_overruns = 0;

    UART0_CTL = 0;
    /* divisor = clk / (16 * baud), 6 fractional bits, rounded */
    uint32_t div64 = (board_uart_clock_hz() * 4u + baud / 2u) / baud;
    UART0_IBRD = div64 >> 6;
    UART0_FBRD = div64 & 0x3Fu;
    UART0_LCRH = UART_LCRH_WLEN8 | UART_LCRH_FEN;   /* 8N1, FIFOs enabled */
    UART0_CTL = UART_CTL_UARTEN | UART_CTL_TXE | UART_CTL_RXE;

    /* Drop whatever the receive FIFO still holds from before this boot.
     * QEMU 7.2 does not reset its PL011 model on system_reset: bytes that
     * arrived while the previous run was halted stay in the FIFO, and its
     * RX interrupt only fires when the fill level crosses the trigger, so
     * a non-empty FIFO would silence the console for good. */
    for (unsigned i = 0; i < 64u && !(UART0_FR & UART_FR_RXFE); i++)
        (void)UART0_DR;

    UART0_ICR = 0x7FFu;
    UART0_IM = UART_INT_RX | UART_INT_RT;           /* RX level + RX timeout */
    nvic_enable_irq(IRQ_UART0);
}

void UART0_IRQHandler(void)
{
    UART0_ICR = UART_INT_RX | UART_INT_RT;
    while (!(UART0_FR & UART_FR_RXFE)) {
        uint8_t b = (uint8_t)UART0_DR;               /* error bits 8-11 dropped */
        if (!ringbuf_put(&rx, b))
            rx_overruns++;
    }
}

void uart_putc(char c)
{
    while (UART0_FR & UART_FR_TXFF)
        ;
    UART0_DR = (uint8_t)c;
}

void uart_putc_polled(char c)
{
    uart_putc(c);
}

int uart_getc(void)
{
    return ringbuf_get(&rx);
}

int uart_rx_pending(void)
{
    return rx.head != rx.tail;
}

uint32_t uart_rx_overruns(void)
{
    return rx_overruns;
}
