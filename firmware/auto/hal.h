/* Body module sensors and actuators. The emulated build (hal_sim.c) reads the
 * `stimulus` block that tests write through debug memory access. */
#ifndef QSM_AUTO_HAL_H
#define QSM_AUTO_HAL_H

#include <stdint.h>

typedef struct {
    int32_t battery_mv;       /* supply voltage */
    int32_t lamp_ma;          /* current through the lit lamps */
    int32_t window_ma;        /* window motor current */
} hal_inputs_t;

/* Actuator state the HAL's plant model reacts to. */
typedef struct {
    uint32_t lamps;           /* lamp outputs on (bit mask) */
    int32_t window_dir;       /* +1 closing, -1 opening, 0 stopped */
    uint32_t window_pos;      /* 0 open .. 100 closed */
} hal_outputs_t;

void hal_init(void);
void hal_read(const hal_outputs_t *o, hal_inputs_t *in);
/* Program milliseconds per 1 ms tick (>= 1). */
uint32_t hal_time_scale(void);

#endif
