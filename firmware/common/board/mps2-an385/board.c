/* Board support for the MPS2 AN385 (Cortex-M3) as emulated by QEMU's
 * mps2-an385 machine: clock figures and the device IRQ vector table.
 * The FPGA needs no clock or pin set-up: the UARTs are always clocked. */
#include <stdint.h>
#include "board.h"
#include "mps2_an385.h"

void UART0_RX_IRQHandler(void);
void UART1_RX_IRQHandler(void);
void Default_Handler(void);

typedef void (*vector_t)(void);

#define D Default_Handler
__attribute__((section(".isr_vector_irq"), used))
const vector_t board_irq_vectors[AN385_NUM_IRQS] = {
    UART0_RX_IRQHandler, D,     /*  0-1  UART0 RX, TX */
    UART1_RX_IRQHandler, D,     /*  2-3  UART1 RX, TX */
    D, D,                       /*  4-5  UART2 RX, TX */
    D, D,                       /*  6-7  GPIO 0, 1 */
    D, D, D,                    /*  8-10 timer 0, 1, dual timer */
    D,                          /* 11    SPI */
    D,                          /* 12    UART 0-2 overflow */
    D,                          /* 13    ethernet */
    D, D, D,                    /* 14-16 audio I2S, touch screen, GPIO 2 */
    D,                          /* 17    GPIO 3 */
    D, D, D, D,                 /* 18-21 UART3 RX, TX, UART4 RX, TX */
    D, D, D, D, D, D, D, D, D, D /* 22-31 */
};
#undef D

void board_init(void)
{
}

/* SysTick runs from the 1 MHz reference clock. Measured in QEMU 7.2 against
 * host time: with CLKSOURCE = processor clock it counts ~43x faster than the
 * 25 MHz the board claims; the reference clock gives 1000 ticks per second of
 * host time with reload 999. */
uint32_t board_systick_hz(void)
{
    return AN385_REFCLK_HZ;
}

int board_systick_clksource(void)
{
    return 0;
}

uint32_t board_uart_clock_hz(void)
{
    return AN385_SYSCLK_HZ;
}
