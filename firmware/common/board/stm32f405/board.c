/* Board support for the STM32F405 as emulated by QEMU's netduinoplus2 machine:
 * clocks, IRQ vector table.
 *
 * Clocks: the board runs the core at 168 MHz (HSE 25 MHz * PLL), APB2 at
 * 84 MHz and APB1 at 42 MHz. QEMU 7.2 models no RCC: its netduinoplus2 clocks
 * the core, and SysTick with CLKSOURCE = processor clock, at 168 MHz from the
 * virtual clock (host time), so reload 167999 is 1 ms; it ignores the USART
 * baud-rate register. A hardware build would program RCC/PLL and flash wait
 * states here before raising the clock. */
#include <stdint.h>
#include "board.h"
#include "stm32f405.h"

#define BOARD_CORE_HZ 168000000u
#define BOARD_APB1_HZ  42000000u
#define BOARD_APB2_HZ  84000000u

void USART1_IRQHandler(void);
void USART2_IRQHandler(void);
void Default_Handler(void);

typedef void (*vector_t)(void);

/* Device IRQ vectors, right after the 16 core vectors of startup.c. */
#define D Default_Handler
__attribute__((section(".isr_vector_irq"), used))
const vector_t board_irq_vectors[STM32F405_NUM_IRQS] = {
    D, D, D, D, D, D, D, D, D, D,        /*  0-9  WWDG .. EXTI4 */
    D, D, D, D, D, D, D, D, D, D,        /* 10-19 DMA1 streams, ADC, CAN1 */
    D, D, D, D, D, D, D, D, D, D,        /* 20-29 CAN1, EXTI9_5, TIM1, TIM2-3 */
    D, D, D, D, D, D, D,                 /* 30-36 TIM4, I2C1-2, SPI1-2 */
    USART1_IRQHandler,                   /* 37    USART1 */
    USART2_IRQHandler,                   /* 38    USART2 */
    D, D, D, D, D, D, D, D, D, D, D,     /* 39-49 USART3 .. SDIO */
    D, D, D, D, D, D, D, D, D, D,        /* 50-59 TIM5 .. DMA2 streams */
    D, D, D, D, D, D, D, D, D, D,        /* 60-69 DMA2, ETH, CAN2, OTG_FS */
    D, D, D, D, D, D, D, D, D, D, D, D,  /* 70-81 DMA2, USART6 .. FPU */
};
#undef D

void board_init(void)
{
    /* Nothing to do before the UARTs: they enable their own clocks. */
}

uint32_t board_systick_hz(void)
{
    return BOARD_CORE_HZ;
}

int board_systick_clksource(void)
{
    return 1;                        /* processor clock */
}

uint32_t board_apb_clock_hz(uint32_t base);
uint32_t board_apb_clock_hz(uint32_t base)
{
    return base >= 0x40010000u ? BOARD_APB2_HZ : BOARD_APB1_HZ;
}

/* No frequency output on this board: the call only records the request. */
void board_freq_out(uint32_t hz)
{
    (void)hz;
}
