#include "cec.h"
#include "fmt.h"
#include "tv.h"

static cec_send_fn send_line;
static cec_stats_t stats;
static char line[CEC_LINE_MAX + 1];
static unsigned len;
static int overflow;

void cec_init(cec_send_fn send)
{
    send_line = send;
    stats = (cec_stats_t){ 0, 0, 0, 0 };
    len = 0;
    overflow = 0;
}

const cec_stats_t *cec_stats(void)
{
    return &stats;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int cec_parse(const char *s, uint8_t *bytes, unsigned max)
{
    unsigned n = 0;
    for (;;) {
        int hi = hex(s[0]), lo = hi < 0 ? -1 : hex(s[1]);
        if (hi < 0 || lo < 0 || n == max)
            return -1;
        bytes[n++] = (uint8_t)(hi << 4 | lo);
        s += 2;
        if (*s == '\0')
            return (int)n;
        if (*s++ != ':')
            return -1;
    }
}

static void send(const uint8_t *b, unsigned n)
{
    char out[CEC_LINE_MAX + 1];
    unsigned pos = 0;
    for (unsigned i = 0; i < n; i++)
        pos += (unsigned)fmt_snprintf(out + pos, sizeof(out) - pos, i ? ":%02X" : "%02X", b[i]);
    stats.tx++;
    send_line(out);
}

static void abort_op(uint8_t to, uint8_t opcode, uint8_t reason)
{
    uint8_t f[4] = { (uint8_t)(CEC_TV_ADDR << 4 | to), CEC_FEATURE_ABORT, opcode, reason };
    send(f, 4);
}

static uint8_t power_status(void)
{
    switch (tv_power()) {
    case TV_ON:      return 0x00;
    case TV_BOOTING: return 0x02;    /* in transition standby -> on */
    default:         return 0x01;    /* standby */
    }
}

void cec_handle_line(const char *text)
{
    uint8_t b[CEC_MAX_BYTES];
    int n = cec_parse(text, b, CEC_MAX_BYTES);
    if (n < 0) {
        stats.errors++;
        return;
    }
    stats.rx++;
    uint8_t from = b[0] >> 4, to = b[0] & 0xFu;
    if ((to != CEC_TV_ADDR && to != CEC_BROADCAST) || from == CEC_TV_ADDR) {
        stats.ignored++;
        return;
    }
    if (n == 1) {                    /* polling message: acknowledged */
        if (to == CEC_TV_ADDR) {
            stats.tx++;
            char ack[8];
            fmt_snprintf(ack, sizeof(ack), "ACK %02X", b[0]);
            send_line(ack);
        }
        return;
    }
    uint8_t op = b[1];
    unsigned operands = (unsigned)n - 2u;
    int directed = (to == CEC_TV_ADDR);
    switch (op) {
    case CEC_IMAGE_VIEW_ON:
    case CEC_TEXT_VIEW_ON:
        if (operands)
            break;
        if (directed)
            tv_power_on();
        return;
    case CEC_STANDBY:
        if (operands)
            break;
        tv_power_off();
        return;
    case CEC_GIVE_POWER_STATUS:
        if (operands || !directed)
            break;
        {
            uint8_t f[3] = { (uint8_t)(CEC_TV_ADDR << 4 | from), CEC_REPORT_POWER_STATUS,
                             power_status() };
            send(f, 3);
        }
        return;
    case CEC_GET_CEC_VERSION:
        if (operands || !directed)
            break;
        {
            uint8_t f[3] = { (uint8_t)(CEC_TV_ADDR << 4 | from), CEC_CEC_VERSION, 0x05 };
            send(f, 3);
        }
        return;
    case CEC_GIVE_PHYS_ADDR:
        if (operands || !directed)
            break;
        {
            /* broadcast: physical address 0.0.0.0, device type 0 (TV) */
            uint8_t f[5] = { (uint8_t)(CEC_TV_ADDR << 4 | CEC_BROADCAST),
                             CEC_REPORT_PHYS_ADDR, 0x00, 0x00, 0x00 };
            send(f, 5);
        }
        return;
    case CEC_GIVE_OSD_NAME:
        if (operands || !directed)
            break;
        {
            uint8_t f[7] = { (uint8_t)(CEC_TV_ADDR << 4 | from), CEC_SET_OSD_NAME,
                             'Q', 'S', 'M', '-', 'T' };
            send(f, 7);
        }
        return;
    default:
        if (directed)
            abort_op(from, op, CEC_ABORT_UNRECOGNIZED);
        else
            stats.ignored++;
        return;
    }
    /* a known opcode with the wrong operands (or broadcast where not allowed) */
    if (directed)
        abort_op(from, op, CEC_ABORT_INVALID_OPERAND);
    else
        stats.ignored++;
}

void cec_rx_char(char c)
{
    if (c == '\r' || c == '\n') {
        if (overflow) {
            stats.errors++;
        } else if (len) {
            line[len] = '\0';
            cec_handle_line(line);
        }
        len = 0;
        overflow = 0;
        return;
    }
    if (overflow)
        return;
    if (len == CEC_LINE_MAX) {
        overflow = 1;
        return;
    }
    line[len++] = c;
}
