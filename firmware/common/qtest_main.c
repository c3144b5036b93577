/* main() of a chip's unit-test image: the usual boot banner and READY, then a
 * shell with "list" and "run" (firmware/README.md, "On-target C unit tests").
 * A chip that needs more set-up before its tests defines qtest_image_init(). */
#include "board.h"
#include "cm.h"
#include "con.h"
#include "qtest.h"
#include "shell.h"
#include "tick.h"
#include "uart.h"
#include "version.h"

#define CONSOLE_BAUD 115200u

__attribute__((weak)) void qtest_image_init(void)
{
}

static void cmd_version(int argc, char *argv[])
{
    (void)argc;
    (void)argv;
    shell_ok_begin();
    con_puts(" ");
    version_print_fields();
    shell_ok_end();
}

static const shell_cmd_t commands[] = {
    { "help",    shell_cmd_help,  0 },
    { "version", cmd_version,     0 },
    { "list",    qtest_cmd_list,  0 },
    { "run",     qtest_cmd_run,   0 },
};

int main(void)
{
    board_init();
    uart_init(CONSOLE_BAUD);
    qtest_image_init();
    shell_init(commands, sizeof(commands) / sizeof(commands[0]));

    con_puts("QSM boot ");
    version_print_fields();
    con_puts("\r\n");
    con_line("QTEST IMAGE tests=%u", qtest_count());
    con_line("READY");

    tick_init();
    cm_irq_enable();
    for (;;) {
        shell_poll();
        cm_irq_disable();
        if (!uart_rx_pending())
            cm_wfi();
        cm_irq_enable();
    }
}
