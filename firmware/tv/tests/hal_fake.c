/* Fake HAL for the TV unit tests: outputs kept, leak set by the test. */
#include "hal.h"
#include "hal_fake.h"

hal_outputs_t fake_outputs;
uint32_t fake_leak_ua;

void hal_init(void) { fake_leak_ua = 0; }
void hal_write(const hal_outputs_t *o) { fake_outputs = *o; }
uint32_t hal_standby_leak_ua(void) { return fake_leak_ua; }
int hal_ir_capture(const uint16_t **us, uint32_t *gap_us, uint32_t *seq)
{
    (void)us;
    (void)gap_us;
    (void)seq;
    return -1;
}
