/* QSM-T hardware abstraction. hal_sim.c implements it on the emulated chip
 * (struct stimulus / outputs, found by symbol); a hardware build would read
 * the IR capture timer and drive the panel, backlight and amplifier rails. */
#ifndef TV_HAL_H
#define TV_HAL_H

#include <stdint.h>

/* Actuators; same layout as the contract's struct `outputs`. */
typedef struct {
    uint32_t panel;          /* panel power rail 0/1 */
    uint32_t backlight;      /* 0/1 */
    uint32_t audio;          /* audio amplifier 0/1 (off while muted) */
    uint32_t standby_led;    /* 0/1 */
    uint32_t supply_ua;      /* estimated supply current, uA */
    uint32_t standby_over_budget;   /* 1: in STANDBY above the budget */
} hal_outputs_t;

void hal_init(void);
void hal_write(const hal_outputs_t *o);
/* Extra current a test injects on the standby rail (a leaking load), uA. */
uint32_t hal_standby_leak_ua(void);

/* One new IR capture: returns its duration count (may exceed what *us holds:
 * the decoder rejects such a capture by its length) and points *us at the
 * durations, *gap_us at the idle time before it, *seq at its sequence number;
 * -1 when there is no new capture. */
int hal_ir_capture(const uint16_t **us, uint32_t *gap_us, uint32_t *seq);

#endif
