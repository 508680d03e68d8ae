/* Shared pieces of the CLI: the exit codes (a contract with scripts and schedulers) and the
 * command table. */
#ifndef SSYNC_CLI_H
#define SSYNC_CLI_H

/* Exit codes. Do not reorder or change: scripts and schedulers depend on them (documented in
 * smimesync(1), EXIT STATUS, and docs/user-guide.md, "Exit status"; every --help ends with
 * them: cli_options_exit_codes). */
enum cli_exit {
    CLI_EXIT_OK = 0,        /* everything succeeded */
    CLI_EXIT_FAILURE = 1,   /* nothing succeeded, or a fatal error before any item */
    CLI_EXIT_USAGE = 2,     /* bad command line */
    CLI_EXIT_PARTIAL = 3,   /* some items succeeded, some failed */
    CLI_EXIT_DIFFERENT = 4, /* status: Intune is not in step with the CA (like diff(1)'s 1) */
    CLI_EXIT_BUSY = 5,      /* another run holds the state lock (--no-wait, or [state] lock_wait) */
    CLI_EXIT_CAP = 6,       /* the plan exceeds a change cap ([policy] max_removals, max_uploads) */
};

struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

int cmd_recover(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_upload(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_remove(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_edb(int argc, char **argv);
int cmd_ca(int argc, char **argv);
int cmd_audit(int argc, char **argv);

/* sync from parsed options, with the caller's signal thread (NULL: its own); watch runs it per
 * arriving blob */
struct cli_opts;
struct cli_signal;
int cmd_sync_with(const struct cli_opts *o, struct cli_signal *sig);

#endif
