#include "remote.h"
#include "con.h"
#include "tv.h"

/* Contract: found by symbol (firmware/README.md, "QSM-T"). */
ir_status_t ir_status;

static volatile ir_status_t *const irs = &ir_status;
static nec_rx_t rx;

void remote_init(void)
{
    nec_rx_init(&rx);
    irs->seq = irs->frames = irs->repeats = irs->rejected = irs->foreign = 0;
    irs->last_status = irs->last_address = irs->last_command = 0;
}

const char *remote_key_name(uint8_t command)
{
    switch (command) {
    case KEY_CH_UP:    return "CH_UP";
    case KEY_CH_DOWN:  return "CH_DOWN";
    case KEY_VOL_UP:   return "VOL_UP";
    case KEY_VOL_DOWN: return "VOL_DOWN";
    case KEY_POWER:    return "POWER";
    case KEY_MUTE:     return "MUTE";
    case KEY_INPUT:    return "INPUT";
    default:           return "NONE";
    }
}

static void act(uint8_t command, int repeat)
{
    switch (command) {
    case KEY_CH_UP:    tv_channel_step(1);   break;
    case KEY_CH_DOWN:  tv_channel_step(-1);  break;
    case KEY_VOL_UP:   tv_volume_step(1);    break;
    case KEY_VOL_DOWN: tv_volume_step(-1);   break;
    case KEY_POWER:    if (!repeat) tv_power_toggle(); break;
    case KEY_MUTE:     if (!repeat) tv_set_mute(!tv_av()->mute); break;
    case KEY_INPUT:
        if (!repeat)
            tv_set_input((tv_av()->input + 1) % TV_INPUT_COUNT);
        break;
    default:
        break;
    }
}

void remote_capture(const uint16_t *us, unsigned count, uint32_t gap_us, uint32_t seq)
{
    nec_result_t r = nec_rx_feed(&rx, us, count, gap_us);
    irs->last_status = r.status;
    if (r.status == NEC_FRAME || r.status == NEC_REPEAT) {
        irs->last_address = r.address;
        irs->last_command = r.command;
        if (r.address != REMOTE_ADDRESS) {
            irs->foreign++;
            con_line("EVT ir foreign address=0x%04x command=0x%02x", r.address, r.command);
        } else if (r.status == NEC_FRAME) {
            irs->frames++;
            con_line("EVT ir key %s", remote_key_name(r.command));
            act(r.command, 0);
        } else {
            irs->repeats++;
            con_line("EVT ir repeat %s", remote_key_name(r.command));
            act(r.command, 1);
        }
    } else {
        irs->rejected++;
        con_line("EVT ir reject %s at=%u", nec_status_name(r.status), r.at);
    }
    irs->seq = seq;                  /* last: the test's acknowledgement */
}
