/* NEC decoder: valid frames and repeats, and the captures a real receiver
 * must reject (malformed, out of tolerance, orphan repeats). */
#include "qtest.h"
#include "nec.h"

static uint16_t cap[NEC_FRAME_PULSES + 2];

/* A nominal frame for address/command, into cap[]; returns its length. */
static unsigned frame(uint8_t address, uint8_t command)
{
    uint32_t raw = address | (uint32_t)(uint8_t)~address << 8 |
                   (uint32_t)command << 16 | (uint32_t)(uint8_t)~command << 24;
    unsigned n = 0;
    cap[n++] = 9000;
    cap[n++] = 4500;
    for (unsigned b = 0; b < 32; b++) {
        cap[n++] = 563;
        cap[n++] = (raw >> b) & 1u ? 1688 : 563;
    }
    cap[n++] = 563;
    return n;
}

static const uint16_t repeat[3] = { 9000, 2250, 563 };
static nec_rx_t rx;

static void setup(void) { nec_rx_init(&rx); }
QTEST_SUITE(nec, setup, 0);

QTEST(nec, decodes_nominal_frame)
{
    unsigned n = frame(0x04, 0x08);
    QT_ASSERT_EQ(n, NEC_FRAME_PULSES);
    nec_result_t r = nec_decode(cap, n);
    QT_ASSERT_EQ(r.status, NEC_FRAME);
    QT_ASSERT_EQ_HEX(r.address, 0x04);
    QT_ASSERT_EQ_HEX(r.command, 0x08);
    QT_ASSERT_EQ_HEX(r.raw, 0xF708FB04u);
}

QTEST(nec, accepts_widths_within_tolerance)
{
    unsigned n = frame(0x04, 0x02);
    for (unsigned i = 0; i < n; i++)
        cap[i] = (uint16_t)(cap[i] * (100 + (i % 2 ? 18 : -18)) / 100);
    QT_ASSERT_EQ(nec_decode(cap, n).status, NEC_FRAME);
}

QTEST(nec, rejects_out_of_tolerance_leader)
{
    unsigned n = frame(0x04, 0x02);
    cap[0] = 7000;                                   /* -22 % */
    QT_ASSERT_EQ(nec_decode(cap, n).status, NEC_ERR_LEAD_MARK);
    cap[0] = 9000;
    cap[1] = 3400;
    QT_ASSERT_EQ(nec_decode(cap, n).status, NEC_ERR_LEAD_SPACE);
}

QTEST(nec, rejects_bad_bit_timing)
{
    unsigned n = frame(0x04, 0x02);
    cap[10] = 800;                                   /* a bit mark 42 % long */
    nec_result_t r = nec_decode(cap, n);
    QT_ASSERT_EQ(r.status, NEC_ERR_BIT_MARK);
    QT_ASSERT_EQ(r.at, 10);
    n = frame(0x04, 0x02);
    cap[11] = 1100;                                  /* between 0 and 1 */
    QT_ASSERT_EQ(nec_decode(cap, n).status, NEC_ERR_BIT_SPACE);
}

QTEST(nec, rejects_command_check_failure)
{
    unsigned n = frame(0x04, 0x02);
    cap[2 + 2 * 24 + 1] = cap[2 + 2 * 24 + 1] == 563 ? 1688 : 563;   /* flip ~command bit 0 */
    QT_ASSERT_EQ(nec_decode(cap, n).status, NEC_ERR_CHECK);
}

QTEST(nec, rejects_truncated_and_overlong_captures)
{
    unsigned n = frame(0x04, 0x02);
    QT_ASSERT_EQ(nec_decode(cap, n - 1).status, NEC_ERR_LENGTH);
    QT_ASSERT_EQ(nec_decode(cap, 40).status, NEC_ERR_LENGTH);
    cap[n] = 563;
    QT_ASSERT_EQ(nec_decode(cap, n + 1).status, NEC_ERR_LENGTH);
    QT_ASSERT_EQ(nec_decode(cap, 0).status, NEC_ERR_LENGTH);
}

QTEST(nec, extended_address_is_sixteen_bits)
{
    unsigned n = frame(0x04, 0x02);
    cap[2 + 2 * 8 + 1] = cap[2 + 2 * 8 + 1] == 563 ? 1688 : 563;     /* break ~address */
    nec_result_t r = nec_decode(cap, n);
    QT_ASSERT_EQ(r.status, NEC_FRAME);
    QT_ASSERT_EQ_HEX(r.address, 0xFA04);
}

QTEST(nec, repeat_follows_a_frame_within_window)
{
    unsigned n = frame(0x04, 0x02);
    QT_ASSERT_EQ(nec_rx_feed(&rx, cap, n, 200000).status, NEC_FRAME);
    nec_result_t r = nec_rx_feed(&rx, repeat, 3, 40000);
    QT_ASSERT_EQ(r.status, NEC_REPEAT);
    QT_ASSERT_EQ_HEX(r.command, 0x02);
    QT_ASSERT_EQ(nec_rx_feed(&rx, repeat, 3, 96000).status, NEC_REPEAT);
    QT_ASSERT_EQ(rx.repeats, 2);
}

QTEST(nec, rejects_orphan_and_late_repeats)
{
    QT_ASSERT_EQ(nec_rx_feed(&rx, repeat, 3, 40000).status, NEC_ERR_ORPHAN_REPEAT);
    unsigned n = frame(0x04, 0x02);
    QT_ASSERT_EQ(nec_rx_feed(&rx, cap, n, 0).status, NEC_FRAME);
    QT_ASSERT_EQ(nec_rx_feed(&rx, repeat, 3, NEC_REPEAT_WINDOW_US + 1).status,
                 NEC_ERR_ORPHAN_REPEAT);
    /* garbage between a frame and its repeat breaks the chain */
    QT_ASSERT_EQ(nec_rx_feed(&rx, cap, n, 0).status, NEC_FRAME);
    QT_ASSERT_EQ(nec_rx_feed(&rx, cap, 5, 1000).status, NEC_ERR_LENGTH);
    QT_ASSERT_EQ(nec_rx_feed(&rx, repeat, 3, 1000).status, NEC_ERR_ORPHAN_REPEAT);
    QT_ASSERT_EQ(rx.rejected, 4);
}
