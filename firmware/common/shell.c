#include "shell.h"
#include "con.h"
#include "uart.h"

static const shell_cmd_t *cmds;
static unsigned ncmds;

static char line[SHELL_LINE_MAX + 1];
static unsigned len;
static int overflow;               /* current line exceeded SHELL_LINE_MAX */
static int answered;               /* current command already answered */

void shell_init(const shell_cmd_t *table, unsigned count)
{
    cmds = table;
    ncmds = count;
    len = 0;
    overflow = 0;
}

void shell_ok(void)
{
    con_line("OK");
    answered = 1;
}

void shell_okf(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    con_puts("OK ");
    con_vprintf(f, ap);
    con_puts("\r\n");
    va_end(ap);
    answered = 1;
}

void shell_ok_begin(void)
{
    con_puts("OK");
    answered = 1;
}

void shell_ok_end(void)
{
    con_puts("\r\n");
}

void shell_err(int code, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    con_printf("ERR %d ", code);
    con_vprintf(f, ap);
    con_puts("\r\n");
    va_end(ap);
    answered = 1;
}

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static void run_line(char *s)
{
    char *argv[SHELL_MAX_ARGS + 1];
    int argc = 0;

    answered = 0;
    for (;;) {
        while (is_space(*s))
            s++;
        if (!*s)
            break;
        if (argc == SHELL_MAX_ARGS) {
            shell_err(SHELL_ERR_BAD_ARG, "too many arguments");
            return;
        }
        argv[argc++] = s;
        while (*s && !is_space(*s))
            s++;
        if (*s)
            *s++ = '\0';
    }
    argv[argc] = 0;
    if (argc == 0)
        return;                    /* whitespace only: treated like an empty line */

    for (unsigned i = 0; i < ncmds; i++) {
        if (streq(argv[0], cmds[i].name)) {
            cmds[i].handler(argc, argv);
            if (!answered)
                shell_ok();
            return;
        }
    }
    shell_err(SHELL_ERR_UNKNOWN, "unknown command %s", argv[0]);
}

int shell_poll(void)
{
    int any = 0;
    int c;

    /* One line per call at most, so the caller's periodic work is not
     * starved by a burst of input. */
    while ((c = uart_getc()) >= 0) {
        any = 1;
        if (c == '\r' || c == '\n') {
            if (overflow) {
                overflow = 0;
                len = 0;
                shell_err(SHELL_ERR_TOO_LONG, "line too long");
                break;
            }
            if (len == 0)
                continue;          /* empty line, or the LF of a CRLF */
            line[len] = '\0';
            len = 0;
            run_line(line);
            break;
        }
        if (overflow)
            continue;
        if (len == SHELL_LINE_MAX) {
            overflow = 1;
            continue;
        }
        line[len++] = (char)c;
    }
    return any;
}

void shell_cmd_help(int argc, char *argv[])
{
    (void)argc;
    (void)argv;
    shell_ok_begin();
    for (unsigned i = 0; i < ncmds; i++)
        if (!cmds[i].hidden)
            con_printf(" %s", cmds[i].name);
    shell_ok_end();
}
