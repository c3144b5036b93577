/* A HAL the tests drive directly: sensors are plain variables, the last
 * outputs written are kept, nothing moves by itself. */
#ifndef WASHER_HAL_FAKE_H
#define WASHER_HAL_FAKE_H

#include "hal.h"

extern hal_sensors_t fake_sensors;
extern hal_outputs_t fake_outputs;
extern unsigned fake_writes;

/* Door closed, empty, cold drum at rest; no writes yet. */
void fake_hal_reset(void);

#endif
