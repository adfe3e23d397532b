/* config: a service's environment variables, declared in one table and read once at start.
 *
 * Each service writes one static table of struct config_var and calls config_load() from
 * main() before any thread starts. A bad or missing value stops start-up with one line in
 * err that names the variable, shows the value (never for CONFIG_SECRET or CONFIG_PGURL,
 * which may carry credentials) and says what is allowed.
 *
 * Ownership: every string this module stores through dst is a copy owned by the module,
 * kept for the life of the process (later setenv()/unsetenv() cannot invalidate it); never
 * free it. An ENUM value is stored with the spelling of the table's choice (the match is
 * case-insensitive). An empty variable (NAME=) counts as unset. */
#ifndef IBX_CONFIG_H
#define IBX_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum config_type {
    CONFIG_STR,    /* any text */
    CONFIG_SECRET, /* any text, never echoed in errors or help */
    CONFIG_INT,    /* decimal integer, optionally in min..max */
    CONFIG_BOOL,   /* true|false|1|0|yes|no, any case */
    CONFIG_ENUM,   /* one of choices */
    CONFIG_URL,    /* http://host... or https://host... */
    CONFIG_PGURL   /* postgresql://... or postgres://... (never echoed) */
};

struct config_var {
    const char *name; /* e.g. "IBX_DATABASE_URL" */
    enum config_type type;
    const char *def;     /* default as text (validated like a value), NULL = none */
    int required;        /* 1: config_load fails when unset and no default */
    const char *help;    /* one line for the README and --help */
    long min, max;       /* CONFIG_INT range, inclusive (ignored when min > max) */
    const char *choices; /* CONFIG_ENUM: "debug|info|warn|error" */
    void *dst;           /* const char ** for STR/SECRET/ENUM/URL/PGURL, long * for INT,
                            int * (0 or 1) for BOOL */
};

/* Read, check and store all n variables. All or nothing: on failure no dst is written.
 * An optional variable that is unset and has no default leaves its dst as it was.
 * Returns 0; -EINVAL with one line in err (always NUL-terminated when errlen > 0) for a
 * bad or missing value or a malformed table entry; -ENOMEM. */
int config_load(const struct config_var *vars, size_t n, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Write one line per variable to out: name, type and constraints, default (not for secrets),
 * "required" when it is, and the help text. For --help and the README. */
void config_print_help(const struct config_var *vars, size_t n, FILE *out);

/* Log a warning (log_warn) for each environment variable whose name starts with prefix
 * (e.g. "IBX_"; NULL or "" does nothing) but is not in the table, naming a close table
 * entry when there is one.
 * Warns only: a shared ConfigMap carries other services' variables. Values are never
 * logged. */
void config_warn_unknown(const struct config_var *vars, size_t n, const char *prefix);

#endif
