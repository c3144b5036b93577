/* SLCAN line parsing and encoding. */
#include "qtest.h"
#include "slcan.h"

static char out[256];
static unsigned out_len;
static can_frame_t got;
static unsigned got_count;

static void sink(const char *s, unsigned n, void *ctx)
{
    (void)ctx;
    for (unsigned i = 0; i < n && out_len < sizeof out - 1; i++)
        out[out_len++] = s[i];
    out[out_len] = 0;
}

static void rx(const can_frame_t *f, void *ctx)
{
    (void)ctx;
    got = *f;
    got_count++;
}

static slcan_t s;

static void setup(void)
{
    out_len = 0;
    out[0] = 0;
    got_count = 0;
    slcan_init(&s, sink, rx, 0);
}

QTEST_SUITE(slcan, setup, 0);

static void feed(const char *text)
{
    while (*text)
        slcan_feed(&s, (uint8_t)*text++);
}

QTEST(slcan, parses_a_standard_frame_and_acknowledges_it)
{
    feed("t7E0302AB3e\r");
    QT_ASSERT_EQ(got_count, 1);
    QT_ASSERT_EQ_HEX(got.id, 0x7E0);
    QT_ASSERT_EQ(got.dlc, 3);
    QT_ASSERT_EQ_HEX(got.data[1], 0xAB);
    QT_ASSERT_EQ_HEX(got.data[2], 0x3E);
    QT_ASSERT_STR_EQ(out, "z\r");
}

QTEST(slcan, refuses_wrong_lengths_ids_and_digits)
{
    static const char *const bad[] = {
        "t7E0\r", "t7E02AB\r", "t7E01ABCD\r", "t7E09\r", "t8001AA\r", "t7G01AA\r",
        "T1234567\r", "T200000000\r",
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
        feed(bad[i]);
    QT_ASSERT_EQ(got_count, 0);
    QT_ASSERT_EQ(s.errors, 8);
    QT_ASSERT_STR_EQ(out, "\a\a\a\a\a\a\a\a");
}

QTEST(slcan, overlong_line_is_one_error_and_the_next_line_works)
{
    for (unsigned i = 0; i < 500; i++)
        slcan_feed(&s, 'A');
    feed("\r");
    QT_ASSERT_EQ(s.errors, 1);
    feed("T1FFFFFFF0\r");
    QT_ASSERT_EQ(got_count, 1);
    QT_ASSERT_EQ(got.ext, 1);
    QT_ASSERT_EQ_HEX(got.id, 0x1FFFFFFF);
}

QTEST(slcan, closed_channel_refuses_frames_and_sends_nothing)
{
    feed("C\r");
    feed("t1230\r");
    QT_ASSERT_EQ(got_count, 0);
    can_frame_t f = { .id = 0x123, .dlc = 1, .data = {0x42} };
    QT_ASSERT_EQ(slcan_send(&s, &f), 0);
    feed("S6\rO\r");
    QT_ASSERT_EQ(slcan_send(&s, &f), 1);
    QT_ASSERT_STR_EQ(out, "\r\a\r\rt123142\r");
}

QTEST(slcan, format_and_parse_round_trip)
{
    can_frame_t f = { .id = 0x18DAF110, .ext = 1, .dlc = 8,
                      .data = {0, 1, 2, 0x7F, 0x80, 0xAA, 0xFE, 0xFF} };
    char line[40];
    unsigned n = slcan_format(&f, line, sizeof line);
    QT_ASSERT_EQ(n, 27);
    QT_ASSERT_STR_EQ(line, "T18DAF11080001027F80AAFEFF\r");
    can_frame_t back;
    QT_ASSERT_EQ(slcan_parse_frame(line, n - 1, &back), 0);
    QT_ASSERT_MEM_EQ(back.data, f.data, 8);
    QT_ASSERT_EQ(slcan_format(&f, line, 20), 0);   /* does not fit: nothing */
}
