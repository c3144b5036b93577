#include "washer.h"
#include "con.h"

/* Program timing, all in ms of program time (see hal_time_scale()). */
#define S(x)                ((uint32_t)(x) * 1000u)
#define WASH_RPM            50u
#define FILL_TIMEOUT_MS     S(120)   /* nominal fill: 100 mm at 2.5 mm/s = 40 s */
#define DRAIN_TIMEOUT_MS    S(120)   /* nominal drain: 100 mm at 3 mm/s = 34 s */
#define DRAIN_MIN_MS        S(30)    /* keep pumping a while even when empty */

static const washer_program_t programs[] = {
    /* name        temp  spin  wash rinse spin (s) */
    { "cotton",     60, 1200,  100,  60,  70 },
    { "synthetic",  40,  800,   80,  50,  50 },
    { "quick",       0,  800,   40,  30,  40 },
    { "wool",       30,  600,   60,  40,  30 },
};
#define NPROGRAMS (sizeof(programs) / sizeof(programs[0]))

static const char *const state_names[WS_COUNT] = {
    "IDLE", "FILL", "WASH", "RINSE", "SPIN", "DRAIN", "DONE", "FAULT",
};

static const char *const fault_names[WF_MAX + 1] = {
    "", "DOOR_OPEN", "OVERFILL", "IMBALANCE", "OVERTEMP", "FILL_TIMEOUT", "DRAIN_TIMEOUT",
};

static washer_state_t state;
static const washer_program_t *program;
static uint32_t state_ms;        /* program time spent in the current state */
static uint32_t faults;          /* active (latched) faults, bit = code */
static int stop_requested;       /* DRAIN ends in IDLE instead of DONE */
static int lock_released;        /* DRAIN/FAULT: lock dropped once safe */
static hal_sensors_t sens;
static hal_outputs_t out;

/* Contract: found by symbol (firmware/README.md, "Program clock"). */
washer_program_stats_t program_stats;
static volatile washer_program_stats_t *const ps = &program_stats;

/* Event queue: state names and fault codes waiting to be printed. */
#define EVQ_SIZE 16u
typedef struct { uint8_t is_fault; uint8_t value; uint32_t at_ms; } event_t;
static event_t evq[EVQ_SIZE];
static unsigned evq_len;

static void queue_event(int is_fault, unsigned value)
{
    if (evq_len < EVQ_SIZE)
        evq[evq_len++] = (event_t){ (uint8_t)is_fault, (uint8_t)value, ps->ms };
}

void washer_flush_events(void)
{
    for (unsigned i = 0; i < evq_len; i++) {
        if (evq[i].is_fault)
            con_line("EVT fault %u %s", evq[i].value, fault_names[evq[i].value]);
        else
            con_line("EVT state %s at=%u", state_names[evq[i].value],
                     (unsigned)evq[i].at_ms);
    }
    evq_len = 0;
}

static int running(washer_state_t s)
{
    return s >= WS_FILL && s <= WS_DRAIN;
}

static int is_safe(void)
{
    return sens.drum_rpm == 0 && sens.water_mm <= WASHER_SAFE_LEVEL_MM;
}

static void enter(washer_state_t s)
{
    if (s == state)
        return;
    state = s;
    state_ms = 0;
    lock_released = 0;
    if (s == WS_IDLE) {
        program = 0;
        stop_requested = 0;
    }
    queue_event(0, s);
}

static void raise_fault(washer_fault_t code)
{
    uint32_t bit = 1u << code;
    if (!(faults & bit)) {
        faults |= bit;
        queue_event(1, code);
    }
    if (state != WS_FAULT) {
        stop_requested = 0;
        enter(WS_FAULT);
        /* If the lock is not engaged and the door is open, FAULT does not try
         * to lock it (that would itself be a door fault). */
        if (!out.lock && !sens.door_closed)
            lock_released = 1;
    }
}

/* Outputs for the current state (contract table). */
static void compute_outputs(void)
{
    hal_outputs_t o = { 0, 0, 0, 0, 0, 0 };

    switch (state) {
    case WS_IDLE:
    case WS_DONE:
        break;
    case WS_FILL:
        o.valve = 1;
        o.lock = 1;
        break;
    case WS_WASH:
        o.motor = 1;
        o.motor_rpm = WASH_RPM;
        o.heater = (program && sens.temp_c < program->temp_c) ? 1u : 0u;
        o.lock = 1;
        break;
    case WS_RINSE:
        o.motor = 1;
        o.motor_rpm = WASH_RPM;
        o.valve = 1;
        o.pump = 1;
        o.lock = 1;
        break;
    case WS_SPIN:
        o.motor = 1;
        o.motor_rpm = program ? program->spin_rpm : 0u;
        o.pump = 1;
        o.lock = 1;
        break;
    case WS_DRAIN:
        o.pump = 1;
        if (!lock_released && is_safe())
            lock_released = 1;
        o.lock = lock_released ? 0u : 1u;
        break;
    case WS_FAULT:
        o.pump = sens.water_mm > WASHER_SAFE_LEVEL_MM ? 1u : 0u;
        if (!lock_released && is_safe())
            lock_released = 1;
        o.lock = lock_released ? 0u : 1u;
        break;
    default:
        break;
    }
    out = o;
    hal_write(&out);
}

static void check_faults(void)
{
    if (!sens.door_closed && out.lock)
        raise_fault(WF_DOOR_OPEN);
    if (sens.water_mm > WASHER_OVERFILL_MM)
        raise_fault(WF_OVERFILL);
    if (state == WS_SPIN && sens.imbalance_pct >= WASHER_IMBALANCE_PCT)
        raise_fault(WF_IMBALANCE);
    if (sens.temp_c > WASHER_MAX_TEMP_C)
        raise_fault(WF_OVERTEMP);
    if (state == WS_FILL && state_ms >= FILL_TIMEOUT_MS)
        raise_fault(WF_FILL_TIMEOUT);
    if (state == WS_DRAIN && state_ms >= DRAIN_TIMEOUT_MS &&
        sens.water_mm > WASHER_SAFE_LEVEL_MM)
        raise_fault(WF_DRAIN_TIMEOUT);
}

static void sequence(void)
{
    switch (state) {
    case WS_FILL:
        if (sens.water_mm >= WASHER_FILL_LEVEL_MM)
            enter(WS_WASH);
        break;
    case WS_WASH:
        if (state_ms >= S(program->wash_s))
            enter(WS_RINSE);
        break;
    case WS_RINSE:
        if (state_ms >= S(program->rinse_s))
            enter(WS_SPIN);
        break;
    case WS_SPIN:
        if (state_ms >= S(program->spin_s))
            enter(WS_DRAIN);
        break;
    case WS_DRAIN:
        if (state_ms >= DRAIN_MIN_MS && is_safe())
            enter(stop_requested ? WS_IDLE : WS_DONE);
        break;
    case WS_DONE:
        if (!sens.door_closed)
            enter(WS_IDLE);
        break;
    default:
        break;
    }
}

void washer_init(void)
{
    state = WS_IDLE;
    program = 0;
    state_ms = 0;
    faults = 0;
    stop_requested = 0;
    lock_released = 0;
    evq_len = 0;
    ps->ms = ps->heater_ms = 0;
    ps->max_temp_c = 0;
    hal_read(&sens);
    compute_outputs();
}

void washer_step(uint32_t dt_ms)
{
    hal_read(&sens);
    state_ms = (state_ms + dt_ms >= state_ms) ? state_ms + dt_ms : UINT32_MAX;
    if (running(state)) {          /* the outputs of the last step held during dt_ms */
        ps->ms += dt_ms;
        if (out.heater)
            ps->heater_ms += dt_ms;
        if (sens.temp_c > ps->max_temp_c)
            ps->max_temp_c = sens.temp_c;
    }
    check_faults();
    sequence();
    compute_outputs();
}

washer_result_t washer_start(const char *name)
{
    const washer_program_t *p = 0;
    for (unsigned i = 0; i < NPROGRAMS; i++) {
        const char *a = name, *b = programs[i].name;
        while (*a && *a == *b) {
            a++;
            b++;
        }
        if (*a == *b) {
            p = &programs[i];
            break;
        }
    }
    if (!p)
        return WR_UNKNOWN_PROGRAM;
    if (state == WS_FAULT)
        return WR_FAULT_ACTIVE;
    if (running(state))
        return WR_BUSY;
    hal_read(&sens);
    if (!sens.door_closed)
        return WR_DOOR_OPEN;

    program = p;
    stop_requested = 0;
    ps->ms = ps->heater_ms = 0;
    ps->max_temp_c = sens.temp_c;
    enter(WS_FILL);
    compute_outputs();
    return WR_OK;
}

washer_result_t washer_stop(void)
{
    if (!running(state))
        return WR_IDLE;
    stop_requested = 1;
    if (state != WS_DRAIN) {
        hal_read(&sens);
        enter(WS_DRAIN);
        compute_outputs();
    }
    return WR_OK;
}

washer_result_t washer_clear(void)
{
    if (state != WS_FAULT) {
        faults = 0;
        return WR_OK;
    }
    hal_read(&sens);
    if (!is_safe())
        return WR_NOT_SAFE;
    faults = 0;
    enter(WS_IDLE);
    compute_outputs();
    return WR_OK;
}

washer_result_t washer_unlock(void)
{
    if (running(state))
        return WR_PROGRAM_RUNNING;
    hal_read(&sens);
    if (sens.drum_rpm != 0)
        return WR_DRUM_TURNING;
    if (sens.water_mm > WASHER_SAFE_LEVEL_MM)
        return WR_WATER_ABOVE_SAFE;
    lock_released = 1;            /* only FAULT can still hold the lock here */
    compute_outputs();
    return WR_OK;
}

washer_state_t washer_state(void) { return state; }
const washer_program_t *washer_program(void) { return program; }
uint32_t washer_fault_mask(void) { return faults; }
const hal_outputs_t *washer_outputs(void) { return &out; }

const char *washer_state_name(washer_state_t s)
{
    return (unsigned)s < WS_COUNT ? state_names[s] : "?";
}

const char *washer_fault_name(unsigned code)
{
    return (code >= 1 && code <= WF_MAX) ? fault_names[code] : "?";
}
