/* QSM-A body control module: console shell on UART0, CAN through SLCAN on
 * UART1, ISO-TP + UDS diagnostics, body logic, periodic status frame. */
#include <stdint.h>
#include "aux_uart.h"
#include "body.h"
#include "board.h"
#include "can.h"
#include "cm.h"
#include "con.h"
#include "dtc.h"
#include "hal.h"
#include "isotp.h"
#include "shell.h"
#include "slcan.h"
#include "tick.h"
#include "uart.h"
#include "uds.h"
#include "version.h"

#define CONSOLE_BAUD     115200u
#define SLCAN_BAUD       115200u
#define STATUS_PERIOD_MS 100u
#define MAX_CATCHUP_MS   1000u

/* Diagnostics state (harness contract: global objects found by symbol). */
struct diag_counters {
    uint32_t slcan_frames_in;
    uint32_t slcan_frames_out;
    uint32_t slcan_errors;
    uint32_t isotp_errors;
    uint32_t isotp_overflows;
    uint32_t isotp_timeouts;
    uint32_t uart_overruns;
    uint32_t uds_requests;
};
struct diag_counters diag_counters;

static slcan_t slcan;
static isotp_t isotp;
static uds_t uds;
static uint32_t program_ms;          /* scaled time: UDS timers, body logic */

void body_event(const char *what, uint32_t arg)
{
    if (arg)
        con_line("EVT %s %06x", what, (unsigned)arg);
    else
        con_line("EVT %s", what);
}

/* -- CAN plumbing ------------------------------------------------------------------------ */
static void update_counters(void);

static void slcan_out(const char *s, unsigned n, void *ctx)
{
    (void)ctx;
    update_counters();  /* a tester that sees this reply sees counters that include its cause */
    for (unsigned i = 0; i < n; i++)
        aux_uart_putc(s[i]);
}

static void can_send(uint32_t id, const uint8_t data[8], void *ctx)
{
    (void)ctx;
    can_frame_t f = { .id = id, .ext = 0, .rtr = 0, .dlc = 8 };
    for (unsigned i = 0; i < 8; i++)
        f.data[i] = data[i];
    slcan_send(&slcan, &f);
}

static void serve_request(const uint8_t *req, uint16_t len, int functional)
{
    static uint8_t rsp[ISOTP_MAX];
    diag_counters.uds_requests++;
    uint16_t n = uds_handle(&uds, req, len, rsp, sizeof rsp, program_ms, functional);
    if (n)
        isotp_send(&isotp, rsp, n, tick_ms());
}

static void can_rx(const can_frame_t *f, void *ctx)
{
    (void)ctx;
    if (f->ext || f->rtr)
        return;
    switch (f->id) {
    case CAN_ID_UDS_PHYS:
        isotp_on_frame(&isotp, f->data, f->dlc, tick_ms());
        break;
    case CAN_ID_UDS_FUNC:
        /* functional requests: single frames only */
        if (f->dlc >= 2 && (f->data[0] >> 4) == 0 && (f->data[0] & 0xF) &&
            (f->data[0] & 0xF) < f->dlc)
            serve_request(f->data + 1, f->data[0] & 0xF, 1);
        break;
    case CAN_ID_BODY_CMD:
        body_command(f->data, f->dlc);
        break;
    case CAN_ID_CRASH:
        body_crash_signal(f->data, f->dlc);
        break;
    default:
        break;
    }
}

static void send_status(void)
{
    static uint8_t counter;
    can_frame_t f = { .id = CAN_ID_BODY_STATUS, .dlc = 8 };
    body_status_frame(f.data, uds.session, counter++);
    slcan_send(&slcan, &f);
}

static void ecu_reset(void)
{
    con_line("EVT reset");
    aux_uart_flush();
    uint32_t t = tick_ms();
    while (tick_ms() - t < 2u)       /* let the last bytes leave the UART */
        ;
    cm_dsb();
    SCB_AIRCR = 0x05FA0004u;         /* VECTKEY | SYSRESETREQ */
    cm_dsb();
    for (;;)
        ;
}

/* -- shell --------------------------------------------------------------------------------- */
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
    shell_okf("lights=%u locked=%u window=%u crash=%u pinch=%u session=%u unlocked=%u "
              "dtcs=%u battery=%u bus=%s t=%u",
              (unsigned)body.lights, (unsigned)body.locked, (unsigned)body.window_pos,
              (unsigned)body.crash, (unsigned)body.pinch_count, (unsigned)uds.session,
              (unsigned)uds.unlocked, dtc_active_count(), (unsigned)body.battery_mv,
              slcan.open ? "open" : "closed", (unsigned)tick_ms());
}

static void cmd_dtc(int argc, char *argv[])
{
    if (!no_args(argc, argv))
        return;
    shell_ok_begin();
    for (unsigned i = 0; i < DTC_COUNT; i++)
        con_printf(" %06x:%02x", (unsigned)dtc_codes[i], dtc_status(i));
    shell_ok_end();
}

static const shell_cmd_t commands[] = {
    { "help",    shell_cmd_help, 0 },
    { "version", cmd_version,    0 },
    { "status",  cmd_status,     0 },
    { "dtc",     cmd_dtc,        0 },
};

static void update_counters(void)
{
    diag_counters.slcan_frames_in = slcan.frames_in;
    diag_counters.slcan_frames_out = slcan.frames_out;
    diag_counters.slcan_errors = slcan.errors;
    diag_counters.isotp_errors = isotp.rx_errors;
    diag_counters.isotp_overflows = isotp.rx_overflows;
    diag_counters.isotp_timeouts = isotp.rx_timeouts + isotp.tx_timeouts;
    diag_counters.uart_overruns = aux_uart_rx_overruns();
}

int main(void)
{
    board_init();
    hal_init();
    uart_init(CONSOLE_BAUD);
    aux_uart_init(SLCAN_BAUD);
    dtc_init();
    body_init();
    program_ms = 0;
    uds_init(&uds, program_ms);
    slcan_init(&slcan, slcan_out, can_rx, 0);
    isotp_init(&isotp, CAN_ID_UDS_RESP, can_send, 0);
    shell_init(commands, sizeof(commands) / sizeof(commands[0]));

    con_puts("QSM boot ");
    version_print_fields();
    con_puts("\r\n");
    con_line("READY");

    tick_init();
    cm_irq_enable();

    uint32_t done = tick_ms();
    uint32_t next_status = done + STATUS_PERIOD_MS;
    uint8_t req[ISOTP_MAX];
    for (;;) {
        int c;
        while ((c = aux_uart_getc()) >= 0)
            slcan_feed(&slcan, (uint8_t)c);

        uint32_t now = tick_ms();
        if (now - done > MAX_CATCHUP_MS)
            done = now - MAX_CATCHUP_MS;
        while (done != now) {
            done++;
            uint32_t dt = hal_time_scale();
            program_ms += dt;
            body_tick(dt);
        }
        if (uds_poll(&uds, program_ms))
            con_line("EVT session 1");

        isotp_poll(&isotp, now);
        uint16_t n = isotp_receive(&isotp, req, sizeof req);
        if (n)
            serve_request(req, n, 0);
        isotp_poll(&isotp, now);

        if ((int32_t)(now - next_status) >= 0) {
            next_status += STATUS_PERIOD_MS;
            if ((int32_t)(now - next_status) >= 0)
                next_status = now + STATUS_PERIOD_MS;
            send_status();
        }
        if (uds.reset_pending && !isotp_tx_busy(&isotp))
            ecu_reset();

        shell_poll();
        update_counters();

        cm_irq_disable();
        if (tick_ms() == done && !uart_rx_pending() && !aux_uart_rx_pending())
            cm_wfi();
        cm_irq_enable();
    }
}
