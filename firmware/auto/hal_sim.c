/* Emulated HAL: sensor values derive from the `stimulus` block (part of the
 * harness contract: a global struct found by symbol; do not rename, reorder
 * or make it static). Initialised data: a reset restores the defaults. */
#include "hal.h"

#ifndef QSM_SIM
#error "hal_sim.c is the emulated build's HAL (SIM=1)"
#endif

struct stimulus {
    int32_t battery_mv;       /* 12600 */
    int32_t lamp_open;        /* 0/1: lamp circuit open (no current when lit) */
    int32_t window_stall;     /* 0/1: window motor blocked in both directions */
    int32_t window_obstacle;  /* 0: none, else position (1..100) of an obstacle */
    int32_t time_scale;       /* program ms per 1 ms tick (1) */
};

struct stimulus stimulus = {
    .battery_mv = 12600,
    .lamp_open = 0,
    .window_stall = 0,
    .window_obstacle = 0,
    .time_scale = 1,
};

static volatile struct stimulus *const stim = &stimulus;

void hal_init(void)
{
}

void hal_read(const hal_outputs_t *o, hal_inputs_t *in)
{
    in->battery_mv = stim->battery_mv;
    in->lamp_ma = (o->lamps && !stim->lamp_open) ? 4200 : 0;
    if (o->window_dir == 0) {
        in->window_ma = 0;
    } else {
        int32_t obstacle = stim->window_obstacle;
        int blocked = stim->window_stall ||
                      (o->window_dir > 0 && obstacle > 0 &&
                       (int32_t)o->window_pos >= obstacle);
        in->window_ma = blocked ? 11000 : 2500;
    }
}

uint32_t hal_time_scale(void)
{
    int32_t s = stim->time_scale;
    return s < 1 ? 1u : (s > 1000 ? 1000u : (uint32_t)s);
}
