/* 1 ms system tick from SysTick. */
#ifndef QSM_TICK_H
#define QSM_TICK_H

#include <stdint.h>

/* Start SysTick at 1 kHz from the board's SysTick clock. */
void tick_init(void);
/* Milliseconds since tick_init() (wraps after ~49 days). */
uint32_t tick_ms(void);

#endif
