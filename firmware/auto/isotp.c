#include "isotp.h"

static int after(uint32_t now, uint32_t t) { return (int32_t)(now - t) >= 0; }

void isotp_init(isotp_t *t, uint32_t tx_id, isotp_send_t send, void *ctx)
{
    uint8_t *p = (uint8_t *)t;
    for (unsigned i = 0; i < sizeof *t; i++)
        p[i] = 0;
    t->tx_id = tx_id;
    t->send = send;
    t->ctx = ctx;
}

static void emit(isotp_t *t, uint8_t frame[8])
{
    t->send(t->tx_id, frame, t->ctx);
}

static void flow_control(isotp_t *t, uint8_t status)
{
    uint8_t f[8] = {(uint8_t)(0x30u | status), 0, 0, ISOTP_PAD, ISOTP_PAD, ISOTP_PAD,
                    ISOTP_PAD, ISOTP_PAD};
    emit(t, f);
}

static uint32_t stmin_ms(uint8_t raw)
{
    if (raw <= 0x7Fu)
        return raw;
    if (raw >= 0xF1u && raw <= 0xF9u)
        return 1;            /* 100..900 us: rounded up to our 1 ms clock */
    return 0x7Fu;            /* reserved values: the longest defined gap */
}

static void on_flow_control(isotp_t *t, const uint8_t *d, uint8_t dlc, uint32_t now)
{
    if (t->tx_state != ISOTP_TX_WAIT_FC || dlc < 3)
        return;
    switch (d[0] & 0x0Fu) {
    case 0:                  /* continue to send */
        t->tx_bs = d[1];
        t->tx_bs_left = d[1];
        t->tx_stmin_ms = stmin_ms(d[2]);
        t->tx_state = ISOTP_TX_SENDING;
        t->tx_next = now;
        break;
    case 1:                  /* wait */
        t->tx_deadline = now + ISOTP_N_BS_MS;
        break;
    default:                 /* overflow or invalid: abort */
        t->tx_state = ISOTP_TX_IDLE;
        t->tx_aborts++;
        break;
    }
}

void isotp_on_frame(isotp_t *t, const uint8_t *d, uint8_t dlc, uint32_t now)
{
    if (dlc < 1 || dlc > 8) {
        t->rx_errors++;
        return;
    }
    uint8_t pci = d[0] >> 4;
    switch (pci) {
    case 0: {                /* single frame */
        uint8_t len = d[0] & 0x0Fu;
        if (len == 0 || len > dlc - 1u) {
            t->rx_errors++;
            return;
        }
        if (t->rx_state == ISOTP_RX_BUSY)
            t->rx_errors++;  /* a new message replaces the unfinished one */
        for (unsigned i = 0; i < len; i++)
            t->rx_buf[i] = d[1 + i];
        t->rx_len = len;
        t->rx_state = ISOTP_RX_DONE;
        return;
    }
    case 1: {                /* first frame */
        if (dlc != 8) {
            t->rx_errors++;
            return;
        }
        uint16_t len = (uint16_t)(((d[0] & 0x0Fu) << 8) | d[1]);
        if (len < 8) {
            t->rx_errors++;
            return;
        }
        if (len > ISOTP_MAX) {
            t->rx_overflows++;
            t->rx_state = ISOTP_RX_IDLE;
            flow_control(t, 2);
            return;
        }
        for (unsigned i = 0; i < 6; i++)
            t->rx_buf[i] = d[2 + i];
        t->rx_len = len;
        t->rx_pos = 6;
        t->rx_sn = 1;
        t->rx_state = ISOTP_RX_BUSY;
        t->rx_deadline = now + ISOTP_N_CR_MS;
        flow_control(t, 0);  /* continue, block size 0, STmin 0 */
        return;
    }
    case 2: {                /* consecutive frame */
        if (t->rx_state != ISOTP_RX_BUSY)
            return;          /* not for an ongoing reception: ignored */
        if ((d[0] & 0x0Fu) != t->rx_sn) {
            t->rx_errors++;
            t->rx_state = ISOTP_RX_IDLE;
            return;
        }
        uint16_t want = (uint16_t)(t->rx_len - t->rx_pos);
        uint16_t n = want < 7u ? want : 7u;
        if (dlc < n + 1u) {
            t->rx_errors++;
            t->rx_state = ISOTP_RX_IDLE;
            return;
        }
        for (unsigned i = 0; i < n; i++)
            t->rx_buf[t->rx_pos + i] = d[1 + i];
        t->rx_pos = (uint16_t)(t->rx_pos + n);
        t->rx_sn = (uint8_t)((t->rx_sn + 1u) & 0x0Fu);
        t->rx_deadline = now + ISOTP_N_CR_MS;
        if (t->rx_pos >= t->rx_len)
            t->rx_state = ISOTP_RX_DONE;
        return;
    }
    case 3:
        on_flow_control(t, d, dlc, now);
        return;
    default:
        t->rx_errors++;
        return;
    }
}

int isotp_send(isotp_t *t, const uint8_t *data, uint16_t len, uint32_t now)
{
    if (t->tx_state != ISOTP_TX_IDLE || len == 0 || len > ISOTP_MAX)
        return -1;
    uint8_t f[8];
    if (len <= 7) {
        f[0] = (uint8_t)len;
        for (unsigned i = 0; i < 7; i++)
            f[1 + i] = i < len ? data[i] : ISOTP_PAD;
        emit(t, f);
        return 0;
    }
    for (unsigned i = 0; i < len; i++)
        t->tx_buf[i] = data[i];
    t->tx_len = len;
    f[0] = (uint8_t)(0x10u | (len >> 8));
    f[1] = (uint8_t)len;
    for (unsigned i = 0; i < 6; i++)
        f[2 + i] = data[i];
    t->tx_pos = 6;
    t->tx_sn = 1;
    t->tx_state = ISOTP_TX_WAIT_FC;
    t->tx_deadline = now + ISOTP_N_BS_MS;
    emit(t, f);
    return 0;
}

void isotp_poll(isotp_t *t, uint32_t now)
{
    if (t->rx_state == ISOTP_RX_BUSY && after(now, t->rx_deadline)) {
        t->rx_state = ISOTP_RX_IDLE;
        t->rx_timeouts++;
    }
    if (t->tx_state == ISOTP_TX_WAIT_FC && after(now, t->tx_deadline)) {
        t->tx_state = ISOTP_TX_IDLE;
        t->tx_timeouts++;
    }
    while (t->tx_state == ISOTP_TX_SENDING && after(now, t->tx_next)) {
        uint8_t f[8];
        uint16_t left = (uint16_t)(t->tx_len - t->tx_pos);
        uint16_t n = left < 7u ? left : 7u;
        f[0] = (uint8_t)(0x20u | t->tx_sn);
        for (unsigned i = 0; i < 7; i++)
            f[1 + i] = i < n ? t->tx_buf[t->tx_pos + i] : ISOTP_PAD;
        emit(t, f);
        t->tx_pos = (uint16_t)(t->tx_pos + n);
        t->tx_sn = (uint8_t)((t->tx_sn + 1u) & 0x0Fu);
        if (t->tx_pos >= t->tx_len) {
            t->tx_state = ISOTP_TX_IDLE;
            break;
        }
        if (t->tx_bs && --t->tx_bs_left == 0) {
            t->tx_state = ISOTP_TX_WAIT_FC;
            t->tx_deadline = now + ISOTP_N_BS_MS;
            break;
        }
        t->tx_next = now + t->tx_stmin_ms;
        if (t->tx_stmin_ms)
            break;
    }
}

uint16_t isotp_receive(isotp_t *t, uint8_t *out, uint16_t max)
{
    if (t->rx_state != ISOTP_RX_DONE)
        return 0;
    t->rx_state = ISOTP_RX_IDLE;
    if (t->rx_len > max) {
        t->rx_overflows++;
        return 0;
    }
    for (unsigned i = 0; i < t->rx_len; i++)
        out[i] = t->rx_buf[i];
    return t->rx_len;
}

int isotp_tx_busy(const isotp_t *t)
{
    return t->tx_state != ISOTP_TX_IDLE;
}
