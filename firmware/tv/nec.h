/* NEC infrared frame decoder, from captured pulse widths.
 *
 * A capture is a list of durations in microseconds, mark (carrier on) first,
 * then space, mark, ... A frame is a 9 ms leader mark, a 4.5 ms space, 32 bits
 * LSB first (each a 562.5 us mark, then a 562.5 us space for 0 or 1687.5 us
 * for 1) and a closing 562.5 us mark: 67 durations. A repeat code is a 9 ms
 * mark, a 2.25 ms space and a 562.5 us mark, sent every 108 ms while a key is
 * held. Every width must be within NEC_TOL_PCT of nominal. */
#ifndef TV_NEC_H
#define TV_NEC_H

#include <stdint.h>

#define NEC_TOL_PCT        20u
#define NEC_FRAME_PULSES   67u
#define NEC_REPEAT_PULSES  3u
/* A repeat counts only if it starts within this time after the end of the
 * previous accepted frame or repeat (nominal 108 ms period: ~40 ms after a
 * frame, ~96 ms after a repeat). */
#define NEC_REPEAT_WINDOW_US 120000u

typedef enum {
    NEC_FRAME = 0,          /* a valid frame: address and command */
    NEC_REPEAT,             /* a valid repeat of the last frame */
    NEC_ERR_LEAD_MARK,      /* leader mark not 9 ms */
    NEC_ERR_LEAD_SPACE,     /* leader space neither 4.5 nor 2.25 ms */
    NEC_ERR_BIT_MARK,       /* a bit or the stop mark not 562.5 us */
    NEC_ERR_BIT_SPACE,      /* a bit space neither 562.5 nor 1687.5 us */
    NEC_ERR_CHECK,          /* command byte and its inverse disagree */
    NEC_ERR_LENGTH,         /* wrong number of durations */
    NEC_ERR_ORPHAN_REPEAT,  /* repeat with no recent frame to repeat */
} nec_status_t;

typedef struct {
    nec_status_t status;
    uint16_t address;       /* 8-bit NEC (inverse checked) or 16-bit extended */
    uint8_t  command;
    uint32_t raw;           /* the 32 bits, first received in bit 0 */
    unsigned at;            /* index of the offending duration on errors */
} nec_result_t;

/* Decode one capture on its own (no repeat bookkeeping). */
nec_result_t nec_decode(const uint16_t *us, unsigned count);

/* A receiver: decodes captures in order and checks repeats against the last
 * accepted frame; gap_us is the idle time before the capture's first mark. */
typedef struct {
    int have_frame;         /* a frame (or repeat) was accepted recently */
    uint16_t address;
    uint8_t command;
    uint32_t frames, repeats, rejected;
} nec_rx_t;

void nec_rx_init(nec_rx_t *rx);
nec_result_t nec_rx_feed(nec_rx_t *rx, const uint16_t *us, unsigned count, uint32_t gap_us);

const char *nec_status_name(nec_status_t s);

#endif
