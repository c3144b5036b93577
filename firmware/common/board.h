/* Board interface: everything chip/board specific lives behind these calls.
 * One implementation per board under common/board/<board>/. */
#ifndef QSM_BOARD_H
#define QSM_BOARD_H

#include <stdint.h>

/* Clocks, pins, console UART. Called first thing in main, IRQs still masked. */
void board_init(void);

/* Frequency (Hz) of the clock that drives SysTick with the CLKSOURCE the
 * board selects (see board_systick_clksource()). */
uint32_t board_systick_hz(void);

/* 1: SysTick runs from the processor clock, 0: from the external reference. */
int board_systick_clksource(void);

/* Frequency output: a 50 % square wave of `hz` Hz on the board's frequency
 * output pin, toggled by a timer interrupt; 0 stops it with the pin low.
 * `freq_out` (board.c) counts the edges driven (see firmware/README.md). */
void board_freq_out(uint32_t hz);

#endif
