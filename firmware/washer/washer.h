/* QSM-W washer controller: program state machine, door interlock, faults. */
#ifndef WASHER_H
#define WASHER_H

#include <stdint.h>
#include "hal.h"

typedef enum {
    WS_IDLE, WS_FILL, WS_WASH, WS_RINSE, WS_SPIN, WS_DRAIN, WS_DONE, WS_FAULT,
    WS_COUNT
} washer_state_t;

/* Fault codes (contract). Active faults are kept as a bit mask, bit = code. */
typedef enum {
    WF_DOOR_OPEN     = 1,
    WF_OVERFILL      = 2,
    WF_IMBALANCE     = 3,
    WF_OVERTEMP      = 4,
    WF_FILL_TIMEOUT  = 5,
    WF_DRAIN_TIMEOUT = 6,
    WF_MAX           = 6
} washer_fault_t;

/* Limits (contract). */
#define WASHER_FILL_LEVEL_MM   100
#define WASHER_OVERFILL_MM     150
#define WASHER_SAFE_LEVEL_MM   10
#define WASHER_MAX_TEMP_C      90
#define WASHER_IMBALANCE_PCT   30

typedef struct {
    const char *name;
    int32_t  temp_c;        /* wash temperature, 0 = no heating */
    uint32_t spin_rpm;
    uint32_t wash_s;        /* phase durations, seconds of program time */
    uint32_t rinse_s;
    uint32_t spin_s;
} washer_program_t;

typedef enum {
    WR_OK = 0,
    WR_UNKNOWN_PROGRAM,
    WR_DOOR_OPEN,
    WR_BUSY,
    WR_FAULT_ACTIVE,
    WR_NOT_SAFE,
    WR_DRUM_TURNING,
    WR_WATER_ABOVE_SAFE,
    WR_PROGRAM_RUNNING,
    WR_IDLE,
} washer_result_t;

/* The running (or last) program's clock, in ms of program time since its start: global
 * `program_stats` (contract). `EVT state` lines carry the same clock (`at=`). */
typedef struct {
    uint32_t ms;            /* program time since start, while FILL..DRAIN */
    uint32_t heater_ms;     /* of which with the heater on */
    int32_t  max_temp_c;    /* highest water temperature seen */
} washer_program_stats_t;

void washer_init(void);
/* One control step; dt_ms is the program time elapsed since the last step. */
void washer_step(uint32_t dt_ms);
/* Print queued "EVT ..." lines. Events are queued so that a command's answer
 * goes out before the events it caused. */
void washer_flush_events(void);

washer_result_t washer_start(const char *program);
washer_result_t washer_stop(void);        /* WR_OK: stopping, WR_IDLE: nothing ran */
washer_result_t washer_clear(void);
washer_result_t washer_unlock(void);

washer_state_t washer_state(void);
const char *washer_state_name(washer_state_t s);
const washer_program_t *washer_program(void);   /* NULL when none */
uint32_t washer_fault_mask(void);                 /* bit n = fault code n */
const char *washer_fault_name(unsigned code);
const hal_outputs_t *washer_outputs(void);

#endif
