/* QSM-W washer: boot banner, shell commands, main loop. */
#include <stdint.h>
#include "board.h"
#include "cm.h"
#include "con.h"
#include "hal.h"
#include "shell.h"
#include "tick.h"
#include "uart.h"
#include "version.h"
#include "washer.h"

#define CONSOLE_BAUD   115200u
#define MAX_CATCHUP_MS 1000u     /* ticks older than this are dropped, not replayed */

static int no_args(int argc, char *argv[])
{
    if (argc > 1) {
        shell_err(SHELL_ERR_BAD_ARG, "unexpected argument %s", argv[1]);
        return 0;
    }
    return 1;
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
    hal_sensors_t s;
    hal_read(&s);
    const hal_outputs_t *o = washer_outputs();
    const washer_program_t *p = washer_program();
    uint32_t mask = washer_fault_mask();
    unsigned nfaults = 0;
    for (unsigned c = 1; c <= WF_MAX; c++)
        nfaults += (mask >> c) & 1u;

    shell_okf("state=%s program=%s door=%s lock=%u water=%d rpm=%d temp=%d "
              "motor=%u valve=%u pump=%u heater=%u faults=%u t=%u",
              washer_state_name(washer_state()), p ? p->name : "-",
              s.door_closed ? "closed" : "open", (unsigned)o->lock,
              (int)s.water_mm, (int)s.drum_rpm, (int)s.temp_c,
              (unsigned)o->motor, (unsigned)o->valve, (unsigned)o->pump,
              (unsigned)o->heater, nfaults, (unsigned)tick_ms());
}

static void cmd_start(int argc, char *argv[])
{
    if (argc < 2) {
        shell_err(SHELL_ERR_BAD_ARG, "missing program");
        return;
    }
    if (argc > 2) {
        shell_err(SHELL_ERR_BAD_ARG, "unexpected argument %s", argv[2]);
        return;
    }
    switch (washer_start(argv[1])) {
    case WR_OK:
        shell_okf("start %s", argv[1]);
        break;
    case WR_UNKNOWN_PROGRAM:
        shell_err(SHELL_ERR_BAD_ARG, "unknown program %s", argv[1]);
        break;
    case WR_DOOR_OPEN:
        shell_err(SHELL_ERR_NOT_NOW, "door open");
        break;
    case WR_BUSY:
        shell_err(SHELL_ERR_NOT_NOW, "busy");
        break;
    case WR_FAULT_ACTIVE:
    default:
        shell_err(SHELL_ERR_FAULT, "fault active");
        break;
    }
}

static void cmd_stop(int argc, char *argv[])
{
    if (!no_args(argc, argv))
        return;
    if (washer_stop() == WR_OK)
        shell_okf("stop");
    else
        shell_okf("idle");
}

static void cmd_faults(int argc, char *argv[])
{
    if (!no_args(argc, argv))
        return;
    uint32_t mask = washer_fault_mask();
    if (!mask) {
        shell_okf("none");
        return;
    }
    shell_ok_begin();
    char sep = ' ';
    for (unsigned c = 1; c <= WF_MAX; c++) {
        if (mask & (1u << c)) {
            con_printf("%c%u:%s", sep, c, washer_fault_name(c));
            sep = ',';
        }
    }
    shell_ok_end();
}

static void cmd_clear(int argc, char *argv[])
{
    if (!no_args(argc, argv))
        return;
    if (washer_clear() == WR_OK)
        shell_okf("clear");
    else
        shell_err(SHELL_ERR_NOT_NOW, "not safe");
}

static void cmd_door(int argc, char *argv[])
{
    if (argc == 1) {
        hal_sensors_t s;
        hal_read(&s);
        shell_okf("lock=%u door=%s", (unsigned)washer_outputs()->lock,
                  s.door_closed ? "closed" : "open");
        return;
    }
    if (argc > 2 || argv[1][0] != 'u' || argv[1][1] != 'n' ||
        argv[1][2] != 'l' || argv[1][3] != 'o' || argv[1][4] != 'c' ||
        argv[1][5] != 'k' || argv[1][6] != '\0') {
        shell_err(SHELL_ERR_BAD_ARG, "bad argument %s", argv[argc > 2 ? 2 : 1]);
        return;
    }
    switch (washer_unlock()) {
    case WR_OK:
        shell_okf("unlocked");
        break;
    case WR_DRUM_TURNING:
        shell_err(SHELL_ERR_NOT_NOW, "drum turning");
        break;
    case WR_WATER_ABOVE_SAFE:
        shell_err(SHELL_ERR_NOT_NOW, "water above safe level");
        break;
    case WR_PROGRAM_RUNNING:
    default:
        shell_err(SHELL_ERR_NOT_NOW, "program running");
        break;
    }
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
    { "start",   cmd_start,      0 },
    { "stop",    cmd_stop,       0 },
    { "faults",  cmd_faults,     0 },
    { "clear",   cmd_clear,      0 },
    { "door",    cmd_door,       0 },
#ifdef QSM_SIM
    { "crash",   cmd_crash,      1 },
#endif
};

int main(void)
{
    board_init();
    hal_init();                  /* stimulus defaults, outputs off */
    uart_init(CONSOLE_BAUD);
    washer_init();
    shell_init(commands, sizeof(commands) / sizeof(commands[0]));

    con_puts("QSM boot ");
    version_print_fields();
    con_puts("\r\n");
    con_line("READY");

    tick_init();
    cm_irq_enable();

    uint32_t done = tick_ms();   /* last tick the controller has processed */
    for (;;) {
        uint32_t now = tick_ms();
        if (now - done > MAX_CATCHUP_MS)
            done = now - MAX_CATCHUP_MS;
        while (done != now) {
            done++;
            uint32_t dt = hal_time_scale();
            washer_step(dt);
            hal_tick(dt);
            washer_flush_events();
        }

        shell_poll();
        washer_flush_events();

        /* Sleep until the next interrupt (SysTick or UART RX). Interrupts are
         * masked around the check so a wake-up cannot slip in between; WFI
         * still wakes on a pending interrupt, which runs once unmasked. */
        cm_irq_disable();
        if (tick_ms() == done && !uart_rx_pending())
            cm_wfi();
        cm_irq_enable();
    }
}
