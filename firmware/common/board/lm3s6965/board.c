/* Board support for the LM3S6965 (TI/Luminary Stellaris), as emulated by
 * QEMU's lm3s6965evb machine: clocks, pin muxing, IRQ vector table. */
#include <stdint.h>
#include "board.h"
#include "lm3s6965.h"

/* System clock.
 * The core runs from the reset clock configuration (RCC untouched).
 * QEMU 7.2 models that as 200 MHz / (RCC.SYSDIV + 1) = 200 / 16 = 12.5 MHz
 * and clocks SysTick from it, with CLKSOURCE = processor clock and also with
 * the external reference. Measured against host time in QEMU runs: reload
 * 12499 gives 1000 ticks per second of host time (+-0.02 %); reload 49999999
 * with the reference clock gives 0.25 ticks per second. QEMU's SysTick follows
 * the virtual clock, which tracks host time (no -icount), so a tick is 1 ms of
 * real time. A real LM3S6965 at reset runs from its 12 MHz +-30 % internal
 * oscillator; a hardware build would set up the PLL here and change this. */
#define BOARD_CORE_HZ 12500000u

void UART0_IRQHandler(void);
void TIMER0A_IRQHandler(void);
void Default_Handler(void);

typedef void (*vector_t)(void);

/* Device IRQ vectors; the linker script places them right after the 16 core
 * vectors of startup.c. */
#define D Default_Handler
__attribute__((section(".isr_vector_irq"), used))
const vector_t board_irq_vectors[LM3S6965_NUM_IRQS] = {
    D, D, D, D, D,              /*  0-4  GPIO A-E */
    UART0_IRQHandler,           /*  5    UART0 */
    D, D, D, D,                 /*  6-9  UART1 SSI0 I2C0 PWM fault */
    D, D, D, D,                 /* 10-13 PWM gen 0-2, QEI0 */
    D, D, D, D,                 /* 14-17 ADC seq 0-3 */
    D, TIMER0A_IRQHandler,      /* 18-19 WDT, timer 0A */
    D, D, D, D, D,              /* 20-24 timers 0B-2B */
    D, D, D, D, D,              /* 25-29 comparators, sysctl, flash */
    D, D, D, D, D, D, D,        /* 30-36 GPIO F-H, UART2, SSI1, timer 3A/3B */
    D, D, D, D, D, D, D,        /* 37-43 I2C1, QEI1, CAN0-2, ethernet, hibernate */
};
#undef D

uint32_t board_uart_clock_hz(void);

void board_init(void)
{
    SYSCTL_RCGC1 |= RCGC1_UART0;
    SYSCTL_RCGC2 |= RCGC2_GPIOA;
    (void)SYSCTL_RCGC2;              /* a few cycles before touching the GPIO */
    GPIOA_AFSEL |= 0x3u;             /* PA0 U0RX, PA1 U0TX */
    GPIOA_DEN   |= 0x3u;

    /* frequency output: PF0 driven by timer 0A, stopped until board_freq_out() */
    SYSCTL_RCGC1 |= RCGC1_TIMER0;
    SYSCTL_RCGC2 |= RCGC2_GPIOF;
    (void)SYSCTL_RCGC2;
    GPIOF_DIR |= 0x1u;
    GPIOF_DEN |= 0x1u;
    GPIOF_PF0 = 0;
    TIMER0_CTL = 0;
    TIMER0_CFG = 0;                  /* one 32-bit timer */
    TIMER0_TAMR = TIMER_TAMR_PERIODIC;
    TIMER0_ICR = TIMER_TATO;
    TIMER0_IMR = TIMER_TATO;
    nvic_enable_irq(IRQ_TIMER0A);
}

/* Frequency output state; part of the harness contract (firmware/README.md):
 * a global struct found by symbol, `edges` counts every level change of PF0. */
struct freq_out {
    uint32_t hz;       /* frequency being generated, 0 = off */
    uint32_t edges;    /* edges driven since boot (wraps) */
};
struct freq_out freq_out;

static volatile struct freq_out *const fo = &freq_out;

void TIMER0A_IRQHandler(void)
{
    TIMER0_ICR = TIMER_TATO;
    GPIOF_PF0 ^= 0x1u;
    fo->edges++;
}

void board_freq_out(uint32_t hz)
{
    if (hz == fo->hz)
        return;
    TIMER0_CTL = 0;
    fo->hz = hz;
    if (hz == 0 || hz > BOARD_CORE_HZ / 4u) {
        fo->hz = 0;
        if (GPIOF_PF0 & 0x1u) {
            GPIOF_PF0 = 0;
            fo->edges++;
        }
        return;
    }
    TIMER0_TAILR = BOARD_CORE_HZ / (2u * hz) - 1u;   /* one half period */
    TIMER0_CTL = TIMER_CTL_TAEN;
}

uint32_t board_systick_hz(void)
{
    return BOARD_CORE_HZ;
}

int board_systick_clksource(void)
{
    return 1;                        /* processor clock */
}

uint32_t board_uart_clock_hz(void)
{
    return BOARD_CORE_HZ;
}
