/* Body control logic: exterior lights, central locking with crash unlock,
 * power window with anti-pinch, and the monitors that raise DTCs. */
#ifndef QSM_BODY_H
#define QSM_BODY_H

#include <stdint.h>

#define LIGHT_LOW     0x01u
#define LIGHT_HIGH    0x02u
#define LIGHT_HAZARD  0x04u
#define LIGHT_MASK    0x07u

#define WINDOW_MS_PER_PERCENT 10u    /* full travel in 1 s of program time */
#define WINDOW_PINCH_MA       6000
#define WINDOW_REVERSE        25u    /* percent the window opens after a pinch */
#define LOW_VOLTAGE_MV        9000
#define LOW_VOLTAGE_CLEAR_MV  9500
#define LOW_VOLTAGE_MS        200u
#define LAMP_MIN_MA           500
#define LAMP_DEBOUNCE_MS      50u
#define STALL_DEBOUNCE_MS     50u

/* The body state (harness contract: a global struct found by symbol). */
struct body {
    uint32_t lights;          /* LIGHT_* bits commanded */
    uint32_t locked;          /* 1 locked */
    uint32_t window_pos;      /* 0 open .. 100 closed */
    uint32_t window_target;
    int32_t  window_dir;      /* +1 closing, -1 opening, 0 stopped */
    uint32_t crash;           /* 1 after a crash signal, until reset */
    uint32_t pinch_count;     /* anti-pinch reversals since boot */
    uint32_t battery_mv;      /* last measured */
};
extern struct body body;

/* Results of the last self-test routine: bit 0 lamp, 1 window motor, 2 voltage. */
#define SELFTEST_LAMP    0x01u
#define SELFTEST_WINDOW  0x02u
#define SELFTEST_VOLTAGE 0x04u

void body_init(void);
/* Advance by `ms` of program time. */
void body_tick(uint32_t ms);

/* Command frame (CAN_ID_BODY_CMD): [0] command, [1] argument.
 *   0x01 lights <mask>, 0x02 lock <1 lock / 0 unlock>, 0x03 window <0..100>
 * Returns 0 when accepted, -1 otherwise. */
int body_command(const uint8_t *data, uint8_t dlc);
/* Crash frame (CAN_ID_CRASH): data[0] == 0xC5 means a deployment. */
void body_crash_signal(const uint8_t *data, uint8_t dlc);
/* Status frame payload (8 bytes). `counter` is the rolling byte. */
void body_status_frame(uint8_t out[8], uint8_t session, uint8_t counter);
/* Self-test: runs the monitors once with every actuator; returns the bits. */
uint8_t body_self_test(void);
int body_busy(void);

/* Hook for events, printed on the console by main.c. */
void body_event(const char *what, uint32_t arg);

#endif
