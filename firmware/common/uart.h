/* Console UART driver interface (implemented per board).
 * Transmit is blocking; receive is interrupt driven into a ring buffer. */
#ifndef QSM_UART_H
#define QSM_UART_H

#include <stdint.h>

void uart_init(uint32_t baud);
void uart_putc(char c);
/* Returns the next received byte (0..255), or -1 when the buffer is empty. */
int  uart_getc(void);
/* Number of bytes lost because the receive ring buffer was full. */
uint32_t uart_rx_overruns(void);
/* Transmit without interrupts or buffers, usable from fault handlers. */
void uart_putc_polled(char c);
/* Nonzero while received bytes wait in the ring buffer. */
int  uart_rx_pending(void);

#endif
