#ifndef QSM_FAULT_H
#define QSM_FAULT_H

#include <stdint.h>

/* Naked trampoline: picks MSP/PSP from EXC_RETURN and calls hardfault_report(). */
void HardFault_Handler(void);
/* Prints "*** HARDFAULT pc=.. lr=.. cfsr=.. hfsr=.." and "*** HALTED", stops. */
__attribute__((noreturn)) void hardfault_report(const uint32_t *frame);
/* Unexpected exception/IRQ number (IPSR): report and stop. */
__attribute__((noreturn)) void fault_halt_unexpected(uint32_t exception);
/* Stop the core for good: interrupts off, SysTick off, endless sleep loop. */
__attribute__((noreturn)) void fault_halt(void);

#endif
