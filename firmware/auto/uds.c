#include "uds.h"
#include "body.h"
#include "dtc.h"
#include "seedkey.h"
#include "version.h"

static const char DEFAULT_VIN[17] = "WQSMA000000000001";
static const char ECU_SERIAL[] = "QSMA-0385-000123";

static int after(uint32_t now, uint32_t t) { return (int32_t)(now - t) >= 0; }

void uds_init(uds_t *u, uint32_t now)
{
    uint8_t *p = (uint8_t *)u;
    for (unsigned i = 0; i < sizeof *u; i++)
        p[i] = 0;
    u->session = UDS_SESSION_DEFAULT;
    u->last_request = now;
    u->seed_state = 0x2545F491u;
    /* a power-up counts as a failed-attempt delay only after too many tries */
    for (unsigned i = 0; i < sizeof u->vin; i++)
        u->vin[i] = DEFAULT_VIN[i];
}

static void enter_session(uds_t *u, uint8_t s)
{
    if (s != u->session) {
        u->unlocked = 0;
        u->seed_pending = 0;
    }
    u->session = s;
}

int uds_poll(uds_t *u, uint32_t now)
{
    if (u->delay_active && after(now, u->delay_until)) {
        u->delay_active = 0;
        u->attempts = 0;
    }
    if (u->session != UDS_SESSION_DEFAULT && after(now, u->last_request + UDS_S3_MS)) {
        enter_session(u, UDS_SESSION_DEFAULT);
        return 1;
    }
    return 0;
}

/* -- response building ---------------------------------------------------------------- */
typedef struct {
    uint8_t *buf;
    uint16_t max, len;
    int overflow;
} out_t;

static void put(out_t *o, uint8_t b)
{
    if (o->len < o->max)
        o->buf[o->len++] = b;
    else
        o->overflow = 1;
}

static void put16(out_t *o, uint16_t v) { put(o, (uint8_t)(v >> 8)); put(o, (uint8_t)v); }

static void put32(out_t *o, uint32_t v)
{
    put16(o, (uint16_t)(v >> 16));
    put16(o, (uint16_t)v);
}

static void puts_n(out_t *o, const char *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        put(o, (uint8_t)s[i]);
}

static int nrc(out_t *o, uint8_t sid, uint8_t code)
{
    o->len = 0;
    o->overflow = 0;
    put(o, 0x7F);
    put(o, sid);
    put(o, code);
    return code;
}

/* Every handler returns 0 (positive response built in o) or an NRC. */

static int svc_session(uds_t *u, const uint8_t *r, uint16_t n, out_t *o)
{
    if (n != 2)
        return NRC_IMLOIF;
    uint8_t s = r[1] & 0x7F;
    if (s != UDS_SESSION_DEFAULT && s != UDS_SESSION_PROGRAMMING && s != UDS_SESSION_EXTENDED)
        return NRC_SFNS;
    if (s == UDS_SESSION_PROGRAMMING && u->session == UDS_SESSION_DEFAULT)
        return NRC_CNC;      /* programming only by way of the extended session */
    enter_session(u, s);
    put(o, 0x50);
    put(o, s);
    put16(o, 50);            /* P2 server max, ms */
    put16(o, 500);           /* P2* server max, 10 ms units */
    return 0;
}

static int svc_tester_present(const uint8_t *r, uint16_t n, out_t *o)
{
    if (n != 2)
        return NRC_IMLOIF;
    if ((r[1] & 0x7F) != 0)
        return NRC_SFNS;
    put(o, 0x7E);
    put(o, 0x00);
    return 0;
}

static int read_did(uds_t *u, uint16_t did, out_t *o)
{
    char v[12];
    unsigned vn = 0;
    switch (did) {
    case 0xF190:
        put16(o, did);
        puts_n(o, u->vin, sizeof u->vin);
        return 1;
    case 0xF18C:
        put16(o, did);
        puts_n(o, ECU_SERIAL, sizeof ECU_SERIAL - 1);
        return 1;
    case 0xF195: {
        uint8_t parts[3] = { fw_version.major, fw_version.minor, fw_version.patch };
        for (unsigned i = 0; i < 3; i++) {
            uint8_t x = parts[i];
            if (x >= 100) v[vn++] = (char)('0' + x / 100);
            if (x >= 10) v[vn++] = (char)('0' + (x / 10) % 10);
            v[vn++] = (char)('0' + x % 10);
            if (i < 2) v[vn++] = '.';
        }
        put16(o, did);
        puts_n(o, v, vn);
        return 1;
    }
    case 0xF186:
        put16(o, did);
        put(o, u->session);
        return 1;
    case 0xD001:             /* body status */
        put16(o, did);
        put(o, (uint8_t)body.lights);
        put(o, (uint8_t)body.locked);
        put(o, (uint8_t)body.window_pos);
        put(o, (uint8_t)body.crash);
        put(o, (uint8_t)body.pinch_count);
        put16(o, (uint16_t)body.battery_mv);
        return 1;
    default:
        return 0;
    }
}

static int svc_read_did(uds_t *u, const uint8_t *r, uint16_t n, out_t *o)
{
    if (n < 3 || (n - 1) % 2 != 0)
        return NRC_IMLOIF;
    put(o, 0x62);
    unsigned found = 0;
    for (uint16_t i = 1; i + 1 < n; i += 2)
        found += (unsigned)read_did(u, (uint16_t)((r[i] << 8) | r[i + 1]), o);
    if (!found)
        return NRC_ROOR;
    if (o->overflow)
        return NRC_RTL;
    return 0;
}

static int svc_write_did(uds_t *u, const uint8_t *r, uint16_t n, out_t *o)
{
    if (n < 4)
        return NRC_IMLOIF;
    uint16_t did = (uint16_t)((r[1] << 8) | r[2]);
    if (did != 0xF190)
        return NRC_ROOR;
    if (n != 3 + sizeof u->vin)
        return NRC_IMLOIF;
    if (!u->unlocked)
        return NRC_SAD;
    for (unsigned i = 0; i < sizeof u->vin; i++) {
        if (r[3 + i] < 0x20 || r[3 + i] > 0x7E)
            return NRC_ROOR;
    }
    for (unsigned i = 0; i < sizeof u->vin; i++)
        u->vin[i] = (char)r[3 + i];
    put(o, 0x6E);
    put16(o, did);
    return 0;
}

static int svc_security(uds_t *u, const uint8_t *r, uint16_t n, out_t *o, uint32_t now)
{
    if (n < 2)
        return NRC_IMLOIF;
    uint8_t sub = r[1] & 0x7F;
    if (sub == 0x01) {
        if (n != 2)
            return NRC_IMLOIF;
        if (u->delay_active)
            return NRC_RTDNE;
        put(o, 0x67);
        put(o, sub);
        if (u->unlocked) {
            put32(o, 0);     /* already unlocked: zero seed */
            return 0;
        }
        u->seed = seedkey_next_seed(&u->seed_state, now);
        u->seed_pending = 1;
        put32(o, u->seed);
        return 0;
    }
    if (sub == 0x02) {
        if (n != 6)
            return NRC_IMLOIF;
        if (!u->seed_pending)
            return NRC_RSE;
        u->seed_pending = 0;
        uint32_t key = ((uint32_t)r[2] << 24) | ((uint32_t)r[3] << 16) |
                       ((uint32_t)r[4] << 8) | r[5];
        if (key != seedkey_key(u->seed)) {
            if (++u->attempts >= UDS_MAX_ATTEMPTS) {
                u->delay_active = 1;
                u->delay_until = now + UDS_SECURITY_DELAY_MS;
                return NRC_ENOA;
            }
            return NRC_IK;
        }
        u->attempts = 0;
        u->unlocked = 1;
        put(o, 0x67);
        put(o, sub);
        return 0;
    }
    return NRC_SFNS;
}

static int svc_reset(uds_t *u, const uint8_t *r, uint16_t n, out_t *o)
{
    if (n != 2)
        return NRC_IMLOIF;
    uint8_t t = r[1] & 0x7F;
    if (t != 0x01 && t != 0x03)
        return NRC_SFNS;
    u->reset_pending = t;
    put(o, 0x51);
    put(o, t);
    return 0;
}

static void put_dtc(out_t *o, unsigned i)
{
    put(o, (uint8_t)(dtc_codes[i] >> 16));
    put(o, (uint8_t)(dtc_codes[i] >> 8));
    put(o, (uint8_t)dtc_codes[i]);
    put(o, dtc_status(i));
}

static int svc_read_dtc(const uint8_t *r, uint16_t n, out_t *o)
{
    if (n < 2)
        return NRC_IMLOIF;
    uint8_t sub = r[1] & 0x7F;
    switch (sub) {
    case 0x01:
    case 0x02: {
        if (n != 3)
            return NRC_IMLOIF;
        uint8_t mask = r[2] & DTC_AVAILABILITY_MASK;
        put(o, 0x59);
        put(o, sub);
        put(o, DTC_AVAILABILITY_MASK);
        if (sub == 0x01) {
            uint16_t count = 0;
            for (unsigned i = 0; i < DTC_COUNT; i++)
                count += (dtc_status(i) & mask) ? 1u : 0u;
            put(o, 0x01);    /* ISO 14229-1 DTC format */
            put16(o, count);
        } else {
            for (unsigned i = 0; i < DTC_COUNT; i++)
                if (dtc_status(i) & mask)
                    put_dtc(o, i);
        }
        return 0;
    }
    case 0x0A:
        if (n != 2)
            return NRC_IMLOIF;
        put(o, 0x59);
        put(o, sub);
        put(o, DTC_AVAILABILITY_MASK);
        for (unsigned i = 0; i < DTC_COUNT; i++)
            put_dtc(o, i);
        return 0;
    default:
        return NRC_SFNS;
    }
}

static int svc_clear_dtc(const uint8_t *r, uint16_t n, out_t *o)
{
    if (n != 4)
        return NRC_IMLOIF;
    uint32_t group = ((uint32_t)r[1] << 16) | ((uint32_t)r[2] << 8) | r[3];
    if (group != 0xFFFFFFu)
        return NRC_ROOR;
    dtc_clear_all();
    put(o, 0x54);
    return 0;
}

static int svc_routine(uds_t *u, const uint8_t *r, uint16_t n, out_t *o)
{
    if (n < 4)
        return NRC_IMLOIF;
    uint8_t sub = r[1] & 0x7F;
    uint16_t rid = (uint16_t)((r[2] << 8) | r[3]);
    if (sub < 0x01 || sub > 0x03)
        return NRC_SFNS;
    if (rid != UDS_RID_SELF_TEST)
        return NRC_ROOR;
    if (n != 4)
        return NRC_IMLOIF;
    switch (sub) {
    case 0x01:
        if (body_busy())
            return NRC_CNC;  /* not while the window moves */
        u->selftest_result = body_self_test();
        u->selftest_done = 1;
        put(o, 0x71); put(o, sub); put16(o, rid);
        put(o, 0x00);        /* routine info: completed */
        return 0;
    case 0x03:
        if (!u->selftest_done)
            return NRC_RSE;
        put(o, 0x71); put(o, sub); put16(o, rid);
        put(o, u->selftest_result ? 0x01 : 0x00);
        put(o, u->selftest_result);
        return 0;
    default:                 /* stop: the self-test is not stoppable */
        return NRC_SFNS;
    }
}

/* Services and the sessions they are allowed in (bit n: session n). */
static int allowed(uint8_t sid, uint8_t session)
{
    uint8_t all = 0x0E;
    uint8_t mask;
    switch (sid) {
    case 0x10: case 0x3E: case 0x22: case 0x11: case 0x19: case 0x14: mask = all; break;
    case 0x2E: case 0x27: case 0x31:
        mask = (1u << UDS_SESSION_EXTENDED) | (1u << UDS_SESSION_PROGRAMMING);
        break;
    default: return -1;
    }
    return (mask >> session) & 1u;
}

static int has_subfunction(uint8_t sid)
{
    return sid == 0x10 || sid == 0x11 || sid == 0x3E || sid == 0x27 || sid == 0x19 ||
           sid == 0x31;
}

uint16_t uds_handle(uds_t *u, const uint8_t *req, uint16_t len, uint8_t *rsp, uint16_t max,
                    uint32_t now, int functional)
{
    out_t o = { rsp, max, 0, 0 };
    if (len == 0)
        return 0;
    uint8_t sid = req[0];
    u->last_request = now;
    int code;
    int ok_session = allowed(sid, u->session);
    if (ok_session < 0) {
        code = NRC_SNS;
    } else if (!ok_session) {
        code = NRC_SNSIAS;
    } else {
        switch (sid) {
        case 0x10: code = svc_session(u, req, len, &o); break;
        case 0x3E: code = svc_tester_present(req, len, &o); break;
        case 0x22: code = svc_read_did(u, req, len, &o); break;
        case 0x2E: code = svc_write_did(u, req, len, &o); break;
        case 0x27: code = svc_security(u, req, len, &o, now); break;
        case 0x11: code = svc_reset(u, req, len, &o); break;
        case 0x19: code = svc_read_dtc(req, len, &o); break;
        case 0x14: code = svc_clear_dtc(req, len, &o); break;
        case 0x31: code = svc_routine(u, req, len, &o); break;
        default: code = NRC_SNS; break;
        }
    }
    if (code) {
        /* functional requests stay silent on "not supported" answers */
        if (functional && (code == NRC_SNS || code == NRC_SFNS || code == NRC_ROOR ||
                           code == NRC_SNSIAS))
            return 0;
        nrc(&o, sid, (uint8_t)code);
        return o.len;
    }
    if (len >= 2 && has_subfunction(sid) && (req[1] & 0x80))
        return 0;            /* suppressPosRspMsgIndicationBit */
    return o.len;
}
