/* UDS server (ISO 14229-1) of the body module. Requests in, responses out;
 * time is passed in as program milliseconds. See firmware/README.md (QSM-A)
 * for services, identifiers and negative response codes. */
#ifndef QSM_UDS_H
#define QSM_UDS_H

#include <stdint.h>

#define UDS_S3_MS              5000u
#define UDS_SECURITY_DELAY_MS  10000u
#define UDS_MAX_ATTEMPTS       3u

#define UDS_SESSION_DEFAULT     1u
#define UDS_SESSION_PROGRAMMING 2u
#define UDS_SESSION_EXTENDED    3u

#define UDS_RID_SELF_TEST 0x0203u

enum {
    NRC_SNS = 0x11, NRC_SFNS = 0x12, NRC_IMLOIF = 0x13, NRC_RTL = 0x14, NRC_CNC = 0x22,
    NRC_RSE = 0x24, NRC_ROOR = 0x31, NRC_SAD = 0x33, NRC_IK = 0x35, NRC_ENOA = 0x36,
    NRC_RTDNE = 0x37, NRC_SNSIAS = 0x7F,
};

typedef struct {
    uint8_t session;
    uint32_t last_request;       /* program ms, for S3 */
    uint8_t unlocked;
    uint8_t seed_pending;        /* a seed was sent, waiting for the key */
    uint32_t seed;
    uint32_t seed_state;
    uint8_t attempts;            /* failed keys in a row */
    uint8_t delay_active;
    uint32_t delay_until;
    uint8_t selftest_done;
    uint8_t selftest_result;
    uint8_t reset_pending;       /* ECUReset type accepted, reset after the reply */
    char vin[17];
} uds_t;

void uds_init(uds_t *u, uint32_t now);
/* Handle one request; returns the response length (0: no response). */
uint16_t uds_handle(uds_t *u, const uint8_t *req, uint16_t len, uint8_t *rsp, uint16_t max,
                    uint32_t now, int functional);
/* S3 and security delay timers; returns 1 when the session fell back to default. */
int uds_poll(uds_t *u, uint32_t now);

#endif
