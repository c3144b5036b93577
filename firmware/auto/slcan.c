#include "slcan.h"

static const char HEX[] = "0123456789ABCDEF";

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int hexnum(const char *s, unsigned n, uint32_t *out)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        int d = hexval(s[i]);
        if (d < 0)
            return -1;
        v = (v << 4) | (uint32_t)d;
    }
    *out = v;
    return 0;
}

int slcan_parse_frame(const char *line, unsigned len, can_frame_t *f)
{
    if (len < 1)
        return -1;
    char kind = line[0];
    unsigned idlen;
    switch (kind) {
    case 't': case 'r': idlen = 3; f->ext = 0; break;
    case 'T': case 'R': idlen = 8; f->ext = 1; break;
    default: return -1;
    }
    f->rtr = (kind == 'r' || kind == 'R');
    if (len < 1 + idlen + 1)
        return -1;
    uint32_t id, dlc;
    if (hexnum(line + 1, idlen, &id) || hexnum(line + 1 + idlen, 1, &dlc))
        return -1;
    if (dlc > 8 || id > (f->ext ? 0x1FFFFFFFu : 0x7FFu))
        return -1;
    unsigned want = 1 + idlen + 1 + (f->rtr ? 0 : 2 * dlc);
    if (len != want)
        return -1;
    f->id = id;
    f->dlc = (uint8_t)dlc;
    for (unsigned i = 0; i < 8; i++)
        f->data[i] = 0;
    if (!f->rtr) {
        for (unsigned i = 0; i < dlc; i++) {
            uint32_t b;
            if (hexnum(line + 2 + idlen + 2 * i, 2, &b))
                return -1;
            f->data[i] = (uint8_t)b;
        }
    }
    return 0;
}

unsigned slcan_format(const can_frame_t *f, char *buf, unsigned size)
{
    unsigned idlen = f->ext ? 8 : 3;
    unsigned dlc = f->dlc > 8 ? 8 : f->dlc;
    unsigned n = 1 + idlen + 1 + (f->rtr ? 0 : 2 * dlc) + 1;
    if (n + 1 > size)
        return 0;
    unsigned p = 0;
    buf[p++] = f->rtr ? (f->ext ? 'R' : 'r') : (f->ext ? 'T' : 't');
    for (unsigned i = 0; i < idlen; i++)
        buf[p++] = HEX[(f->id >> (4 * (idlen - 1 - i))) & 0xFu];
    buf[p++] = HEX[dlc];
    if (!f->rtr) {
        for (unsigned i = 0; i < dlc; i++) {
            buf[p++] = HEX[f->data[i] >> 4];
            buf[p++] = HEX[f->data[i] & 0xFu];
        }
    }
    buf[p++] = '\r';
    buf[p] = 0;
    return p;
}

void slcan_init(slcan_t *s, slcan_out_t out, slcan_rx_t rx, void *ctx)
{
    s->len = 0;
    s->overflow = 0;
    s->open = 1;
    s->bitrate = 6;              /* 500 kbit/s */
    s->out = out;
    s->rx = rx;
    s->ctx = ctx;
    s->frames_in = s->frames_out = s->errors = 0;
}

static void reply(slcan_t *s, const char *text, unsigned n)
{
    s->out(text, n, s->ctx);
}

static void ok(slcan_t *s) { reply(s, "\r", 1); }

static void bell(slcan_t *s)
{
    s->errors++;
    reply(s, "\a", 1);
}

static void command(slcan_t *s)
{
    const char *l = s->line;
    unsigned n = s->len;
    can_frame_t f;

    switch (l[0]) {
    case 'O':
    case 'L':
        if (n != 1)
            break;
        s->open = (l[0] == 'O') ? 1 : 2;
        ok(s);
        return;
    case 'C':
        if (n != 1)
            break;
        s->open = 0;
        ok(s);
        return;
    case 'S':
        if (n != 2 || l[1] < '0' || l[1] > '8' || s->open)
            break;
        s->bitrate = (uint8_t)(l[1] - '0');
        ok(s);
        return;
    case 'V':
        if (n != 1)
            break;
        reply(s, "V1013\r", 6);
        return;
    case 'N':
        if (n != 1)
            break;
        reply(s, "NA385\r", 6);
        return;
    case 'F':
        if (n != 1)
            break;
        reply(s, "F00\r", 4);
        return;
    case 't': case 'T': case 'r': case 'R':
        if (s->open != 1 || slcan_parse_frame(l, n, &f) != 0)
            break;
        reply(s, f.ext ? "Z\r" : "z\r", 2);
        s->frames_in++;
        s->rx(&f, s->ctx);
        return;
    default:
        break;
    }
    bell(s);
}

void slcan_feed(slcan_t *s, uint8_t byte)
{
    if (byte == '\r' || byte == '\n') {
        if (s->overflow)
            bell(s);
        else if (s->len > 0)
            command(s);
        s->len = 0;
        s->overflow = 0;
        return;
    }
    if (s->overflow)
        return;
    if (s->len >= SLCAN_LINE_MAX) {
        s->overflow = 1;
        return;
    }
    s->line[s->len++] = (char)byte;
}

int slcan_send(slcan_t *s, const can_frame_t *f)
{
    char buf[SLCAN_LINE_MAX + 2];
    if (s->open == 0)
        return 0;
    unsigned n = slcan_format(f, buf, sizeof buf);
    if (n == 0)
        return 0;
    s->out(buf, n, s->ctx);
    s->frames_out++;
    return 1;
}
