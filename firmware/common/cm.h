/* Cortex-M core registers and intrinsics shared by all chips (ARMv7-M). */
#ifndef QSM_CM_H
#define QSM_CM_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* SysTick */
#define SYST_CSR   REG32(0xE000E010u)
#define SYST_RVR   REG32(0xE000E014u)
#define SYST_CVR   REG32(0xE000E018u)
#define SYST_CSR_ENABLE    (1u << 0)
#define SYST_CSR_TICKINT   (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2)   /* 1 = processor clock */

/* NVIC */
#define NVIC_ISER(n) REG32(0xE000E100u + 4u * (n))
#define NVIC_ICER(n) REG32(0xE000E180u + 4u * (n))
#define NVIC_ICPR(n) REG32(0xE000E280u + 4u * (n))

/* System control block */
#define SCB_VTOR   REG32(0xE000ED08u)
#define SCB_AIRCR  REG32(0xE000ED0Cu)
#define SCB_SCR    REG32(0xE000ED10u)
#define SCB_CCR    REG32(0xE000ED14u)
#define SCB_CFSR   REG32(0xE000ED28u)
#define SCB_HFSR   REG32(0xE000ED2Cu)
#define SCB_CPACR  REG32(0xE000ED88u)

static inline void nvic_enable_irq(unsigned irq)
{
    NVIC_ICPR(irq >> 5) = 1u << (irq & 31u);
    NVIC_ISER(irq >> 5) = 1u << (irq & 31u);
}

static inline void cm_irq_disable(void) { __asm volatile ("cpsid i" ::: "memory"); }
static inline void cm_irq_enable(void)  { __asm volatile ("cpsie i" ::: "memory"); }
static inline void cm_wfi(void)         { __asm volatile ("wfi" ::: "memory"); }
static inline void cm_dsb(void)         { __asm volatile ("dsb" ::: "memory"); }
static inline void cm_isb(void)         { __asm volatile ("isb" ::: "memory"); }

#endif
