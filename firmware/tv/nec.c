#include "nec.h"

#define LEAD_MARK   9000u
#define LEAD_SPACE  4500u
#define REP_SPACE   2250u
#define BIT_MARK     563u
#define ZERO_SPACE   563u
#define ONE_SPACE   1688u

static int near(uint32_t v, uint32_t nominal)
{
    uint32_t tol = nominal * NEC_TOL_PCT / 100u;
    return v + tol >= nominal && v <= nominal + tol;
}

static nec_result_t fail(nec_status_t s, unsigned at)
{
    nec_result_t r = { s, 0, 0, 0, at };
    return r;
}

nec_result_t nec_decode(const uint16_t *us, unsigned count)
{
    if (count == 0)
        return fail(NEC_ERR_LENGTH, 0);
    if (!near(us[0], LEAD_MARK))
        return fail(NEC_ERR_LEAD_MARK, 0);
    if (count < 2)
        return fail(NEC_ERR_LENGTH, count);
    if (near(us[1], REP_SPACE)) {
        if (count != NEC_REPEAT_PULSES)
            return fail(NEC_ERR_LENGTH, count < NEC_REPEAT_PULSES ? count : NEC_REPEAT_PULSES);
        if (!near(us[2], BIT_MARK))
            return fail(NEC_ERR_BIT_MARK, 2);
        nec_result_t r = { NEC_REPEAT, 0, 0, 0, 0 };
        return r;
    }
    if (!near(us[1], LEAD_SPACE))
        return fail(NEC_ERR_LEAD_SPACE, 1);

    uint32_t raw = 0;
    for (unsigned bit = 0; bit < 32u; bit++) {
        unsigned m = 2u + 2u * bit, s = m + 1u;
        if (s >= count)
            return fail(NEC_ERR_LENGTH, count);
        if (!near(us[m], BIT_MARK))
            return fail(NEC_ERR_BIT_MARK, m);
        if (near(us[s], ONE_SPACE))
            raw |= 1u << bit;
        else if (!near(us[s], ZERO_SPACE))
            return fail(NEC_ERR_BIT_SPACE, s);
    }
    if (count < NEC_FRAME_PULSES)
        return fail(NEC_ERR_LENGTH, count);
    if (!near(us[NEC_FRAME_PULSES - 1u], BIT_MARK))
        return fail(NEC_ERR_BIT_MARK, NEC_FRAME_PULSES - 1u);
    if (count != NEC_FRAME_PULSES)
        return fail(NEC_ERR_LENGTH, NEC_FRAME_PULSES);

    uint32_t a = raw & 0xFFu, na = (raw >> 8) & 0xFFu;
    uint32_t c = (raw >> 16) & 0xFFu, nc = (raw >> 24) & 0xFFu;
    if ((c ^ nc) != 0xFFu) {
        nec_result_t r = fail(NEC_ERR_CHECK, 0);
        r.raw = raw;
        return r;
    }
    nec_result_t r = { NEC_FRAME, 0, (uint8_t)c, raw, 0 };
    /* classic NEC: address + inverse; otherwise extended 16-bit address */
    r.address = ((a ^ na) == 0xFFu) ? (uint16_t)a : (uint16_t)(raw & 0xFFFFu);
    return r;
}

void nec_rx_init(nec_rx_t *rx)
{
    rx->have_frame = 0;
    rx->address = 0;
    rx->command = 0;
    rx->frames = rx->repeats = rx->rejected = 0;
}

nec_result_t nec_rx_feed(nec_rx_t *rx, const uint16_t *us, unsigned count, uint32_t gap_us)
{
    nec_result_t r = nec_decode(us, count);
    if (r.status == NEC_REPEAT) {
        if (!rx->have_frame || gap_us > NEC_REPEAT_WINDOW_US) {
            rx->have_frame = 0;
            rx->rejected++;
            return fail(NEC_ERR_ORPHAN_REPEAT, 0);
        }
        r.address = rx->address;
        r.command = rx->command;
        rx->repeats++;
        return r;
    }
    if (r.status == NEC_FRAME) {
        rx->have_frame = 1;
        rx->address = r.address;
        rx->command = r.command;
        rx->frames++;
        return r;
    }
    rx->have_frame = 0;          /* garbage between frame and repeat breaks the chain */
    rx->rejected++;
    return r;
}

const char *nec_status_name(nec_status_t s)
{
    static const char *const names[] = {
        "frame", "repeat", "lead_mark", "lead_space", "bit_mark", "bit_space", "check",
        "length", "orphan_repeat",
    };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}
