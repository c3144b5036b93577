/* ISO-TP segmentation and reassembly, flow control, malformed frames. */
#include "qtest.h"
#include "isotp.h"

static uint8_t sent[32][8];
static unsigned nsent;

static void capture(uint32_t id, const uint8_t data[8], void *ctx)
{
    (void)id;
    (void)ctx;
    if (nsent < 32) {
        for (unsigned i = 0; i < 8; i++)
            sent[nsent][i] = data[i];
    }
    nsent++;
}

static isotp_t t;
static uint8_t msg[ISOTP_MAX];

static void setup(void)
{
    nsent = 0;
    isotp_init(&t, 0x7E8, capture, 0);
}

QTEST_SUITE(isotp, setup, 0);

static void frame(uint32_t now, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3, uint8_t b4,
                  uint8_t b5, uint8_t b6, uint8_t b7)
{
    uint8_t f[8] = { b0, b1, b2, b3, b4, b5, b6, b7 };
    isotp_on_frame(&t, f, 8, now);
}

QTEST(isotp, single_frame_is_delivered_once)
{
    uint8_t f[3] = { 0x02, 0x3E, 0x00 };
    isotp_on_frame(&t, f, 3, 0);
    QT_ASSERT_EQ(isotp_receive(&t, msg, sizeof msg), 2);
    QT_ASSERT_EQ_HEX(msg[0], 0x3E);
    QT_ASSERT_EQ(isotp_receive(&t, msg, sizeof msg), 0);
    uint8_t zero[3] = { 0x00, 0x3E, 0x00 };     /* length 0 */
    uint8_t longer[3] = { 0x05, 0x3E, 0x00 };   /* longer than the CAN frame */
    isotp_on_frame(&t, zero, 3, 0);
    isotp_on_frame(&t, longer, 3, 0);
    QT_ASSERT_EQ(isotp_receive(&t, msg, sizeof msg), 0);
    QT_ASSERT_EQ(t.rx_errors, 2);
}

QTEST(isotp, segmented_message_is_reassembled_after_flow_control)
{
    frame(0, 0x10, 0x14, 'a', 'b', 'c', 'd', 'e', 'f');
    QT_ASSERT_EQ(nsent, 1);
    QT_ASSERT_EQ_HEX(sent[0][0], 0x30);          /* continue to send, BS 0, STmin 0 */
    QT_ASSERT_EQ(sent[0][1], 0);
    frame(1, 0x21, 'g', 'h', 'i', 'j', 'k', 'l', 'm');
    QT_ASSERT_EQ(isotp_receive(&t, msg, sizeof msg), 0);
    frame(2, 0x22, 'n', 'o', 'p', 'q', 'r', 's', 't');
    QT_ASSERT_EQ(isotp_receive(&t, msg, sizeof msg), 20);
    QT_ASSERT_MEM_EQ(msg, "abcdefghijklmnopqrst", 20);
}

QTEST(isotp, out_of_order_consecutive_frame_aborts)
{
    frame(0, 0x10, 0x14, 1, 2, 3, 4, 5, 6);
    frame(1, 0x22, 7, 8, 9, 10, 11, 12, 13);     /* SN 2 where 1 is due */
    frame(2, 0x21, 7, 8, 9, 10, 11, 12, 13);     /* no reception any more: ignored */
    frame(3, 0x22, 14, 15, 16, 17, 18, 19, 20);
    QT_ASSERT_EQ(isotp_receive(&t, msg, sizeof msg), 0);
    QT_ASSERT_EQ(t.rx_errors, 1);
}

QTEST(isotp, first_frame_beyond_the_buffer_gets_overflow)
{
    frame(0, 0x1F, 0xFF, 1, 2, 3, 4, 5, 6);
    QT_ASSERT_EQ(nsent, 1);
    QT_ASSERT_EQ_HEX(sent[0][0], 0x32);
    QT_ASSERT_EQ(t.rx_overflows, 1);
    frame(1, 0x21, 7, 8, 9, 10, 11, 12, 13);
    QT_ASSERT_EQ(isotp_receive(&t, msg, sizeof msg), 0);
}

QTEST(isotp, unfinished_message_times_out)
{
    frame(100, 0x10, 0x10, 1, 2, 3, 4, 5, 6);
    isotp_poll(&t, 100 + ISOTP_N_CR_MS - 1);
    QT_ASSERT_EQ(t.rx_timeouts, 0);
    isotp_poll(&t, 100 + ISOTP_N_CR_MS);
    QT_ASSERT_EQ(t.rx_timeouts, 1);
    frame(2000, 0x21, 7, 8, 9, 10, 11, 12, 13);
    QT_ASSERT_EQ(isotp_receive(&t, msg, sizeof msg), 0);
}

QTEST(isotp, transmit_honours_block_size_and_stmin)
{
    for (unsigned i = 0; i < 30; i++)
        msg[i] = (uint8_t)i;
    QT_ASSERT_EQ(isotp_send(&t, msg, 30, 0), 0);   /* FF + 4 CF */
    QT_ASSERT_EQ(nsent, 1);
    QT_ASSERT_EQ_HEX(sent[0][0], 0x10);
    QT_ASSERT_EQ(sent[0][1], 30);
    QT_ASSERT_EQ(isotp_send(&t, msg, 5, 0), -1);   /* busy */
    isotp_poll(&t, 5);
    QT_ASSERT_EQ(nsent, 1);                        /* waits for flow control */
    frame(5, 0x30, 2, 3, 0, 0, 0, 0, 0);           /* BS 2, STmin 3 ms */
    isotp_poll(&t, 5);
    QT_ASSERT_EQ(nsent, 2);
    isotp_poll(&t, 7);
    QT_ASSERT_EQ(nsent, 2);                        /* STmin not over */
    isotp_poll(&t, 8);
    QT_ASSERT_EQ(nsent, 3);
    isotp_poll(&t, 50);
    QT_ASSERT_EQ(nsent, 3);                        /* block done: next flow control */
    frame(50, 0x30, 0, 0, 0, 0, 0, 0, 0);
    isotp_poll(&t, 50);
    QT_ASSERT_EQ(nsent, 5);
    QT_ASSERT_EQ_HEX(sent[4][0], 0x24);
    QT_ASSERT_EQ(sent[4][3], 29);                  /* last 3 bytes, then padding */
    QT_ASSERT_EQ_HEX(sent[4][4], ISOTP_PAD);
    QT_ASSERT_FALSE(isotp_tx_busy(&t));
}
