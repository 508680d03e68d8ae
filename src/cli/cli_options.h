/* The CLI's one option parser: each command describes itself in a table (struct cli_spec: its
 * synopsis, summary and options); one getopt_long loop reads the command line from it and the
 * --help text, the exit codes at its end, is printed from the same table. The options several
 * commands share (config, output, target, report, progress, workers, KRA, PKCS#12) are parsed
 * and checked here into struct cli_opts; a command's own options go to its callback. */
#ifndef SSYNC_CLI_OPTIONS_H
#define SSYNC_CLI_OPTIONS_H

#include "cli_util.h"

#include "pfx/pfx.h"
#include "sync/plan.h"

#include <stddef.h>
#include <stdio.h>

/* Adds a value to a repeatable option's list (cli_util.h); returns 0 when the list is full (the
 * caller reports a usage error). */
int cli_list_add(struct cli_list *l, const char *value);

/* The shared options, by group. A command lists the ones it takes in its spec. */
enum cli_opt_id {
    /* config */
    CLI_OPT_CONFIG = 1, /* --config FILE (-c): required by every command that takes it */
    /* output */
    CLI_OPT_JSON,       /* --json (-j) */
    CLI_OPT_VERBOSE,    /* -v, --verbose */
    CLI_OPT_QUIET,      /* -q, --quiet */
    CLI_OPT_LOG_FORMAT, /* --log-format text|json */
    /* target: one certificate or user of the source */
    CLI_OPT_REQUEST_ID,  /* --request-id N */
    CLI_OPT_SERIAL,      /* --serial HEX */
    CLI_OPT_TARGET_USER, /* --user UPN, a userPrincipalName */
    CLI_OPT_USER,        /* --user UPN (-u): one user, not empty */
    /* report and progress */
    CLI_OPT_REPORT,        /* --report FILE */
    CLI_OPT_REFRESH_USERS, /* --refresh-users */
    CLI_OPT_PROGRESS,      /* --progress */
    CLI_OPT_NO_PROGRESS,   /* --no-progress */
    /* one writer */
    CLI_OPT_NO_WAIT, /* --no-wait */
    /* workers */
    CLI_OPT_WORKERS, /* --workers N, 1-256 */
    /* KRA */
    CLI_OPT_KRA,           /* --kra FILE, repeatable */
    CLI_OPT_KRA_PASS_FILE, /* --kra-pass-file FILE, repeatable */
    CLI_OPT_KRA_CERT,      /* --kra-cert FILE, repeatable */
    /* PKCS#12 */
    CLI_OPT_PFX_PROFILE,   /* --pfx-profile compat|modern */
    CLI_OPT_INCLUDE_CHAIN, /* --include-chain */
    /* sources */
    CLI_OPT_SOURCE, /* --source NAME: one [source "NAME"] of the configuration */
    /* change caps */
    CLI_OPT_ALLOW_LARGE_CHANGE, /* --allow-large-change */
    /* audit trail */
    CLI_OPT_AUDIT,    /* --audit TRAIL */
    CLI_OPT_OWN = 100 /* a command's own options are numbered from here */
};

/* One option as a command takes it, in the order of its --help. */
struct cli_option {
    int id;           /* an enum cli_opt_id, or the command's own (>= CLI_OPT_OWN) */
    const char *help; /* lines separated by '\n'; NULL for a shared option: its usual text */
    /* own options only (a shared option's come from cli_options.c): */
    const char *name; /* the long name, without "--" */
    const char *arg;  /* the argument's name in the help ("FILE"); NULL: takes none */
    char short_name;  /* a short flag, not shown in the help; 0: none */
};

/* A shared option in a command's table: help NULL for its usual text. */
/* clang-format off */
#define CLI_USE(id_, help_) {.id = (id_), .help = (help_)}
/* A command's own option: short_ 0 for none, arg_ NULL when it takes no argument. */
#define CLI_OWN(id_, name_, arg_, short_, help_) \
    {.id = (id_), .help = (help_), .name = (name_), .arg = (arg_), .short_name = (short_)}
/* clang-format on */

/* The values of the shared options and the operands (cli_options_parse sets the defaults). */
struct cli_opts {
    const char *cmd; /* the spec's name */
    const char *config, *report;
    int json, verbose, quiet;
    int log_json;      /* --log-format: 1 json, 0 text, -1 not given ([log] format) */
    int progress;      /* -1 auto, 0 --no-progress, 1 --progress */
    int refresh_users; /* forget the user-lookup cache first */
    int no_wait;       /* do not wait for another run's state lock */
    unsigned workers;  /* 0: one per CPU */
    ssync_plan_target target;
    const char *user;   /* CLI_OPT_USER */
    const char *source; /* CLI_OPT_SOURCE: NULL for every source */
    struct cli_list kra, kra_pass, kra_cert;
    ssync_pfx_profile pfx_profile; /* SSYNC_PFX_COMPAT unless given */
    int include_chain;
    /* this run may exceed [policy] max_removals / max_uploads (--allow-large-change) */
    int allow_large_change;
    const char *audit; /* --audit TRAIL: recover and export log each recovery there */
    int argc;          /* the operands */
    char **argv;
};

/* CLI_SPEC_* flags */
#define CLI_SPEC_OPERANDS_FIRST 1u /* check the operands before the required options */

struct cli_spec {
    const char *name;     /* "plan" */
    const char *synopsis; /* after "Usage: smimesync NAME " (continuation lines indented) */
    const char *summary;  /* what the command does, one paragraph or more */
    const char *epilog;   /* after the options, before the exit codes; may be NULL */
    const struct cli_option *options;
    size_t n_options;
    int min_args, max_args;   /* operands; max_args -1: no limit */
    const char *missing_args; /* the message when there are fewer than min_args */
    const char *extra_args;   /* when there are more than max_args (NULL: "unexpected argument") */
    unsigned flags;
    /* a command's own option: CLI_EXIT_OK, or CLI_EXIT_USAGE (reported) */
    int (*on_option)(void *ctx, struct cli_opts *o, int id, const char *arg);
    /* after the shared checks: CLI_EXIT_OK, or CLI_EXIT_USAGE (reported); may be NULL */
    int (*check)(void *ctx, struct cli_opts *o);
};

#define CLI_SPEC_OPTIONS(a) (a), (sizeof(a) / sizeof((a)[0]))

/* Zeroes o and sets the defaults: cmd, log_json and progress -1, pfx_profile compat. */
void cli_options_init(struct cli_opts *o, const char *cmd);

/* Reads argv (argv[0]: the command) into o (and ctx, through the callbacks). Returns CLI_EXIT_OK,
 * -1 after --help (printed on stdout), or CLI_EXIT_USAGE (reported; the usage on stderr for an
 * unknown option). */
int cli_options_parse(const struct cli_spec *s, int argc, char **argv, struct cli_opts *o,
                      void *ctx);

/* Sets one shared option as the command line would, with its checks: CLI_EXIT_OK, or
 * CLI_EXIT_USAGE (reported under o->cmd). */
int cli_options_set(struct cli_opts *o, int id, const char *arg);

/* The --help text from the spec, the exit codes at the end. */
void cli_options_usage(const struct cli_spec *s, FILE *out);

/* The exit codes, as every --help ends (cli.h has the enum). */
void cli_options_exit_codes(FILE *out);

#endif
