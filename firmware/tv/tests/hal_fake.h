#ifndef TV_HAL_FAKE_H
#define TV_HAL_FAKE_H
#include "hal.h"
extern hal_outputs_t fake_outputs;
extern uint32_t fake_leak_ua;
#endif
