/* Generic Cortex-M startup: core vector table, reset handler, default handler.
 *
 * The vector table is split in two input sections that the board's linker
 * script places back to back in the output section .isr_vector:
 *   .isr_vector      16 core entries (this file)
 *   .isr_vector_irq  the device IRQ entries (board file)
 * so this file knows nothing about a particular chip. */
#include <stdint.h>
#include "cm.h"
#include "fault.h"

extern uint32_t _estack;          /* top of the main stack (linker script) */
extern uint32_t _sidata;          /* .data load address in flash */
extern uint32_t _sdata, _edata;   /* .data in RAM */
extern uint32_t _sbss, _ebss;     /* .bss in RAM */

int main(void);
void Reset_Handler(void);
void Default_Handler(void);

#define WEAK_DEFAULT __attribute__((weak, alias("Default_Handler")))
void NMI_Handler(void)        WEAK_DEFAULT;
void MemManage_Handler(void)  WEAK_DEFAULT;
void BusFault_Handler(void)   WEAK_DEFAULT;
void UsageFault_Handler(void) WEAK_DEFAULT;
void SVC_Handler(void)        WEAK_DEFAULT;
void DebugMon_Handler(void)   WEAK_DEFAULT;
void PendSV_Handler(void)     WEAK_DEFAULT;
void SysTick_Handler(void)    WEAK_DEFAULT;
/* HardFault_Handler is in fault.c */

typedef void (*vector_t)(void);

__attribute__((section(".isr_vector"), used))
const vector_t core_vectors[16] = {
    (vector_t)(uintptr_t)&_estack,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0, 0, 0, 0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
};

/* RAM is not cleared by a (QEMU system_) reset: always copy .data and zero .bss.
 * Plain loops on volatile-free pointers: keep GCC from turning them into
 * memcpy/memset calls that would run before .data exists. */
__attribute__((noreturn, optimize("no-tree-loop-distribute-patterns")))
void Reset_Handler(void)
{
    cm_irq_disable();

    uint32_t *src = &_sidata;
    uint32_t *dst = &_sdata;
    while (dst < &_edata)
        *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss; )
        *dst++ = 0;

    SCB_VTOR = (uint32_t)(uintptr_t)core_vectors;
#if defined(__ARM_FP)
    /* Cortex-M4F/M7: grant full access to CP10/CP11 before any FP code. */
    SCB_CPACR |= (0xFu << 20);
#endif
    cm_dsb();
    cm_isb();

    main();
    for (;;)
        cm_wfi();
}

/* Any exception nobody expects: report it like a fault and stop. */
void Default_Handler(void)
{
    uint32_t ipsr;
    __asm volatile ("mrs %0, ipsr" : "=r"(ipsr));
    fault_halt_unexpected(ipsr & 0x1FFu);
}
