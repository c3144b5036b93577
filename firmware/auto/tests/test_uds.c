/* UDS server: sessions, security access with its counter and delay, NRCs. */
#include "qtest.h"
#include "body.h"
#include "dtc.h"
#include "seedkey.h"
#include "uds.h"

void body_event(const char *what, uint32_t arg)
{
    (void)what;
    (void)arg;
}

static uds_t u;
static uint8_t rsp[64];
static uint16_t n;
static uint32_t now;

static void setup(void)
{
    now = 1000;
    body_init();
    dtc_init();
    uds_init(&u, now);
}

QTEST_SUITE(uds, setup, 0);
QTEST_SUITE(seedkey, 0, 0);

static void req(const uint8_t *r, uint16_t len)
{
    n = uds_handle(&u, r, len, rsp, sizeof rsp, now, 0);
}

#define REQ(...) do { static const uint8_t r_[] = { __VA_ARGS__ }; req(r_, sizeof r_); } while (0)

static void expect_nrc(uint8_t sid, uint8_t code)
{
    QT_ASSERT_EQ(n, 3);
    QT_ASSERT_EQ_HEX(rsp[0], 0x7F);
    QT_ASSERT_EQ_HEX(rsp[1], sid);
    QT_ASSERT_EQ_HEX(rsp[2], code);
}

QTEST(seedkey, known_vector_and_nonzero_seeds)
{
    QT_ASSERT_EQ_HEX(seedkey_key(0x12345678u), 0xD08B499Eu);
    QT_ASSERT_EQ_HEX(seedkey_key(0), 0x32D8090Du);
    uint32_t state = 0;
    for (unsigned i = 0; i < 100; i++)
        QT_ASSERT_NE(seedkey_next_seed(&state, 0), 0);
}

QTEST(uds, negative_responses_for_bad_requests)
{
    REQ(0xBA);
    expect_nrc(0xBA, NRC_SNS);
    REQ(0x22, 0xF1);
    expect_nrc(0x22, NRC_IMLOIF);
    REQ(0x22, 0x12, 0x34);
    expect_nrc(0x22, NRC_ROOR);
    REQ(0x10, 0x04);
    expect_nrc(0x10, NRC_SFNS);
    REQ(0x27, 0x01);
    expect_nrc(0x27, NRC_SNSIAS);
    REQ(0x10, 0x02);
    expect_nrc(0x10, NRC_CNC);
}

QTEST(uds, security_counter_and_delay)
{
    REQ(0x10, 0x03);
    QT_ASSERT_EQ_HEX(rsp[0], 0x50);
    REQ(0x27, 0x02, 0, 0, 0, 0);
    expect_nrc(0x27, NRC_RSE);
    for (unsigned i = 0; i < 2; i++) {
        REQ(0x27, 0x01);
        REQ(0x27, 0x02, 1, 2, 3, 4);
        expect_nrc(0x27, NRC_IK);
    }
    REQ(0x27, 0x01);
    REQ(0x27, 0x02, 1, 2, 3, 4);
    expect_nrc(0x27, NRC_ENOA);
    REQ(0x27, 0x01);
    expect_nrc(0x27, NRC_RTDNE);
    for (unsigned i = 0; i < 4; i++) {  /* TesterPresent keeps the session through the delay */
        now += UDS_SECURITY_DELAY_MS / 4;
        REQ(0x3E, 0x00);
        uds_poll(&u, now);
    }
    REQ(0x27, 0x01);
    QT_ASSERT_EQ(n, 6);
    uint32_t seed = ((uint32_t)rsp[2] << 24) | ((uint32_t)rsp[3] << 16) |
                    ((uint32_t)rsp[4] << 8) | rsp[5];
    uint32_t key = seedkey_key(seed);
    uint8_t send[6] = { 0x27, 0x02, (uint8_t)(key >> 24), (uint8_t)(key >> 16),
                        (uint8_t)(key >> 8), (uint8_t)key };
    req(send, 6);
    QT_ASSERT_EQ(n, 2);
    QT_ASSERT_EQ_HEX(rsp[0], 0x67);
    QT_ASSERT_EQ(u.unlocked, 1);
}

QTEST(uds, s3_timeout_returns_to_default_and_locks)
{
    REQ(0x10, 0x03);
    u.unlocked = 1;
    now += UDS_S3_MS - 1;
    QT_ASSERT_EQ(uds_poll(&u, now), 0);
    REQ(0x3E, 0x80);                    /* suppressed positive response */
    QT_ASSERT_EQ(n, 0);
    now += UDS_S3_MS;
    QT_ASSERT_EQ(uds_poll(&u, now), 1);
    QT_ASSERT_EQ(u.session, UDS_SESSION_DEFAULT);
    QT_ASSERT_EQ(u.unlocked, 0);
}

QTEST(uds, dtcs_reported_by_status_mask_and_cleared)
{
    dtc_report(DTC_LOW_VOLTAGE, 1);
    REQ(0x19, 0x02, 0x09);
    QT_ASSERT_EQ(n, 7);
    QT_ASSERT_EQ_HEX(rsp[3], 0x05);
    QT_ASSERT_EQ_HEX(rsp[4], 0x62);
    QT_ASSERT_EQ_HEX(rsp[5], 0x16);
    QT_ASSERT_EQ_HEX(rsp[6], 0x0B);
    REQ(0x14, 0x12, 0x34, 0x56);
    expect_nrc(0x14, NRC_ROOR);
    REQ(0x14, 0xFF, 0xFF, 0xFF);
    QT_ASSERT_EQ_HEX(rsp[0], 0x54);
    QT_ASSERT_EQ(dtc_status(DTC_LOW_VOLTAGE), 0);
}
