/* HardFault report (contract: "*** HARDFAULT pc=0x%08x lr=0x%08x cfsr=0x%08x
 * hfsr=0x%08x", then "*** HALTED", then the core stops). */
#include "fault.h"
#include "cm.h"
#include "fmt.h"
#include "uart.h"
#include "con.h"

__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile (
        "tst   lr, #4          \n"   /* EXC_RETURN bit 2: 0 = MSP, 1 = PSP */
        "ite   eq              \n"
        "mrseq r0, msp         \n"
        "mrsne r0, psp         \n"
        "b     hardfault_report\n");
}

static void polled_out(char c, void *ctx)
{
    (void)ctx;
    uart_putc_polled(c);
}

__attribute__((format(printf, 1, 2)))
static void report(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    fmt_vformat(polled_out, 0, f, ap);
    va_end(ap);
}

void fault_halt(void)
{
    cm_irq_disable();
    SYST_CSR = 0;                    /* no tick: nothing left to wake the core */
    for (unsigned i = 0; i < 8; i++) {
        NVIC_ICER(i) = 0xFFFFFFFFu;
        NVIC_ICPR(i) = 0xFFFFFFFFu;
    }
    for (;;)
        cm_wfi();                    /* sleeps for good; no host CPU burnt in QEMU */
}

void hardfault_report(const uint32_t *frame)
{
    /* Stacked frame: r0 r1 r2 r3 r12 lr pc xpsr */
    uint32_t pc = frame[6], lr = frame[5], cfsr = SCB_CFSR, hfsr = SCB_HFSR;
    if (con_mid_line())
        report("\r\n");            /* the report must start on a line of its own */
    report("*** HARDFAULT pc=0x%08x lr=0x%08x cfsr=0x%08x hfsr=0x%08x\r\n",
           (unsigned)pc, (unsigned)lr, (unsigned)cfsr, (unsigned)hfsr);
    report("*** HALTED\r\n");
    fault_halt();
}

void fault_halt_unexpected(uint32_t exception)
{
    if (con_mid_line())
        report("\r\n");
    report("*** UNEXPECTED exception=%u\r\n", (unsigned)exception);
    report("*** HALTED\r\n");
    fault_halt();
}
