/* Second UART (UART1) as a raw byte channel, e.g. SLCAN.
 * Same semantics as uart.h: blocking transmit, interrupt-driven receive. */
#ifndef QSM_AUX_UART_H
#define QSM_AUX_UART_H

#include <stdint.h>

void aux_uart_init(uint32_t baud);
void aux_uart_putc(char c);
int  aux_uart_getc(void);             /* -1 when empty */
int  aux_uart_rx_pending(void);
uint32_t aux_uart_rx_overruns(void);
/* Block until the last written byte has left the transmitter. */
void aux_uart_flush(void);

#endif
