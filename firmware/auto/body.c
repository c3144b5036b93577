#include "body.h"
#include "dtc.h"
#include "hal.h"

struct body body;

static uint32_t lamp_bad_ms, stall_ms, low_ms;
static uint32_t window_acc_ms;
static int reversing;                 /* moving down after a pinch */

void body_init(void)
{
    body.lights = 0;
    body.locked = 0;
    body.window_pos = 0;
    body.window_target = 0;
    body.window_dir = 0;
    body.crash = 0;
    body.pinch_count = 0;
    body.battery_mv = 0;
    lamp_bad_ms = stall_ms = low_ms = window_acc_ms = 0;
    reversing = 0;
}

static hal_outputs_t outputs(void)
{
    hal_outputs_t o = { body.lights, body.window_dir, body.window_pos };
    return o;
}

static void window_go(uint32_t target)
{
    body.window_target = target;
    body.window_dir = target > body.window_pos ? 1 : (target < body.window_pos ? -1 : 0);
    window_acc_ms = 0;
    stall_ms = 0;
}

static void window_stop(void)
{
    body.window_dir = 0;
    body.window_target = body.window_pos;
    reversing = 0;
}

static void window_tick(const hal_inputs_t *in, uint32_t ms)
{
    if (body.window_dir == 0)
        return;
    if (in->window_ma > WINDOW_PINCH_MA) {
        if (body.window_dir > 0 && !reversing && body.window_pos > 0) {
            /* anti-pinch: something is caught while closing, back off (a window
             * that cannot leave the open end is a stalled motor, below) */
            body.pinch_count++;
            reversing = 1;
            uint32_t back = body.window_pos > WINDOW_REVERSE ? body.window_pos - WINDOW_REVERSE : 0;
            window_go(back);
            body_event("pinch", body.window_pos);
            return;
        }
        stall_ms += ms;
        if (stall_ms >= STALL_DEBOUNCE_MS) {
            window_stop();
            if (dtc_report(DTC_WINDOW_STALL, 1))
                body_event("dtc", dtc_codes[DTC_WINDOW_STALL]);
        }
        return;
    }
    stall_ms = 0;
    window_acc_ms += ms;
    while (window_acc_ms >= WINDOW_MS_PER_PERCENT && body.window_dir != 0) {
        window_acc_ms -= WINDOW_MS_PER_PERCENT;
        body.window_pos = (uint32_t)((int32_t)body.window_pos + body.window_dir);
        if (body.window_pos == body.window_target) {
            body.window_dir = 0;
            reversing = 0;
        }
    }
}

static void monitors(const hal_inputs_t *in, uint32_t ms)
{
    body.battery_mv = (uint32_t)in->battery_mv;
    if (in->battery_mv < LOW_VOLTAGE_MV) {
        low_ms += ms;
        if (low_ms >= LOW_VOLTAGE_MS && dtc_report(DTC_LOW_VOLTAGE, 1))
            body_event("dtc", dtc_codes[DTC_LOW_VOLTAGE]);
    } else {
        low_ms = 0;
        if (in->battery_mv >= LOW_VOLTAGE_CLEAR_MV)
            dtc_report(DTC_LOW_VOLTAGE, 0);
    }
    if (body.lights) {
        if (in->lamp_ma < LAMP_MIN_MA) {
            lamp_bad_ms += ms;
            if (lamp_bad_ms >= LAMP_DEBOUNCE_MS && dtc_report(DTC_LAMP_OPEN, 1))
                body_event("dtc", dtc_codes[DTC_LAMP_OPEN]);
        } else {
            lamp_bad_ms = 0;
            dtc_report(DTC_LAMP_OPEN, 0);
        }
    } else {
        lamp_bad_ms = 0;
    }
}

void body_tick(uint32_t ms)
{
    hal_inputs_t in;
    hal_outputs_t o = outputs();
    hal_read(&o, &in);
    monitors(&in, ms);
    window_tick(&in, ms);
}

int body_command(const uint8_t *d, uint8_t dlc)
{
    if (dlc < 2)
        return -1;
    switch (d[0]) {
    case 0x01:
        if (d[1] & ~LIGHT_MASK)
            return -1;
        body.lights = d[1] | (body.crash ? LIGHT_HAZARD : 0u);
        return 0;
    case 0x02:
        if (d[1] > 1)
            return -1;
        if (d[1] == 1 && body.crash)
            return -1;        /* no locking after a crash until reset */
        body.locked = d[1];
        body_event(d[1] ? "lock" : "unlock", 0);
        return 0;
    case 0x03:
        if (d[1] > 100)
            return -1;
        reversing = 0;
        window_go(d[1]);
        return 0;
    default:
        return -1;
    }
}

void body_crash_signal(const uint8_t *d, uint8_t dlc)
{
    if (dlc < 1 || d[0] != 0xC5u)
        return;
    if (!body.crash)
        body_event("crash", 0);
    body.crash = 1;
    body.locked = 0;          /* crash unlock: let rescuers in */
    body.lights |= LIGHT_HAZARD;
}

void body_status_frame(uint8_t out[8], uint8_t session, uint8_t counter)
{
    uint32_t dv = body.battery_mv / 100u;
    out[0] = (uint8_t)body.lights;
    out[1] = (uint8_t)body.locked;
    out[2] = (uint8_t)body.window_pos;
    out[3] = (uint8_t)((body.crash ? 1u : 0u) | (body.window_dir ? 2u : 0u) |
                       (dtc_active_count() ? 4u : 0u));
    out[4] = (uint8_t)(dv >> 8);
    out[5] = (uint8_t)dv;
    out[6] = session;
    out[7] = counter;
}

uint8_t body_self_test(void)
{
    uint8_t result = 0;
    hal_inputs_t in;
    /* lamp check: all lamps on for the measurement */
    hal_outputs_t o = { LIGHT_LOW | LIGHT_HIGH, 0, body.window_pos };
    hal_read(&o, &in);
    if (in.lamp_ma < LAMP_MIN_MA)
        result |= SELFTEST_LAMP;
    if (in.battery_mv < LOW_VOLTAGE_MV)
        result |= SELFTEST_VOLTAGE;
    /* window motor: a short pulse opening (never towards a pinch) */
    o.lamps = 0;
    o.window_dir = -1;
    hal_read(&o, &in);
    if (in.window_ma > WINDOW_PINCH_MA || in.window_ma == 0)
        result |= SELFTEST_WINDOW;
    return result;
}

int body_busy(void)
{
    return body.window_dir != 0;
}
