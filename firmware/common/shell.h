/* Line shell: reads console lines, tokenizes them, dispatches a command table.
 * Every command answers exactly one line, "OK[ <payload>]" or
 * "ERR <code> <text>"; a handler that answers nothing gets a plain "OK". */
#ifndef QSM_SHELL_H
#define QSM_SHELL_H

#define SHELL_LINE_MAX 80          /* characters per input line (contract) */
#define SHELL_MAX_ARGS 8

enum {
    SHELL_ERR_UNKNOWN   = 1,       /* unknown command */
    SHELL_ERR_BAD_ARG   = 2,       /* bad argument */
    SHELL_ERR_TOO_LONG  = 3,       /* line too long */
    SHELL_ERR_NOT_NOW   = 4,       /* not allowed now (interlock) */
    SHELL_ERR_FAULT     = 5,       /* fault active */
};

typedef struct {
    const char *name;
    void (*handler)(int argc, char *argv[]);   /* argv[0] is the command name */
    int hidden;                                /* 1: not listed by help */
} shell_cmd_t;

void shell_init(const shell_cmd_t *table, unsigned count);
/* Consume received bytes and run every complete line.
 * Returns nonzero when at least one byte was consumed. */
int shell_poll(void);

void shell_ok(void);
void shell_okf(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* For payloads built piecewise: shell_ok_begin() prints "OK", the handler
 * prints " <payload>" with con_printf(), shell_ok_end() ends the line. */
void shell_ok_begin(void);
void shell_ok_end(void);
void shell_err(int code, const char *f, ...) __attribute__((format(printf, 2, 3)));

/* Built-in "help": "OK help <name> <name> ..." over the visible commands. */
void shell_cmd_help(int argc, char *argv[]);

#endif
