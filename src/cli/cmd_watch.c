/* smimesync watch: the event mode. inotify on the blob source directory; each blob that is
 * closed after writing or renamed into it is synced alone, as 'smimesync sync --request-id N'
 * (the same code path, cmd_sync_run). The Linux counterpart of the CA's event 52 trigger. */
#include "cli.h"
#include "cli_log.h"
#include "cli_notify.h"
#include "cli_options.h"
#include "cli_signal.h"
#include "cli_util.h"

#include "common/clock.h"
#include "sync/config.h"
#include "sync/plan.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

/* Names kept for one batch; beyond it (or when the kernel's queue overflowed) a full sync
 * follows the batch instead, and the log says so: no arrival is dropped without a word. */
#define WATCH_MAX_BATCH 100000

struct watch_opts {
    struct cli_opts opt; /* --config, --log-format, -v, -q */
    int settle_ms;       /* quiet time after the last new name before the batch is synced */
};

/* The blobs that arrived in one settle window, each once, in arrival order. */
struct watch_batch {
    char **names;
    size_t n, cap;
    int full_sync;            /* names were missed: a full sync follows the batch */
    double first_at, last_at; /* ssync_mono() of the first and of the latest new name */
};

enum { OPT_SETTLE = CLI_OPT_OWN };

static const struct cli_option options[] = {
    CLI_USE(CLI_OPT_CONFIG, "the configuration file (see smimesync.conf(5))"),
    CLI_OWN(OPT_SETTLE, "settle", "SECONDS", 0,
            "wait this long after the last new name before syncing\n(default 1; 0 to 60)"),
    CLI_USE(CLI_OPT_LOG_FORMAT, NULL),
    CLI_USE(CLI_OPT_VERBOSE, NULL),
    CLI_USE(CLI_OPT_QUIET, NULL),
};

static int on_option(void *ctx, struct cli_opts *opt, int id, const char *arg)
{
    struct watch_opts *o = ctx;
    (void)opt;
    (void)id; /* OPT_SETTLE */
    char *end = NULL;
    double s = strtod(arg, &end);
    if (end == arg || *end || !(s >= 0 && s <= 60)) {
        cli_err("watch", "--settle '%s': not a number of seconds from 0 to 60", arg);
        return CLI_EXIT_USAGE;
    }
    o->settle_ms = (int)(s * 1000);
    return CLI_EXIT_OK;
}

static const struct cli_spec spec = {
    .name = "watch",
    .synopsis = "--config FILE [OPTIONS]",
    .summary = "Watch the blob source directory ([source] path, type = blobs) and sync each\n"
               "recovery blob as it arrives (written and closed, or renamed into it), alone, as\n"
               "'smimesync sync --request-id N' would. The request id is taken from the file\n"
               "name, which must start with it (e.g. 1234.rsp); other names are logged and left\n"
               "for the next full sync. SIGTERM or Ctrl-C stops it cleanly.",
    .options = CLI_SPEC_OPTIONS(options),
    .max_args = 0,
    .on_option = on_option,
};

/* Adds a name not yet in the batch: 1 when added (only that restarts the settle time). */
static int batch_add(struct watch_batch *b, const char *name, const struct cli_log *log)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->names[i], name) == 0)
            return 0;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        char **names = b->n < WATCH_MAX_BATCH ? realloc(b->names, cap * sizeof *names) : NULL;
        if (!names) {
            if (!b->full_sync)
                cli_log_msg(log, SSYNC_LOG_WARN,
                            "%s: more arrivals than watch keeps at once (%zu): a full sync "
                            "follows this batch",
                            name, b->n);
            b->full_sync = 1;
            return 0;
        }
        b->names = names;
        b->cap = cap;
    }
    if (!(b->names[b->n] = strdup(name))) {
        b->full_sync = 1;
        return 0;
    }
    if (b->n++ == 0)
        b->first_at = ssync_mono();
    b->last_at = ssync_mono();
    return 1;
}

static void batch_clear(struct watch_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->names[i]);
    b->n = 0;
    b->full_sync = 0;
}

/* Reads what inotify has; names of finished blobs go into b. Returns -1 when the directory
 * itself went away (deleted, moved, unmounted), else 0. A lost event schedules a full sync. */
static int drain(int fd, struct watch_batch *b, const struct cli_log *log)
{
    char buf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
        __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t len = read(fd, buf, sizeof buf);
        if (len <= 0)
            return 0; /* EAGAIN: nothing more for now */
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED))
                return -1;
            if (ev->mask & IN_Q_OVERFLOW) {
                cli_log_msg(log, SSYNC_LOG_WARN,
                            "too many arrivals at once: some were missed; a full sync follows "
                            "this batch");
                b->full_sync = 1;
                if (!b->n)
                    b->first_at = b->last_at = ssync_mono();
            }
            /* CLOSE_WRITE and MOVED_TO only: a blob still being written is not read */
            if (ev->len && (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) && ev->name[0] != '.')
                batch_add(b, ev->name, log);
        }
    }
}

/* One targeted sync, through the sync command itself: the options 'smimesync sync --config FILE
 * --request-id N --no-progress' and watch's -v, -q and --log-format would give. */
static int sync_one(const struct watch_opts *o, long long id, struct cli_signal *sig)
{
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%lld", id);
    struct cli_opts so;
    cli_options_init(&so, "sync");
    so.config = o->opt.config;
    so.progress = 0;
    so.verbose = o->opt.verbose;
    so.quiet = o->opt.quiet;
    so.log_json = o->opt.log_json;
    int rc = cli_options_set(&so, CLI_OPT_REQUEST_ID, id_text);
    return rc == CLI_EXIT_OK ? cmd_sync_with(&so, sig) : rc;
}

static void sync_batch(const struct watch_opts *o, struct watch_batch *b, struct cli_signal *sig,
                       const struct cli_log *log, struct cli_notify *nt)
{
    char status[64];
    snprintf(status, sizeof status, "syncing %zu arrived blob(s)", b->n);
    cli_notify_status(status);
    for (size_t i = 0; i < b->n && !cli_signal_received(sig); i++) {
        cli_notify_watchdog(nt);
        long long id = ssync_plan_request_id_from_name(b->names[i]);
        if (id <= 0) {
            cli_log_msg(log, SSYNC_LOG_WARN,
                        "%s: the file name does not start with the CA request id; left for the "
                        "next full sync",
                        b->names[i]);
            continue;
        }
        cli_log_msg(log, SSYNC_LOG_INFO, "%s arrived: syncing request id %lld", b->names[i], id);
        int rc = sync_one(o, id, sig);
        cli_log_msg(log, rc == CLI_EXIT_OK ? SSYNC_LOG_INFO : SSYNC_LOG_ERROR,
                    "%s: sync of request id %lld ended with exit status %d", b->names[i], id, rc);
    }
    if (b->full_sync && !cli_signal_received(sig)) {
        cli_log_msg(log, SSYNC_LOG_INFO, "arrivals were missed: running a full sync");
        struct cli_opts so;
        cli_options_init(&so, "sync");
        so.config = o->opt.config;
        so.progress = 0;
        so.verbose = o->opt.verbose;
        so.quiet = o->opt.quiet;
        so.log_json = o->opt.log_json;
        int rc = cmd_sync_with(&so, sig);
        cli_log_msg(log, rc == CLI_EXIT_OK ? SSYNC_LOG_INFO : SSYNC_LOG_ERROR,
                    "full sync ended with exit status %d", rc);
    }
    batch_clear(b);
    cli_notify_status("watching for recovery blobs");
}

/* The longest a batch waits for quiet: new names arriving without a pause do not postpone the
 * sync for ever (10 settle times, at least 10 seconds). */
static double max_wait(const struct watch_opts *o)
{
    double s = 10.0 * o->settle_ms / 1000.0;
    return s < 10.0 ? 10.0 : s;
}

/* Waits for events; a batch is synced once no new name came for settle_ms, or once its first
 * name has waited max_wait (events that add no name, such as writes to a hidden file or to a
 * name already pending, never postpone it). Returns the exit code. */
static int watch_loop(const struct watch_opts *o, int fd, struct cli_signal *sig,
                      const struct cli_log *log, struct cli_notify *nt)
{
    struct watch_batch b = {0};
    int rc = CLI_EXIT_OK;
    const int tick_ms = 100; /* how soon a signal is noticed while idle */
    while (!cli_signal_received(sig)) {
        cli_notify_watchdog(nt); /* the loop turns: WatchdogSec= sees it alive */
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, tick_ms);
        if (n < 0 && errno != EINTR) {
            cli_log_msg(log, SSYNC_LOG_ERROR, "inotify: %s", strerror(errno));
            rc = CLI_EXIT_FAILURE;
            break;
        }
        if (n > 0 && drain(fd, &b, log) != 0) {
            cli_log_msg(log, SSYNC_LOG_ERROR, "the source directory went away: stopping");
            rc = CLI_EXIT_FAILURE;
            break;
        }
        double now = ssync_mono();
        if ((b.n || b.full_sync) &&
            (now - b.last_at >= o->settle_ms / 1000.0 || now - b.first_at >= max_wait(o)))
            sync_batch(o, &b, sig, log, nt);
    }
    batch_clear(&b);
    free(b.names);
    return rc;
}

/* The watched directory from the configuration; reports and returns an exit code on error. */
static int source_dir(const struct watch_opts *o, struct cli_log *log, char *dir, size_t size)
{
    ssync_config cfg;
    ssync_error e = {0};
    memset(&cfg, 0, sizeof cfg);
    if (ssync_config_load(o->opt.config, &cfg, &e) != SSYNC_OK) {
        cli_log_error(log, NULL, &e);
        ssync_config_free(&cfg);
        return CLI_EXIT_FAILURE;
    }
    log->verbosity = cli_log_level(cfg.log.level, o->opt.verbose, o->opt.quiet);
    log->json = o->opt.log_json >= 0 ? o->opt.log_json : cfg.log.json;
    log->journal = cli_log_use_journal(o->opt.log_json, cfg.log.journal);
    int rc = CLI_EXIT_OK;
    if (cfg.source.type != SSYNC_SOURCE_BLOBS || !cfg.source.path) {
        cli_log_msg(log, SSYNC_LOG_ERROR,
                    "%s: watch needs [source] type = blobs with a path (the directory the "
                    "recovery blobs arrive in)",
                    o->opt.config);
        rc = CLI_EXIT_FAILURE;
    } else if ((size_t)snprintf(dir, size, "%s", cfg.source.path) >= size) {
        cli_log_msg(log, SSYNC_LOG_ERROR, "[source] path: too long");
        rc = CLI_EXIT_FAILURE;
    } else if (!cfg.state.path) {
        cli_log_msg(log, SSYNC_LOG_ERROR, "%s: [state] path is required for sync", o->opt.config);
        rc = CLI_EXIT_FAILURE;
    }
    ssync_config_free(&cfg);
    return rc;
}

int cmd_watch(int argc, char **argv)
{
    struct watch_opts o = {.settle_ms = 1000};
    int rc = cli_options_parse(&spec, argc, argv, &o.opt, &o);
    if (rc != CLI_EXIT_OK)
        return rc == -1 ? CLI_EXIT_OK : rc;
    /* before any thread exists: every sync inherits the blocked signals and this thread */
    struct cli_signal sig;
    if (cli_signal_start(&sig) != 0) {
        cli_err("watch", "cannot set up the signal thread");
        return CLI_EXIT_FAILURE;
    }
    struct cli_log log = {.cmd = "watch", .verbosity = SSYNC_LOG_INFO};
    char dir[PATH_MAX];
    rc = source_dir(&o, &log, dir, sizeof dir);
    int fd = -1;
    if (rc == CLI_EXIT_OK && (fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
        cli_log_msg(&log, SSYNC_LOG_ERROR, "inotify: %s", strerror(errno));
        rc = CLI_EXIT_FAILURE;
    }
    if (rc == CLI_EXIT_OK && inotify_add_watch(fd, dir,
                                               IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE_SELF |
                                                   IN_MOVE_SELF | IN_ONLYDIR) < 0) {
        cli_log_msg(&log, SSYNC_LOG_ERROR, "[source] path %s: %s", dir, strerror(errno));
        rc = CLI_EXIT_FAILURE;
    }
    if (rc == CLI_EXIT_OK) {
        cli_log_msg(&log, SSYNC_LOG_INFO, "watching %s for recovery blobs", dir);
        struct cli_notify nt;
        cli_notify_init(&nt);
        cli_notify_ready("watching for recovery blobs");
        rc = watch_loop(&o, fd, &sig, &log, &nt);
        cli_notify_stopping();
        if (rc == CLI_EXIT_OK)
            cli_log_msg(&log, SSYNC_LOG_INFO, "stopped by signal %d", cli_signal_received(&sig));
    }
    if (fd >= 0)
        close(fd);
    cli_signal_stop(&sig);
    return rc;
}
