/* smimesync audit: the audit trail ([audit] path) from the outside: `init` starts a trail (or
 * continues a rotated one), `verify` checks the hash chain and names the line where it breaks,
 * `show` prints the lines, filtered by user and time. */
#include "cli.h"
#include "cli_options.h"
#include "cli_text.h"
#include "cli_util.h"

#include "audit/audit.h"
#include "sync/config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const CMD = "audit";

enum { OPT_CONFIG = CLI_OPT_OWN, OPT_SINCE, OPT_CONTINUE };

struct audit_opts {
    const char *config, *since, *continues;
};

static const struct cli_option options[] = {
    CLI_OWN(OPT_CONFIG, "config", "FILE", 'c',
            "show: the trail of this configuration's [audit] path"),
    CLI_USE(CLI_OPT_USER, "show: only the lines of this user (case-insensitive)"),
    CLI_OWN(OPT_SINCE, "since", "TIME", 0,
            "show: only the lines from this UTC time on (2026-12-01 or\n"
            "2026-12-01T08:00:00Z)"),
    CLI_USE(CLI_OPT_JSON, "show: print the lines as they are (JSON lines)"),
    CLI_OWN(OPT_CONTINUE, "continue", "OLD", 0,
            "init: continue the chain of the rotated trail OLD (verified\n"
            "first): the new trail starts with its last hash"),
};

/* YYYY-MM-DD, optionally followed by THH:MM[:SS[.fff]][Z] */
static int time_ok(const char *t)
{
    static const char *const shape = "dddd-dd-dd";
    for (size_t i = 0; shape[i]; i++)
        if (!t[i] || (shape[i] == 'd' ? !isdigit((unsigned char)t[i]) : t[i] != shape[i]))
            return 0;
    return t[10] == '\0' || (t[10] == 'T' && strlen(t) <= 24);
}

static int on_option(void *ctx, struct cli_opts *opt, int id, const char *arg)
{
    struct audit_opts *o = ctx;
    (void)opt;
    if (id == OPT_CONFIG)
        o->config = arg;
    else if (id == OPT_CONTINUE)
        o->continues = arg;
    else if (!time_ok(arg)) {
        cli_err(CMD, "--since '%s': not a UTC time like 2026-12-01 or 2026-12-01T08:00:00Z", arg);
        return CLI_EXIT_USAGE;
    } else
        o->since = arg;
    return CLI_EXIT_OK;
}

static const struct cli_spec spec = {
    .name = "audit",
    .synopsis = "init TRAIL [--continue OLD]\n"
                "       smimesync audit verify TRAIL... (oldest first)\n"
                "       smimesync audit show (TRAIL | --config FILE) [--user UPN] [--since TIME]\n"
                "                              [--json]",
    .summary =
        "The audit trail of [audit] path: one JSON line per change made in Intune and per KRA\n"
        "recovery, hash-chained (each line carries the SHA-256 of the line before it).\n"
        "init starts a trail (mode 0600; a run refuses to write to Intune without one), or\n"
        "continues the chain of a rotated trail. verify checks the chain of one trail, or of\n"
        "rotated trails in order, and names the line where it breaks (an edit, a deleted or\n"
        "moved line, a truncation). show prints the lines, filtered by user and time.",
    .options = CLI_SPEC_OPTIONS(options),
    .min_args = 1,
    .max_args = -1,
    .missing_args = "say what to do: init, verify or show",
    .on_option = on_option,
};

static int audit_init(const struct audit_opts *o, int argc, char **argv)
{
    if (argc != 1) {
        cli_err(CMD, "init takes one trail to create");
        return CLI_EXIT_USAGE;
    }
    ssync_error e = {0};
    if (ssync_audit_create(argv[0], o->continues, &e) != SSYNC_OK) {
        cli_report(CMD, NULL, &e);
        return CLI_EXIT_FAILURE;
    }
    printf("%s: audit trail started%s%s\n", argv[0], o->continues ? ", continuing " : "",
           o->continues ? o->continues : "");
    return CLI_EXIT_OK;
}

static int audit_verify(int argc, char **argv)
{
    if (argc < 1) {
        cli_err(CMD, "verify takes one trail, or rotated trails oldest first");
        return CLI_EXIT_USAGE;
    }
    ssync_audit_check prev = {0}, cur;
    for (int i = 0; i < argc; i++) {
        ssync_error e = {0};
        if (ssync_audit_verify(argv[i], i ? &prev : NULL, &cur, &e) != SSYNC_OK) {
            cli_report(CMD, NULL, &e);
            return CLI_EXIT_FAILURE;
        }
        printf("%s: %zu lines, seq %llu-%llu, chain intact; head %s\n", argv[i], cur.lines,
               (unsigned long long)(cur.last_seq - cur.lines + 1), (unsigned long long)cur.last_seq,
               cur.head);
        prev = cur;
    }
    return CLI_EXIT_OK;
}

struct show {
    const char *user, *since;
    int json;
    size_t shown;
};

static const char *field(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "-";
}

static int show_line(void *ctx, size_t line, const json_t *o)
{
    struct show *s = ctx;
    (void)line;
    const char *user = json_string_value(json_object_get(o, "user"));
    if (s->user && (!user || strcasecmp(user, s->user) != 0))
        return 0;
    if (s->since && strcmp(field(o, "time"), s->since) < 0)
        return 0;
    s->shown++;
    if (s->json) {
        if (json_dumpf(o, stdout, JSON_COMPACT) == 0)
            putchar('\n');
        return 0;
    }
    char text[1200];
    snprintf(text, sizeof text, "%-24s %-8s %-9s %s %s %s%s%s", field(o, "time"),
             field(o, "action"), field(o, "result"), field(o, "user"), field(o, "thumbprint"),
             json_is_string(json_object_get(o, "requestId")) ? "request-id " : "",
             json_is_string(json_object_get(o, "requestId")) ? field(o, "requestId") : "",
             json_is_string(json_object_get(o, "error")) ? " (error)" : "");
    char safe[4000];
    cli_text_safe(safe, sizeof safe, text); /* the user and the error come from others */
    printf("%s\n", safe);
    return 0;
}

static int audit_show(const struct audit_opts *o, const struct cli_opts *opt, int argc, char **argv)
{
    if ((argc == 1) == (o->config != NULL)) {
        cli_err(CMD, "show takes one trail, or --config FILE (its [audit] path)");
        return CLI_EXIT_USAGE;
    }
    ssync_config cfg = {0};
    ssync_error e = {0};
    const char *path = argc == 1 ? argv[0] : NULL;
    if (!path) {
        if (ssync_config_load(o->config, &cfg, &e) != SSYNC_OK) {
            cli_report(CMD, NULL, &e);
            ssync_config_free(&cfg);
            return CLI_EXIT_FAILURE;
        }
        if (!cfg.audit.path) {
            cli_err(CMD, "%s: no [audit] path", o->config);
            ssync_config_free(&cfg);
            return CLI_EXIT_FAILURE;
        }
        path = cfg.audit.path;
    }
    struct show s = {.user = opt->user, .since = o->since, .json = opt->json};
    int rc = CLI_EXIT_OK;
    if (ssync_audit_foreach(path, show_line, &s, &e) != SSYNC_OK) {
        cli_report(CMD, NULL, &e);
        rc = CLI_EXIT_FAILURE;
    }
    fflush(stdout);
    ssync_config_free(&cfg);
    return rc;
}

int cmd_audit(int argc, char **argv)
{
    struct audit_opts o = {0};
    struct cli_opts opt;
    int rc = cli_options_parse(&spec, argc, argv, &opt, &o);
    if (rc != CLI_EXIT_OK)
        return rc == -1 ? CLI_EXIT_OK : rc;
    const char *sub = opt.argv[0];
    if (!strcmp(sub, "init"))
        return audit_init(&o, opt.argc - 1, opt.argv + 1);
    if (!strcmp(sub, "verify"))
        return audit_verify(opt.argc - 1, opt.argv + 1);
    if (!strcmp(sub, "show"))
        return audit_show(&o, &opt, opt.argc - 1, opt.argv + 1);
    cli_err(CMD, "'%s': not init, verify or show", sub);
    return CLI_EXIT_USAGE;
}
