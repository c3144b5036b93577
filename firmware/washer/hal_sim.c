/* Emulated HAL: sensors come from the `stimulus` block in RAM (tests write it
 * through debug memory access), actuator commands go to `outputs`. With
 * stimulus.plant_enabled a small plant model moves water level, drum speed and
 * temperature from the outputs on every tick.
 *
 * The two objects below are part of the harness contract: real global
 * structs, found by symbol through DWARF. Do not rename, reorder or make them
 * static. */
#include "board.h"
#include "hal.h"

#ifndef QSM_SIM
#error "hal_sim.c is the emulated build's HAL (SIM=1)"
#endif

struct stimulus {
    int32_t door_closed;   /* 1 */
    int32_t water_level;   /* mm */
    int32_t drum_rpm;
    int32_t temperature;   /* deg C */
    int32_t imbalance;     /* % */
    int32_t valve_stuck;   /* 0/1: valve keeps filling while commanded off */
    int32_t heater_stuck;  /* 0/1: heater keeps heating while commanded off */
    int32_t plant_enabled; /* 1 */
    int32_t time_scale;    /* program ms per 1 ms tick */
};

struct outputs {
    uint32_t motor;
    uint32_t motor_rpm;
    uint32_t valve;
    uint32_t pump;
    uint32_t heater;
    uint32_t lock;
};

_Static_assert(sizeof(struct outputs) == sizeof(hal_outputs_t), "outputs layout");

/* Plain (non-volatile) objects so that their DWARF type is the struct
 * itself; all firmware accesses go through the volatile views below, since
 * the debugger changes `stimulus` behind the compiler's back. */
struct stimulus stimulus;
struct outputs outputs;

static volatile struct stimulus *const stim = &stimulus;
static volatile struct outputs *const outp = &outputs;

/* Default time scale: 1 ms tick = 1 s of program time, so a cotton program
 * (about 300 s of program time) runs in about 0.3 s. */
#define TIME_SCALE_DEFAULT 1000
#define TIME_SCALE_MAX     100000     /* keeps the fixed-point sums in range */

/* Plant model. Internal state is kept in fine units so that small time
 * scales integrate without losing fractions: water in um, temperature in
 * milli-degC, drum speed in milli-rpm. Rates are fine units per second of
 * program time; per() turns one into the change over dt ms of program time. */
#define AMBIENT_C          20
#define VALVE_UM_PER_S     2500       /* inlet valve: 2.5 mm/s */
#define PUMP_UM_PER_S      3000       /* drain pump: 3.0 mm/s */
#define HEAT_MC_PER_S      1000       /* heater: +1.0 degC/s */
#define COLD_MC_PER_S      300        /* cold inflow: -0.3 degC/s towards ambient */
#define LOSS_MC_PER_S      20         /* losses: -0.02 degC/s towards ambient */
#define DRUM_MRPM_PER_S    100000     /* drum accel/decel: 100 rpm/s */
#define WATER_MAX_UM       400000     /* the tub overflows at 400 mm */

static int32_t water_um, temp_mc, rpm_m;
/* Last values the plant published; a differing stimulus value means a test
 * wrote it, and the plant continues from there. */
static int32_t pub_water, pub_temp, pub_rpm;

/* Test-written values are clamped so that the fine-unit products stay in range. */
static int32_t clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* rate (fine units per s) over dt ms, in 32-bit arithmetic without overflow
 * for rates up to 1e5 and dt up to TIME_SCALE_MAX */
static int32_t per(int32_t rate, int32_t dt)
{
    return rate * (dt / 1000) + rate * (dt % 1000) / 1000;
}

static int32_t towards(int32_t v, int32_t target, int32_t step)
{
    if (v < target)
        return (target - v > step) ? v + step : target;
    if (v > target)
        return (v - target > step) ? v - step : target;
    return v;
}

void hal_init(void)
{
    stim->door_closed   = 1;
    stim->water_level   = 0;
    stim->drum_rpm      = 0;
    stim->temperature   = AMBIENT_C;
    stim->imbalance     = 0;
    stim->valve_stuck   = 0;
    stim->heater_stuck  = 0;
    stim->plant_enabled = 1;
    stim->time_scale    = TIME_SCALE_DEFAULT;

    outp->motor = outp->motor_rpm = outp->valve = 0;
    outp->pump = outp->heater = outp->lock = 0;

    water_um = 0;
    temp_mc = AMBIENT_C * 1000;
    rpm_m = 0;
    pub_water = 0;
    pub_temp = AMBIENT_C;
    pub_rpm = 0;
}

void hal_read(hal_sensors_t *s)
{
    s->door_closed   = stim->door_closed ? 1 : 0;
    s->water_mm      = stim->water_level;
    s->drum_rpm      = stim->drum_rpm;
    s->temp_c        = stim->temperature;
    s->imbalance_pct = stim->imbalance;
}

void hal_write(const hal_outputs_t *o)
{
    outp->motor     = o->motor;
    outp->motor_rpm = o->motor_rpm;
    outp->valve     = o->valve;
    outp->pump      = o->pump;
    outp->heater    = o->heater;
    outp->lock      = o->lock;
    /* motor speed reference: 1 Hz per commanded rpm while the motor runs */
    board_freq_out(o->motor ? o->motor_rpm : 0u);
}

uint32_t hal_time_scale(void)
{
    int32_t ts = stim->time_scale;
    if (ts < 0)
        return 0;                 /* 0 (or less) freezes program time */
    if (ts > TIME_SCALE_MAX)
        return TIME_SCALE_MAX;
    return (uint32_t)ts;
}

void hal_tick(uint32_t dt_ms)
{
    if (!stim->plant_enabled || dt_ms == 0)
        return;
    int32_t dt = (int32_t)dt_ms;

    /* Pick up values a test wrote while the plant was running or disabled. */
    if (stim->water_level != pub_water)
        water_um = clamp(stim->water_level, 0, WATER_MAX_UM / 1000) * 1000;
    if (stim->temperature != pub_temp)
        temp_mc = clamp(stim->temperature, -50, 150) * 1000;
    if (stim->drum_rpm != pub_rpm)
        rpm_m = clamp(stim->drum_rpm, -100000, 100000) * 1000;

    int valve  = outp->valve || stim->valve_stuck;
    int heater = outp->heater || stim->heater_stuck;

    /* Water: inflow and pump, clamped to an empty / overflowing tub. */
    if (valve)
        water_um += per(VALVE_UM_PER_S, dt);
    if (outp->pump)
        water_um -= per(PUMP_UM_PER_S, dt);
    if (water_um < 0)
        water_um = 0;
    if (water_um > WATER_MAX_UM)
        water_um = WATER_MAX_UM;

    /* Temperature: heater adds, cold inflow and losses pull towards ambient. */
    if (heater)
        temp_mc += per(HEAT_MC_PER_S, dt);
    temp_mc = towards(temp_mc, AMBIENT_C * 1000,
                      per((valve ? COLD_MC_PER_S : 0) + LOSS_MC_PER_S, dt));
    if (temp_mc > 150000)
        temp_mc = 150000;

    /* Drum follows the commanded speed (coasts to 0 with the motor off). */
    int32_t target = outp->motor ? (int32_t)outp->motor_rpm * 1000 : 0;
    rpm_m = towards(rpm_m, target, per(DRUM_MRPM_PER_S, dt));

    pub_water = water_um / 1000;
    pub_temp  = temp_mc / 1000;
    pub_rpm   = rpm_m / 1000;
    stim->water_level = pub_water;
    stim->temperature = pub_temp;
    stim->drum_rpm    = pub_rpm;
}
