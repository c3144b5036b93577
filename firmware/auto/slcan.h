/* SLCAN (Lawicel ASCII) device side: parses the host's command lines,
 * encodes frames for the host. No hardware: bytes in via slcan_feed(), bytes
 * out through the `out` callback, frames to the application through `rx`.
 *
 * Commands: O open, L open listen-only, C close, S0..S8 bit rate (closed
 * only), V version, N serial number, F status flags, t/T/r/R transmit.
 * Answers: CR on success, BEL on error; a transmit answers "z"/"Z" CR. */
#ifndef QSM_SLCAN_H
#define QSM_SLCAN_H

#include <stdint.h>
#include "can.h"

#define SLCAN_LINE_MAX 30u   /* "T" + 8 id + dlc + 16 data = 26, some slack */

typedef void (*slcan_out_t)(const char *s, unsigned n, void *ctx);
typedef void (*slcan_rx_t)(const can_frame_t *f, void *ctx);

typedef struct {
    char line[SLCAN_LINE_MAX];
    unsigned len;
    int overflow;            /* current line too long: discard up to CR */
    int open;                /* 0 closed, 1 open, 2 listen-only */
    uint8_t bitrate;         /* S<n> */
    slcan_out_t out;
    slcan_rx_t rx;
    void *ctx;
    uint32_t frames_in, frames_out, errors;
} slcan_t;

/* The channel starts open (a reset must not leave the bus closed). */
void slcan_init(slcan_t *s, slcan_out_t out, slcan_rx_t rx, void *ctx);
void slcan_feed(slcan_t *s, uint8_t byte);
/* Send a frame to the host; 0 when the channel is closed. */
int  slcan_send(slcan_t *s, const can_frame_t *f);

/* Pure helpers. slcan_parse_frame: a t/T/r/R line without its CR;
 * returns 0 on success, -1 when malformed. slcan_format: the line with CR,
 * NUL terminated; returns its length (0 if it does not fit). */
int slcan_parse_frame(const char *line, unsigned len, can_frame_t *f);
unsigned slcan_format(const can_frame_t *f, char *buf, unsigned size);

#endif
