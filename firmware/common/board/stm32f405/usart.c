#include "usart.h"
#include "stm32f405.h"

uint32_t board_apb_clock_hz(uint32_t base);

usart_t usart1 = { USART1_BASE, IRQ_USART1, { 0, 0, { 0 } }, 0 };
usart_t usart2 = { USART2_BASE, IRQ_USART2, { 0, 0, { 0 } }, 0 };

void usart_open(usart_t *u, uint32_t baud)
{
    ringbuf_reset(&u->rx);
    u->overruns = 0;
    if (u->base == USART1_BASE)
        RCC_APB2ENR |= RCC_APB2_USART1EN;
    else if (u->base == USART2_BASE)
        RCC_APB1ENR |= RCC_APB1_USART2EN;
    (void)RCC_APB1ENR;

    USART_CR1(u->base) = 0;
    /* oversampling by 16: BRR = f_apb / baud, rounded (mantissa.fraction/16) */
    USART_BRR(u->base) = (board_apb_clock_hz(u->base) + baud / 2u) / baud;
    USART_CR2(u->base) = 0;                        /* 1 stop bit */
    USART_CR3(u->base) = 0;
    (void)USART_SR(u->base);
    (void)USART_DR(u->base);                       /* drop a stale byte */
    USART_CR1(u->base) = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE;
    nvic_enable_irq(u->irq);
}

static void rx_irq(usart_t *u)
{
    while (USART_SR(u->base) & (USART_SR_RXNE | USART_SR_ORE)) {
        uint8_t b = (uint8_t)USART_DR(u->base);    /* reading DR clears RXNE and ORE */
        if (!ringbuf_put(&u->rx, b))
            u->overruns++;
    }
}

void USART1_IRQHandler(void);
void USART2_IRQHandler(void);
void USART1_IRQHandler(void) { rx_irq(&usart1); }
void USART2_IRQHandler(void) { rx_irq(&usart2); }

void usart_putc(usart_t *u, char c)
{
    while (!(USART_SR(u->base) & USART_SR_TXE))
        ;
    USART_DR(u->base) = (uint8_t)c;
}

int usart_getc(usart_t *u)
{
    return ringbuf_get(&u->rx);
}

int usart_rx_pending(const usart_t *u)
{
    return u->rx.head != u->rx.tail;
}

uint32_t usart_rx_overruns(const usart_t *u)
{
    return u->overruns;
}
