#include "tv.h"
#include "con.h"

static const char *const power_names[TV_POWER_COUNT] = { "STANDBY", "BOOTING", "ON" };
static const char *const input_names[TV_INPUT_COUNT] = {
    "TUNER", "HDMI1", "HDMI2", "HDMI3", "AV",
};

static tv_power_t power;
static uint32_t state_ms;
static tv_av_t av;
static int av_dirty;
static hal_outputs_t out;
static uint32_t last_over;           /* over-budget flag last reported */

/* Event queue, printed by tv_flush_events() after the command's answer. */
#define EVQ_SIZE 8u
typedef struct { uint8_t kind; uint32_t value; } event_t;
enum { EV_POWER, EV_BUDGET };
static event_t evq[EVQ_SIZE];
static unsigned evq_len;

static void queue_event(uint8_t kind, uint32_t value)
{
    if (evq_len < EVQ_SIZE)
        evq[evq_len++] = (event_t){ kind, value };
}

void tv_flush_events(void)
{
    for (unsigned i = 0; i < evq_len; i++) {
        if (evq[i].kind == EV_POWER)
            con_line("EVT power %s", power_names[evq[i].value]);
        else if (evq[i].value)
            con_line("EVT standby_budget exceeded supply_ua=%u", (unsigned)out.supply_ua);
        else
            con_line("EVT standby_budget ok");
    }
    evq_len = 0;
}

static void compute_outputs(void)
{
    hal_outputs_t o = { 0, 0, 0, 0, 0, 0 };
    uint32_t ua = TV_UA_MCU + TV_UA_IR + TV_UA_CEC;
    switch (power) {
    case TV_STANDBY:
        o.standby_led = 1;
        ua += TV_UA_LED + hal_standby_leak_ua();
        break;
    case TV_BOOTING:
        o.panel = 1;
        ua += TV_UA_PANEL;
        break;
    case TV_ON:
        o.panel = 1;
        o.backlight = 1;
        o.audio = av.mute ? 0u : 1u;
        ua += TV_UA_PANEL + TV_UA_BACKLIGHT + (o.audio ? TV_UA_AUDIO : 0u);
        break;
    default:
        break;
    }
    o.supply_ua = ua;
    o.standby_over_budget = (power == TV_STANDBY && ua > TV_STANDBY_BUDGET_UA) ? 1u : 0u;
    if (o.standby_over_budget != last_over) {
        last_over = o.standby_over_budget;
        out = o;
        queue_event(EV_BUDGET, last_over);
    }
    out = o;
    hal_write(&out);
}

static void enter(tv_power_t p)
{
    if (p == power)
        return;
    power = p;
    state_ms = 0;
    queue_event(EV_POWER, p);
    compute_outputs();
}

void tv_init(const tv_av_t *initial)
{
    power = TV_STANDBY;
    state_ms = 0;
    av = *initial;
    av_dirty = 0;
    evq_len = 0;
    last_over = 0;
    compute_outputs();
}

void tv_step(uint32_t dt_ms)
{
    state_ms += dt_ms;
    if (power == TV_BOOTING && state_ms >= TV_BOOT_MS)
        enter(TV_ON);
    compute_outputs();
}

void tv_power_on(void)
{
    if (power == TV_STANDBY)
        enter(TV_BOOTING);
}

void tv_power_off(void)
{
    enter(TV_STANDBY);
}

void tv_power_toggle(void)
{
    if (power == TV_STANDBY)
        tv_power_on();
    else
        tv_power_off();
}

static void changed(void)
{
    av_dirty = 1;
    compute_outputs();
}

tv_result_t tv_set_channel(int channel)
{
    if (channel < TV_CHANNEL_MIN || channel > TV_CHANNEL_MAX)
        return TR_BAD_ARG;
    if (power != TV_ON)
        return TR_NOT_ON;
    av.channel = (uint16_t)channel;
    changed();
    return TR_OK;
}

tv_result_t tv_channel_step(int delta)
{
    if (power != TV_ON)
        return TR_NOT_ON;
    int span = TV_CHANNEL_MAX - TV_CHANNEL_MIN + 1;
    int c = (av.channel - TV_CHANNEL_MIN + delta % span + span) % span + TV_CHANNEL_MIN;
    return tv_set_channel(c);
}

tv_result_t tv_set_volume(int volume)
{
    if (volume < 0 || volume > TV_VOLUME_MAX)
        return TR_BAD_ARG;
    if (power != TV_ON)
        return TR_NOT_ON;
    av.volume = (uint8_t)volume;
    changed();
    return TR_OK;
}

tv_result_t tv_volume_step(int delta)
{
    if (power != TV_ON)
        return TR_NOT_ON;
    int v = av.volume + delta;
    if (v < 0)
        v = 0;
    if (v > TV_VOLUME_MAX)
        v = TV_VOLUME_MAX;
    if (delta > 0 && av.mute)
        av.mute = 0;                  /* volume up un-mutes, as remotes expect */
    return tv_set_volume(v);
}

tv_result_t tv_set_mute(int mute)
{
    if (mute != 0 && mute != 1)
        return TR_BAD_ARG;
    if (power != TV_ON)
        return TR_NOT_ON;
    av.mute = (uint8_t)mute;
    changed();
    return TR_OK;
}

tv_result_t tv_set_input(int input)
{
    if (input < 0 || input >= TV_INPUT_COUNT)
        return TR_BAD_ARG;
    if (power != TV_ON)
        return TR_NOT_ON;
    av.input = (uint8_t)input;
    changed();
    return TR_OK;
}

tv_power_t tv_power(void) { return power; }
const tv_av_t *tv_av(void) { return &av; }
const hal_outputs_t *tv_outputs(void) { return &out; }

const char *tv_power_name(tv_power_t p)
{
    return (unsigned)p < TV_POWER_COUNT ? power_names[p] : "?";
}

const char *tv_input_name(unsigned input)
{
    return input < TV_INPUT_COUNT ? input_names[input] : "?";
}

int tv_input_by_name(const char *name)
{
    for (int i = 0; i < TV_INPUT_COUNT; i++) {
        const char *a = name, *b = input_names[i];
        while (*a && *a == *b) {
            a++;
            b++;
        }
        if (*a == *b)
            return i;
    }
    return -1;
}

int tv_av_changed(void)
{
    int d = av_dirty;
    av_dirty = 0;
    return d;
}
