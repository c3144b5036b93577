/* CMSDK APB UART drivers: UART0 is the console (uart.h), UART1 the raw
 * auxiliary channel (aux_uart.h). The UART has a one-byte receive buffer:
 * the RX interrupt moves every byte into a ring buffer at once. */
#include "uart.h"
#include "aux_uart.h"
#include "ringbuf.h"
#include "mps2_an385.h"

uint32_t board_uart_clock_hz(void);

typedef struct {
    uint32_t base;
    ringbuf_t rx;
    volatile uint32_t overruns;
} port_t;

static port_t con = { .base = CMSDK_UART0_BASE };
static port_t aux = { .base = CMSDK_UART1_BASE };

static void port_init(port_t *p, uint32_t baud, unsigned irq)
{
    ringbuf_reset(&p->rx);
    p->overruns = 0;
    UART_CTRL(p->base) = 0;
    UART_BAUDDIV(p->base) = (board_uart_clock_hz() + baud / 2u) / baud;
    UART_INT(p->base) = UART_INT_TX | UART_INT_RX;
    UART_STATE(p->base) = UART_STATE_TXOVR | UART_STATE_RXOVR;
    UART_CTRL(p->base) = UART_CTRL_TXEN | UART_CTRL_RXEN | UART_CTRL_RXINTEN;
    nvic_enable_irq(irq);
}

static void port_rx_isr(port_t *p)
{
    UART_INT(p->base) = UART_INT_RX;
    while (UART_STATE(p->base) & UART_STATE_RXFULL) {
        uint8_t b = (uint8_t)UART_DATA(p->base);
        if (!ringbuf_put(&p->rx, b))
            p->overruns++;
    }
}

static void port_putc(port_t *p, char c)
{
    while (UART_STATE(p->base) & UART_STATE_TXFULL)
        ;
    UART_DATA(p->base) = (uint8_t)c;
}

void UART0_RX_IRQHandler(void) { port_rx_isr(&con); }
void UART1_RX_IRQHandler(void) { port_rx_isr(&aux); }

void uart_init(uint32_t baud) { port_init(&con, baud, IRQ_UART0_RX); }
void uart_putc(char c) { port_putc(&con, c); }
void uart_putc_polled(char c) { port_putc(&con, c); }
int uart_getc(void) { return ringbuf_get(&con.rx); }
int uart_rx_pending(void) { return con.rx.head != con.rx.tail; }
uint32_t uart_rx_overruns(void) { return con.overruns; }

void aux_uart_init(uint32_t baud) { port_init(&aux, baud, IRQ_UART1_RX); }
void aux_uart_putc(char c) { port_putc(&aux, c); }
int aux_uart_getc(void) { return ringbuf_get(&aux.rx); }
uint32_t aux_uart_rx_overruns(void) { return aux.overruns; }
int aux_uart_rx_pending(void) { return aux.rx.head != aux.rx.tail; }

void aux_uart_flush(void)
{
    while (UART_STATE(aux.base) & UART_STATE_TXFULL)
        ;
}
