/* Emulated HAL: IR captures and a standby-rail leak come from the `stimulus`
 * block in RAM (tests write it through debug memory access); the rails go to
 * `outputs`. Both are part of the harness contract (firmware/README.md,
 * "QSM-T"): real global structs found by symbol; do not rename or reorder. */
#include "hal.h"

#ifndef QSM_SIM
#error "hal_sim.c is the emulated build's HAL (SIM=1)"
#endif

#define IR_MAX_PULSES 80u

struct ir_capture {
    uint32_t seq;            /* bumped by the test once count/gap_us/us are written */
    uint32_t count;          /* durations in us[] */
    uint32_t gap_us;         /* idle time before the first mark */
    uint16_t us[IR_MAX_PULSES];   /* mark, space, mark, ... in microseconds */
};

struct stimulus {
    int32_t standby_leak_ua; /* extra current on the standby rail, uA */
    struct ir_capture ir;
};

struct outputs {
    uint32_t panel;
    uint32_t backlight;
    uint32_t audio;
    uint32_t standby_led;
    uint32_t supply_ua;
    uint32_t standby_over_budget;
};

_Static_assert(sizeof(struct outputs) == sizeof(hal_outputs_t), "outputs layout");

struct stimulus stimulus;
struct outputs outputs;

static volatile struct stimulus *const stim = &stimulus;
static volatile struct outputs *const outp = &outputs;
static uint32_t seq_seen;
static uint16_t capture[IR_MAX_PULSES];

void hal_init(void)
{
    stim->standby_leak_ua = 0;
    stim->ir.seq = 0;
    stim->ir.count = 0;
    stim->ir.gap_us = 0;
    seq_seen = 0;
    outp->panel = outp->backlight = outp->audio = 0;
    outp->standby_led = outp->supply_ua = outp->standby_over_budget = 0;
}

void hal_write(const hal_outputs_t *o)
{
    outp->panel = o->panel;
    outp->backlight = o->backlight;
    outp->audio = o->audio;
    outp->standby_led = o->standby_led;
    outp->supply_ua = o->supply_ua;
    outp->standby_over_budget = o->standby_over_budget;
}

uint32_t hal_standby_leak_ua(void)
{
    int32_t v = stim->standby_leak_ua;
    return v > 0 ? (uint32_t)v : 0u;
}

int hal_ir_capture(const uint16_t **us, uint32_t *gap_us, uint32_t *seq_out)
{
    uint32_t seq = stim->ir.seq;
    if (seq == seq_seen)
        return -1;
    uint32_t n = stim->ir.count;
    /* a capture longer than the buffer is passed on as too long: the decoder
     * rejects it without reading past what it needs */
    unsigned copy = n > IR_MAX_PULSES ? IR_MAX_PULSES : (unsigned)n;
    for (unsigned i = 0; i < copy; i++)
        capture[i] = stim->ir.us[i];
    *us = capture;
    *gap_us = stim->ir.gap_us;
    seq_seen = seq;
    *seq_out = seq;
    return n > 0xFFFFu ? 0xFFFF : (int)n;
}
