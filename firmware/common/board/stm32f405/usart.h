/* STM32F4 USART driver, one instance per peripheral: blocking transmit,
 * interrupt-driven receive into a ring buffer. USART1 is the console (uart.h);
 * other instances serve chip links (the TV's HDMI-CEC-like line on USART2). */
#ifndef QSM_STM32_USART_H
#define QSM_STM32_USART_H

#include <stdint.h>
#include "ringbuf.h"

typedef struct {
    uint32_t base;
    unsigned irq;
    ringbuf_t rx;
    volatile uint32_t overruns;
} usart_t;

extern usart_t usart1;   /* console, QEMU -serial #0 */
extern usart_t usart2;   /* link, QEMU -serial #1 */

void usart_open(usart_t *u, uint32_t baud);
void usart_putc(usart_t *u, char c);
int usart_getc(usart_t *u);           /* -1 when nothing was received */
int usart_rx_pending(const usart_t *u);
uint32_t usart_rx_overruns(const usart_t *u);

#endif
