/* QSM-T TV controller: power state machine, channel/volume/mute/input with
 * limits, standby current budget. */
#ifndef TV_H
#define TV_H

#include <stdint.h>
#include "hal.h"

typedef enum { TV_STANDBY, TV_BOOTING, TV_ON, TV_POWER_COUNT } tv_power_t;

typedef enum {
    TV_INPUT_TUNER, TV_INPUT_HDMI1, TV_INPUT_HDMI2, TV_INPUT_HDMI3, TV_INPUT_AV,
    TV_INPUT_COUNT
} tv_input_t;

/* Limits (contract). */
#define TV_CHANNEL_MIN     1
#define TV_CHANNEL_MAX     99
#define TV_CHANNEL_DEFAULT 1
#define TV_VOLUME_MAX      60
#define TV_VOLUME_DEFAULT  15
#define TV_BOOT_MS         150u          /* BOOTING -> ON */

/* Supply currents (uA) per load; the standby budget (contract). */
#define TV_UA_MCU          150u
#define TV_UA_IR           120u
#define TV_UA_CEC          100u
#define TV_UA_LED          50u
#define TV_UA_PANEL        900000u
#define TV_UA_BACKLIGHT    1200000u
#define TV_UA_AUDIO        250000u
#define TV_STANDBY_BUDGET_UA 500u

typedef enum {
    TR_OK = 0,
    TR_BAD_ARG,              /* out of range / unknown */
    TR_NOT_ON,               /* standby or booting */
} tv_result_t;

typedef struct {
    uint16_t channel;
    uint8_t volume;
    uint8_t mute;
    uint8_t input;
} tv_av_t;

/* Start in STANDBY with the given channel/volume/mute/input. */
void tv_init(const tv_av_t *av);
void tv_step(uint32_t dt_ms);
void tv_flush_events(void);

void tv_power_on(void);                /* STANDBY -> BOOTING; no-op otherwise */
void tv_power_off(void);               /* any -> STANDBY */
void tv_power_toggle(void);

tv_result_t tv_set_channel(int channel);
tv_result_t tv_channel_step(int delta);          /* wraps around at the limits */
tv_result_t tv_set_volume(int volume);
tv_result_t tv_volume_step(int delta);           /* clamps at the limits */
tv_result_t tv_set_mute(int mute);
tv_result_t tv_set_input(int input);

tv_power_t tv_power(void);
const tv_av_t *tv_av(void);
const hal_outputs_t *tv_outputs(void);
const char *tv_power_name(tv_power_t p);
const char *tv_input_name(unsigned input);
int tv_input_by_name(const char *name);          /* -1 when unknown */
/* Nonzero once the AV state changed since the last call (settings to save). */
int tv_av_changed(void);

#endif
