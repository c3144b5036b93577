#include "hal_fake.h"
#include "board.h"

hal_sensors_t fake_sensors;
hal_outputs_t fake_outputs;
unsigned fake_writes;

void fake_hal_reset(void)
{
    fake_sensors = (hal_sensors_t){ .door_closed = 1, .water_mm = 0, .drum_rpm = 0,
                                    .temp_c = 20, .imbalance_pct = 0 };
    fake_outputs = (hal_outputs_t){ 0, 0, 0, 0, 0, 0 };
    fake_writes = 0;
}

void hal_init(void) { fake_hal_reset(); }
void hal_read(hal_sensors_t *s) { *s = fake_sensors; }
void hal_write(const hal_outputs_t *o) { fake_outputs = *o; fake_writes++; }
uint32_t hal_time_scale(void) { return 1000u; }
void hal_tick(uint32_t dt_ms) { (void)dt_ms; }
