/* STM32F405 register map (only what the board code uses), as emulated by
 * QEMU's netduinoplus2 machine (QEMU 7.2: USART1-6, SysTick; RCC and GPIO are
 * unimplemented devices there: writes are ignored, reads return 0). */
#ifndef QSM_STM32F405_H
#define QSM_STM32F405_H

#include "cm.h"

/* Reset and clock control */
#define RCC_APB1ENR    REG32(0x40023840u)
#define RCC_APB2ENR    REG32(0x40023844u)
#define RCC_APB1_USART2EN (1u << 17)
#define RCC_APB2_USART1EN (1u << 4)

/* USART register block */
#define USART1_BASE    0x40011000u
#define USART2_BASE    0x40004400u
#define USART_SR(b)    REG32((b) + 0x00u)
#define USART_DR(b)    REG32((b) + 0x04u)
#define USART_BRR(b)   REG32((b) + 0x08u)
#define USART_CR1(b)   REG32((b) + 0x0Cu)
#define USART_CR2(b)   REG32((b) + 0x10u)
#define USART_CR3(b)   REG32((b) + 0x14u)

#define USART_SR_ORE   (1u << 3)
#define USART_SR_RXNE  (1u << 5)
#define USART_SR_TC    (1u << 6)
#define USART_SR_TXE   (1u << 7)
#define USART_CR1_RE   (1u << 2)
#define USART_CR1_TE   (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_CR1_UE   (1u << 13)

#define IRQ_USART1     37u
#define IRQ_USART2     38u
#define STM32F405_NUM_IRQS 82u

#endif
