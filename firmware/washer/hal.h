/* QSM-W washer hardware abstraction: sensors in, actuators out.
 * hal_sim.c implements it on the emulated chip (struct stimulus / outputs);
 * a hardware build would implement the same calls on GPIO/ADC/PWM. */
#ifndef WASHER_HAL_H
#define WASHER_HAL_H

#include <stdint.h>

/* Sensor snapshot. */
typedef struct {
    int32_t door_closed;    /* 1 closed, 0 open */
    int32_t water_mm;       /* water level */
    int32_t drum_rpm;       /* measured drum speed */
    int32_t temp_c;         /* water temperature */
    int32_t imbalance_pct;  /* load imbalance */
} hal_sensors_t;

/* Actuator commands. Same layout as the contract's struct `outputs`. */
typedef struct {
    uint32_t motor;         /* 0/1 */
    uint32_t motor_rpm;     /* commanded rpm */
    uint32_t valve;         /* inlet valve 0/1 */
    uint32_t pump;          /* drain pump 0/1 */
    uint32_t heater;        /* 0/1 */
    uint32_t lock;          /* door lock 0/1 */
} hal_outputs_t;

void hal_init(void);
void hal_read(hal_sensors_t *s);
void hal_write(const hal_outputs_t *o);
/* Program milliseconds that elapse per 1 ms tick (1 on real hardware). */
uint32_t hal_time_scale(void);
/* Called once per 1 ms tick after the controller ran; dt_ms is program time.
 * The emulated build advances its plant model here. */
void hal_tick(uint32_t dt_ms);

#endif
