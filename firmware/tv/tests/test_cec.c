/* CEC link: frame parsing, poll, power status, feature abort. */
#include "qtest.h"
#include "cec.h"
#include "hal_fake.h"
#include "tv.h"

static char sent[8][CEC_LINE_MAX + 1];
static unsigned nsent;

static void capture(const char *line)
{
    if (nsent < 8) {
        unsigned i = 0;
        for (; line[i] && i < CEC_LINE_MAX; i++)
            sent[nsent][i] = line[i];
        sent[nsent][i] = '\0';
        nsent++;
    }
}

static void setup(void)
{
    tv_av_t av = { 1, 10, 0, 0 };
    tv_init(&av);
    nsent = 0;
    cec_init(capture);
}
QTEST_SUITE(cec, setup, 0);

static void feed(const char *s)
{
    while (*s)
        cec_rx_char(*s++);
    cec_rx_char('\n');
}

QTEST(cec, parses_frames_and_rejects_malformed)
{
    uint8_t b[CEC_MAX_BYTES];
    QT_ASSERT_EQ(cec_parse("40:8F", b, CEC_MAX_BYTES), 2);
    QT_ASSERT_EQ_HEX(b[1], 0x8F);
    QT_ASSERT_EQ(cec_parse("4:8F", b, CEC_MAX_BYTES), -1);
    QT_ASSERT_EQ(cec_parse("40:8G", b, CEC_MAX_BYTES), -1);
    QT_ASSERT_EQ(cec_parse("40:", b, CEC_MAX_BYTES), -1);
    QT_ASSERT_EQ(cec_parse("40 8F", b, CEC_MAX_BYTES), -1);
    QT_ASSERT_EQ(cec_parse("00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10", b,
                           CEC_MAX_BYTES), -1);
}

QTEST(cec, answers_poll_and_power_status)
{
    feed("40");
    QT_ASSERT_EQ(nsent, 1);
    QT_ASSERT_STR_EQ(sent[0], "ACK 40");
    feed("40:8F");
    QT_ASSERT_STR_EQ(sent[1], "04:90:01");             /* standby */
    feed("40:04");                                       /* image view on */
    QT_ASSERT_EQ(tv_power(), TV_BOOTING);
    feed("40:8F");
    QT_ASSERT_STR_EQ(sent[2], "04:90:02");             /* in transition */
}

QTEST(cec, aborts_unknown_and_ignores_others)
{
    feed("40:C0");
    QT_ASSERT_STR_EQ(sent[0], "04:00:C0:00");
    feed("40:8F:01");
    QT_ASSERT_STR_EQ(sent[1], "04:00:8F:03");          /* invalid operand */
    feed("45:8F");                                       /* for address 5 */
    feed("zz");
    QT_ASSERT_EQ(nsent, 2);
    QT_ASSERT_EQ(cec_stats()->ignored, 1);
    QT_ASSERT_EQ(cec_stats()->errors, 1);
}

QTEST(cec, broadcast_standby_turns_tv_off)
{
    tv_power_on();
    feed("4F:36");
    QT_ASSERT_EQ(tv_power(), TV_STANDBY);
    QT_ASSERT_EQ(nsent, 0);
}
