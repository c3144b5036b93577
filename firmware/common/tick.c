#include "tick.h"
#include "board.h"
#include "cm.h"

static volatile uint32_t ms_count;

void SysTick_Handler(void)
{
    ms_count++;
}

void tick_init(void)
{
    uint32_t reload = board_systick_hz() / 1000u;
    ms_count = 0;
    SYST_CSR = 0;
    SYST_RVR = reload - 1u;          /* 24-bit; fine for any clock below 16.7 GHz */
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT |
               (board_systick_clksource() ? SYST_CSR_CLKSOURCE : 0u);
}

uint32_t tick_ms(void)
{
    return ms_count;
}
