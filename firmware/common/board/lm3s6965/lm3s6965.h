/* LM3S6965 register map (only what the board code uses). */
#ifndef QSM_LM3S6965_H
#define QSM_LM3S6965_H

#include "cm.h"

/* System control */
#define SYSCTL_RCC     REG32(0x400FE060u)
#define SYSCTL_RCGC1   REG32(0x400FE104u)
#define SYSCTL_RCGC2   REG32(0x400FE108u)
#define RCGC1_UART0    (1u << 0)
#define RCGC2_GPIOA    (1u << 0)

/* GPIO port A (UART0 RX/TX on PA0/PA1) */
#define GPIOA_AFSEL    REG32(0x40004420u)
#define GPIOA_DEN      REG32(0x4000451Cu)

/* UART0 (PL011 derivative) */
#define UART0_DR       REG32(0x4000C000u)
#define UART0_FR       REG32(0x4000C018u)
#define UART0_IBRD     REG32(0x4000C024u)
#define UART0_FBRD     REG32(0x4000C028u)
#define UART0_LCRH     REG32(0x4000C02Cu)
#define UART0_CTL      REG32(0x4000C030u)
#define UART0_IFLS     REG32(0x4000C034u)
#define UART0_IM       REG32(0x4000C038u)
#define UART0_MIS      REG32(0x4000C040u)
#define UART0_ICR      REG32(0x4000C044u)

#define UART_FR_RXFE   (1u << 4)
#define UART_FR_TXFF   (1u << 5)
#define UART_FR_BUSY   (1u << 3)
#define UART_LCRH_FEN  (1u << 4)
#define UART_LCRH_WLEN8 (3u << 5)
#define UART_CTL_UARTEN (1u << 0)
#define UART_CTL_TXE   (1u << 8)
#define UART_CTL_RXE   (1u << 9)
#define UART_INT_RX    (1u << 4)
#define UART_INT_RT    (1u << 6)

#define IRQ_UART0      5u

/* Frequency output: general-purpose timer 0 (32-bit periodic) toggles PF0 */
#define RCGC1_TIMER0   (1u << 16)
#define RCGC2_GPIOF    (1u << 5)
#define GPIOF_PF0      REG32(0x40025004u)   /* data, address-masked to PF0 */
#define GPIOF_DIR      REG32(0x40025400u)
#define GPIOF_DEN      REG32(0x4002551Cu)
#define TIMER0_CFG     REG32(0x40030000u)
#define TIMER0_TAMR    REG32(0x40030004u)
#define TIMER0_CTL     REG32(0x4003000Cu)
#define TIMER0_IMR     REG32(0x40030018u)
#define TIMER0_ICR     REG32(0x40030024u)
#define TIMER0_TAILR   REG32(0x40030028u)
#define TIMER_TAMR_PERIODIC 0x2u
#define TIMER_CTL_TAEN (1u << 0)
#define TIMER_TATO     (1u << 0)
#define IRQ_TIMER0A    19u
#define LM3S6965_NUM_IRQS 44u

#endif
