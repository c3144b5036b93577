#include "dtc.h"

/* B1001-13 lamp circuit open, B1002-71 window motor stuck, P0562-16 system
 * voltage low (first two bits of the 2-byte code: 00 P, 10 B). */
const uint32_t dtc_codes[DTC_COUNT] = { 0x900113u, 0x900271u, 0x056216u };

static uint8_t status[DTC_COUNT];

void dtc_init(void)
{
    dtc_clear_all();
}

int dtc_report(unsigned idx, int failed)
{
    if (idx >= DTC_COUNT)
        return 0;
    if (failed) {
        int newly = !(status[idx] & DTC_TEST_FAILED);
        status[idx] |= DTC_TEST_FAILED | DTC_FAILED_THIS_CYCLE | DTC_CONFIRMED;
        return newly;
    }
    status[idx] &= (uint8_t)~DTC_TEST_FAILED;
    return 0;
}

uint8_t dtc_status(unsigned idx)
{
    return idx < DTC_COUNT ? status[idx] : 0;
}

void dtc_clear_all(void)
{
    for (unsigned i = 0; i < DTC_COUNT; i++)
        status[i] = 0;
}

unsigned dtc_active_count(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < DTC_COUNT; i++)
        n += (status[i] & DTC_TEST_FAILED) ? 1u : 0u;
    return n;
}
