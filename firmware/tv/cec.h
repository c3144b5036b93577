/* HDMI-CEC-like link on the second UART. One frame per line: the CEC bytes
 * in hex separated by ':' (header first: initiator << 4 | destination), e.g.
 * "40:8F" = Playback 1 asks the TV for its power status. The TV is logical
 * address 0; F is broadcast. Contract: firmware/README.md, "QSM-T". */
#ifndef TV_CEC_H
#define TV_CEC_H

#include <stdint.h>

#define CEC_TV_ADDR        0x0u
#define CEC_BROADCAST      0xFu
#define CEC_MAX_BYTES      16u
#define CEC_LINE_MAX       (CEC_MAX_BYTES * 3u)

/* Opcodes the TV understands. */
#define CEC_FEATURE_ABORT        0x00u
#define CEC_IMAGE_VIEW_ON        0x04u
#define CEC_TEXT_VIEW_ON         0x0Du
#define CEC_STANDBY              0x36u
#define CEC_GIVE_OSD_NAME        0x46u
#define CEC_SET_OSD_NAME         0x47u
#define CEC_GIVE_PHYS_ADDR       0x83u
#define CEC_REPORT_PHYS_ADDR     0x84u
#define CEC_GIVE_POWER_STATUS    0x8Fu
#define CEC_REPORT_POWER_STATUS  0x90u
#define CEC_CEC_VERSION          0x9Eu
#define CEC_GET_CEC_VERSION      0x9Fu

/* Feature Abort reasons */
#define CEC_ABORT_UNRECOGNIZED   0x00u
#define CEC_ABORT_INVALID_OPERAND 0x03u

typedef struct {
    uint32_t rx;        /* frames received (any destination) */
    uint32_t tx;        /* frames sent */
    uint32_t errors;    /* malformed lines */
    uint32_t ignored;   /* well-formed, not for us */
} cec_stats_t;

/* Where answers go (the board's link UART; a fake in unit tests). */
typedef void (*cec_send_fn)(const char *line);

void cec_init(cec_send_fn send);
/* Feed received characters; complete lines are handled. */
void cec_rx_char(char c);
/* Handle one line (without its line end). */
void cec_handle_line(const char *line);
const cec_stats_t *cec_stats(void);

/* Parse "40:8F" into bytes; returns the count, or -1 when malformed. */
int cec_parse(const char *line, uint8_t *bytes, unsigned max);

#endif
