/* ARM MPS2 AN385 FPGA image (Cortex-M3), as emulated by QEMU's mps2-an385
 * machine: memory map, CMSDK APB UARTs, IRQ numbers. */
#ifndef QSM_MPS2_AN385_H
#define QSM_MPS2_AN385_H

#include "cm.h"

#define AN385_NUM_IRQS   32u
#define AN385_SYSCLK_HZ  25000000u   /* core and APB (UART baud divisors) */
#define AN385_REFCLK_HZ  1000000u    /* SysTick external reference clock */

/* CMSDK APB UART: one-byte RX and TX buffers, no FIFO. */
#define CMSDK_UART0_BASE 0x40004000u
#define CMSDK_UART1_BASE 0x40005000u
#define UART_DATA(b)     REG32((b) + 0x00u)
#define UART_STATE(b)    REG32((b) + 0x04u)
#define UART_CTRL(b)     REG32((b) + 0x08u)
#define UART_INT(b)      REG32((b) + 0x0Cu)   /* status (read) / clear (write 1) */
#define UART_BAUDDIV(b)  REG32((b) + 0x10u)

#define UART_STATE_TXFULL  (1u << 0)
#define UART_STATE_RXFULL  (1u << 1)
#define UART_STATE_TXOVR   (1u << 2)
#define UART_STATE_RXOVR   (1u << 3)
#define UART_CTRL_TXEN     (1u << 0)
#define UART_CTRL_RXEN     (1u << 1)
#define UART_CTRL_RXINTEN  (1u << 3)
#define UART_INT_TX        (1u << 0)
#define UART_INT_RX        (1u << 1)

/* RX interrupt of UART n is IRQ 2n, TX is 2n + 1. */
#define IRQ_UART0_RX 0u
#define IRQ_UART1_RX 2u

#endif
