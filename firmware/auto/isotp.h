/* ISO-TP (ISO 15765-2) transport, one physical channel, normal addressing,
 * classic CAN (8-byte frames). No hardware: frames in via isotp_on_frame(),
 * frames out through the `send` callback; time is passed in (ms).
 *
 * Reception: single frames and segmented messages up to ISOTP_MAX bytes;
 * a longer first frame gets a flow control "overflow" and is dropped; a
 * consecutive frame with the wrong sequence number aborts the message; a
 * message not completed within N_Cr is dropped. Transmission honours the
 * receiver's block size and STmin, waits for flow control up to N_Bs. */
#ifndef QSM_ISOTP_H
#define QSM_ISOTP_H

#include <stdint.h>

#define ISOTP_MAX     256u     /* largest message either way */
#define ISOTP_N_CR_MS 1000u
#define ISOTP_N_BS_MS 1000u
#define ISOTP_PAD     0xCCu

typedef void (*isotp_send_t)(uint32_t id, const uint8_t data[8], void *ctx);

enum { ISOTP_RX_IDLE, ISOTP_RX_BUSY, ISOTP_RX_DONE };
enum { ISOTP_TX_IDLE, ISOTP_TX_WAIT_FC, ISOTP_TX_SENDING };

typedef struct {
    uint32_t tx_id;
    isotp_send_t send;
    void *ctx;

    int rx_state;
    uint16_t rx_len, rx_pos;
    uint8_t rx_sn;
    uint32_t rx_deadline;
    uint8_t rx_buf[ISOTP_MAX];

    int tx_state;
    uint16_t tx_len, tx_pos;
    uint8_t tx_sn;
    uint8_t tx_bs;           /* block size granted by the receiver, 0 = all */
    uint8_t tx_bs_left;
    uint32_t tx_stmin_ms;
    uint32_t tx_next;        /* time the next consecutive frame may leave */
    uint32_t tx_deadline;    /* flow control wait */
    uint8_t tx_buf[ISOTP_MAX];

    /* diagnostics */
    uint32_t rx_errors, rx_overflows, rx_timeouts, tx_timeouts, tx_aborts;
} isotp_t;

void isotp_init(isotp_t *t, uint32_t tx_id, isotp_send_t send, void *ctx);
/* A frame received on the channel's rx id (dlc bytes valid). */
void isotp_on_frame(isotp_t *t, const uint8_t *data, uint8_t dlc, uint32_t now);
/* Start sending a message: 0 on success, -1 when busy or too long. */
int  isotp_send(isotp_t *t, const uint8_t *data, uint16_t len, uint32_t now);
/* Timers and pending consecutive frames. */
void isotp_poll(isotp_t *t, uint32_t now);
/* A completed message: copies it out, returns its length (0: none). */
uint16_t isotp_receive(isotp_t *t, uint8_t *out, uint16_t max);
int isotp_tx_busy(const isotp_t *t);

#endif
