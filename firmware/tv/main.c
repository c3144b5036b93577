/* QSM-T TV controller: boot banner, shell, main loop (tick, IR, CEC link,
 * settings kept across warm resets). */
#include <stdint.h>
#include "board.h"
#include "cec.h"
#include "cm.h"
#include "con.h"
#include "hal.h"
#include "remote.h"
#include "settings.h"
#include "shell.h"
#include "tick.h"
#include "tv.h"
#include "uart.h"
#include "usart.h"
#include "version.h"

#define CONSOLE_BAUD   115200u
#define CEC_LINK_BAUD  38400u
#define MAX_CATCHUP_MS 1000u

/* Contract: survives a warm reset (section .noinit, not cleared at start-up). */
__attribute__((section(".noinit"))) tv_settings_t tv_settings;
static settings_origin_t settings_origin;

static int no_args(int argc, char *argv[])
{
    if (argc > 1) {
        shell_err(SHELL_ERR_BAD_ARG, "unexpected argument %s", argv[1]);
        return 0;
    }
    return 1;
}

/* Decimal argument; -1 when not a plain number. */
static int number(const char *s)
{
    int v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static void save_settings(void);

/* A shell command's change is in the warm-reset settings before its reply goes out: a host
 * that resets the chip (a debugger, a watchdog test) right after the OK finds it restored. */
static void settle(void)
{
    if (tv_av_changed())
        save_settings();
}

static void answer(tv_result_t r, const char *what, int value, const char *arg)
{
    settle();
    if (r == TR_OK)
        shell_okf("%s %d", what, value);
    else if (r == TR_BAD_ARG)
        shell_err(SHELL_ERR_BAD_ARG, "%s out of range %s", what, arg);
    else
        shell_err(SHELL_ERR_NOT_NOW, "%s", tv_power() == TV_BOOTING ? "booting" : "standby");
}

static void cmd_version(int argc, char *argv[])
{
    if (!no_args(argc, argv))
        return;
    shell_ok_begin();
    con_puts(" ");
    version_print_fields();
    shell_ok_end();
}

static void cmd_status(int argc, char *argv[])
{
    if (!no_args(argc, argv))
        return;
    const tv_av_t *av = tv_av();
    const hal_outputs_t *o = tv_outputs();
    shell_okf("power=%s channel=%u volume=%u mute=%u input=%s supply_ua=%u "
              "standby_budget=%s settings=%s t=%u",
              tv_power_name(tv_power()), av->channel, av->volume, av->mute,
              tv_input_name(av->input), (unsigned)o->supply_ua,
              o->standby_over_budget ? "over" : "ok", settings_origin_name(settings_origin),
              (unsigned)tick_ms());
}

static void cmd_power(int argc, char *argv[])
{
    if (argc > 2) {
        shell_err(SHELL_ERR_BAD_ARG, "unexpected argument %s", argv[2]);
        return;
    }
    if (argc == 2) {
        if (streq(argv[1], "on"))
            tv_power_on();
        else if (streq(argv[1], "off"))
            tv_power_off();
        else if (streq(argv[1], "toggle"))
            tv_power_toggle();
        else {
            shell_err(SHELL_ERR_BAD_ARG, "bad argument %s", argv[1]);
            return;
        }
    }
    shell_okf("power %s", tv_power_name(tv_power()));
}

static void cmd_channel(int argc, char *argv[])
{
    if (argc != 2) {
        if (argc == 1)
            shell_okf("channel %u", tv_av()->channel);
        else
            shell_err(SHELL_ERR_BAD_ARG, "unexpected argument %s", argv[2]);
        return;
    }
    tv_result_t r;
    if (streq(argv[1], "up"))
        r = tv_channel_step(1);
    else if (streq(argv[1], "down"))
        r = tv_channel_step(-1);
    else
        r = tv_set_channel(number(argv[1]));
    answer(r, "channel", tv_av()->channel, argv[1]);
}

static void cmd_volume(int argc, char *argv[])
{
    if (argc != 2) {
        if (argc == 1)
            shell_okf("volume %u", tv_av()->volume);
        else
            shell_err(SHELL_ERR_BAD_ARG, "unexpected argument %s", argv[2]);
        return;
    }
    tv_result_t r;
    if (streq(argv[1], "up"))
        r = tv_volume_step(1);
    else if (streq(argv[1], "down"))
        r = tv_volume_step(-1);
    else
        r = tv_set_volume(number(argv[1]));
    answer(r, "volume", tv_av()->volume, argv[1]);
}

static void cmd_mute(int argc, char *argv[])
{
    if (argc > 2) {
        shell_err(SHELL_ERR_BAD_ARG, "unexpected argument %s", argv[2]);
        return;
    }
    int m = !tv_av()->mute;
    if (argc == 2) {
        if (streq(argv[1], "on"))
            m = 1;
        else if (streq(argv[1], "off"))
            m = 0;
        else if (!streq(argv[1], "toggle")) {
            shell_err(SHELL_ERR_BAD_ARG, "bad argument %s", argv[1]);
            return;
        }
    }
    answer(tv_set_mute(m), "mute", tv_av()->mute, argv[argc - 1]);
}

static void cmd_input(int argc, char *argv[])
{
    if (argc != 2) {
        if (argc == 1)
            shell_okf("input %s", tv_input_name(tv_av()->input));
        else
            shell_err(SHELL_ERR_BAD_ARG, "unexpected argument %s", argv[2]);
        return;
    }
    int i = tv_input_by_name(argv[1]);
    if (i < 0) {
        shell_err(SHELL_ERR_BAD_ARG, "unknown input %s", argv[1]);
        return;
    }
    tv_result_t r = tv_set_input(i);
    settle();
    if (r == TR_OK)
        shell_okf("input %s", tv_input_name(tv_av()->input));
    else
        answer(r, "input", 0, argv[1]);
}

static void cmd_ir(int argc, char *argv[])
{
    if (!no_args(argc, argv))
        return;
    extern ir_status_t ir_status;
    shell_okf("frames=%u repeats=%u rejected=%u foreign=%u last=%s",
              (unsigned)ir_status.frames, (unsigned)ir_status.repeats,
              (unsigned)ir_status.rejected, (unsigned)ir_status.foreign,
              nec_status_name((nec_status_t)ir_status.last_status));
}

static void cmd_cec(int argc, char *argv[])
{
    if (!no_args(argc, argv))
        return;
    const cec_stats_t *s = cec_stats();
    shell_okf("rx=%u tx=%u errors=%u ignored=%u", (unsigned)s->rx, (unsigned)s->tx,
              (unsigned)s->errors, (unsigned)s->ignored);
}

static void cmd_reset(int argc, char *argv[])
{
    if (!no_args(argc, argv))
        return;
    shell_okf("reset");
    cm_dsb();
    SCB_AIRCR = 0x05FA0004u;         /* VECTKEY | SYSRESETREQ: a warm reset */
    cm_dsb();
    for (;;)
        ;
}

#ifdef QSM_SIM
static void cmd_crash(int argc, char *argv[])
{
    (void)argc;
    (void)argv;
    __asm volatile ("udf #0");
}
#endif

static const shell_cmd_t commands[] = {
    { "help",    shell_cmd_help, 0 },
    { "version", cmd_version,    0 },
    { "status",  cmd_status,     0 },
    { "power",   cmd_power,      0 },
    { "channel", cmd_channel,    0 },
    { "volume",  cmd_volume,     0 },
    { "mute",    cmd_mute,       0 },
    { "input",   cmd_input,      0 },
    { "ir",      cmd_ir,         0 },
    { "cec",     cmd_cec,        0 },
    { "reset",   cmd_reset,      0 },
#ifdef QSM_SIM
    { "crash",   cmd_crash,      1 },
#endif
};

static void cec_send(const char *line)
{
    while (*line)
        usart_putc(&usart2, *line++);
    usart_putc(&usart2, '\r');
    usart_putc(&usart2, '\n');
}

static void save_settings(void)
{
    const tv_av_t *av = tv_av();
    tv_settings.channel = av->channel;
    tv_settings.volume = av->volume;
    tv_settings.mute = av->mute;
    tv_settings.input = av->input;
    settings_seal(&tv_settings);
}

static void poll_inputs(void)
{
    const uint16_t *us;
    uint32_t gap_us, seq;
    int n = hal_ir_capture(&us, &gap_us, &seq);
    if (n >= 0)
        remote_capture(us, (unsigned)n, gap_us, seq);
    int c;
    while ((c = usart_getc(&usart2)) >= 0)
        cec_rx_char((char)c);
}

int main(void)
{
    board_init();
    hal_init();
    uart_init(CONSOLE_BAUD);
    usart_open(&usart2, CEC_LINK_BAUD);

    settings_origin = settings_load(&tv_settings);
    tv_av_t av = { tv_settings.channel, tv_settings.volume, tv_settings.mute,
                   tv_settings.input };
    tv_init(&av);
    remote_init();
    cec_init(cec_send);
    shell_init(commands, sizeof(commands) / sizeof(commands[0]));

    con_puts("QSM boot ");
    version_print_fields();
    con_puts("\r\n");
    con_line("READY");
    tv_flush_events();

    tick_init();
    cm_irq_enable();

    uint32_t done = tick_ms();
    for (;;) {
        uint32_t now = tick_ms();
        if (now - done > MAX_CATCHUP_MS)
            done = now - MAX_CATCHUP_MS;
        while (done != now) {
            done++;
            tv_step(1);
        }
        poll_inputs();
        shell_poll();
        if (tv_av_changed())
            save_settings();
        tv_flush_events();

        /* IR captures arrive by debugger writes, which wake nothing: SysTick
         * (1 ms) bounds the latency. */
        cm_irq_disable();
        if (tick_ms() == done && !uart_rx_pending() && !usart_rx_pending(&usart2))
            cm_wfi();
        cm_irq_enable();
    }
}
