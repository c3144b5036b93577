/* Console UART (uart.h) on USART1. */
#include "uart.h"
#include "usart.h"

void uart_init(uint32_t baud) { usart_open(&usart1, baud); }
void uart_putc(char c) { usart_putc(&usart1, c); }
void uart_putc_polled(char c) { usart_putc(&usart1, c); }
int uart_getc(void) { return usart_getc(&usart1); }
int uart_rx_pending(void) { return usart_rx_pending(&usart1); }
uint32_t uart_rx_overruns(void) { return usart_rx_overruns(&usart1); }
