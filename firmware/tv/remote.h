/* The QSM-T remote: NEC address and key codes, and what each key does. */
#ifndef TV_REMOTE_H
#define TV_REMOTE_H

#include <stdint.h>
#include "nec.h"

#define REMOTE_ADDRESS   0x04u
#define KEY_CH_UP        0x00u
#define KEY_CH_DOWN      0x01u
#define KEY_VOL_UP       0x02u
#define KEY_VOL_DOWN     0x03u
#define KEY_POWER        0x08u
#define KEY_MUTE         0x09u
#define KEY_INPUT        0x0Bu

typedef struct {
    uint32_t seq;            /* last capture handled (stimulus.ir.seq) */
    uint32_t frames;         /* valid frames */
    uint32_t repeats;        /* valid repeats */
    uint32_t rejected;       /* malformed, out of tolerance, orphan repeats */
    uint32_t foreign;        /* valid frames for another address */
    uint32_t last_status;    /* nec_status_t of the last capture */
    uint32_t last_address;
    uint32_t last_command;
} ir_status_t;

void remote_init(void);
/* Decode one capture and act on it; prints an "EVT ir ..." line. */
void remote_capture(const uint16_t *us, unsigned count, uint32_t gap_us, uint32_t seq);
const char *remote_key_name(uint8_t command);

#endif
