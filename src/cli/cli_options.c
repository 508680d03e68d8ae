/* The CLI's one option parser and the --help printer, both read from a command's struct cli_spec
 * (see cli_options.h). */
#include "cli_options.h"

#include "cli.h"
#include "cli_util.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define CLI_MAX_OPTIONS 32 /* options of one command, --help excluded */

int cli_list_add(struct cli_list *l, const char *value)
{
    if (l->n >= CLI_MAX_LIST)
        return 0;
    l->v[l->n++] = value;
    return 1;
}

/* A shared option: its name, argument, short flag and usual help. */
struct shared {
    int id;
    const char *name;
    const char *arg;
    char short_name;
    int show_short; /* "-v, --verbose" in the help; the others' short flags are not shown */
    const char *help;
};

static const struct shared shared[] = {
    {CLI_OPT_CONFIG, "config", "FILE", 'c', 0,
     "the configuration file (see docs/configuration.md)"},
    {CLI_OPT_JSON, "json", NULL, 'j', 0,
     "print one JSON object (counts and items) instead of a table"},
    {CLI_OPT_VERBOSE, "verbose", NULL, 'v', 1, "also print debug messages"},
    {CLI_OPT_QUIET, "quiet", NULL, 'q', 1, "print only errors on stderr"},
    {CLI_OPT_LOG_FORMAT, "log-format", "FMT", 0, 0,
     "text or json log lines on stderr (default: [log] format)"},
    {CLI_OPT_REQUEST_ID, "request-id", "N", 0, 0, "only the certificate of this CA request id"},
    {CLI_OPT_SERIAL, "serial", "HEX", 0, 0, "only the certificate with this serial number"},
    {CLI_OPT_TARGET_USER, "user", "UPN", 0, 0,
     "only the certificates of this user\n"
     "(several of them: every one must match; Intune\n"
     "is then read per user, not listed whole)"},
    {CLI_OPT_USER, "user", "UPN", 'u', 0, "only this user (case-insensitive)"},
    {CLI_OPT_REPORT, "report", "FILE", 0, 0,
     "also write the report to FILE: JSON for *.json, a\n"
     "self-contained HTML page for *.html, else text"},
    {CLI_OPT_REFRESH_USERS, "refresh-users", NULL, 0, 0,
     "ask Entra ID again about every user (forget the cached\n"
     "lookups of [state] user_cache_hours)"},
    {CLI_OPT_PROGRESS, "progress", NULL, 0, 0, "draw the progress bar on a terminal even with -q"},
    {CLI_OPT_NO_PROGRESS, "no-progress", NULL, 0, 0, "never draw the progress bar"},
    {CLI_OPT_NO_WAIT, "no-wait", NULL, 0, 0,
     "when another run holds the state lock, exit at once\n"
     "(status 5) instead of waiting ([state] lock_wait)"},
    {CLI_OPT_WORKERS, "workers", "N", 0, 0, "recovery threads, 1-256 (default: one per CPU)"},
    {CLI_OPT_KRA, "kra", "FILE", 0, 0, "KRA key: PKCS#12 or PEM; repeat for several KRAs"},
    {CLI_OPT_KRA_PASS_FILE, "kra-pass-file", "FILE", 0, 0,
     "file holding the KRA password (one for all, or one per\n"
     "--kra); default: $SMIMESYNC_KRA_PASSWORD, else none"},
    {CLI_OPT_KRA_CERT, "kra-cert", "FILE", 0, 0,
     "KRA certificate when a PEM --kra file holds only the key"},
    {CLI_OPT_PFX_PROFILE, "pfx-profile", "NAME", 0, 0, "compat (default) or modern"},
    {CLI_OPT_SOURCE, "source", "NAME", 0, 0,
     "only the source [source \"NAME\"] (\"default\" for [source]):\n"
     "a targeted run on one CA of several"},
    {CLI_OPT_INCLUDE_CHAIN, "include-chain", NULL, 0, 0,
     "add the blob's CA certificates to the PKCS#12"},
    {CLI_OPT_ALLOW_LARGE_CHANGE, "allow-large-change", NULL, 0, 0,
     "let this run exceed [policy] max_removals and\n"
     "max_uploads (the change caps)"},
    {CLI_OPT_AUDIT, "audit", "TRAIL", 0, 0,
     "log each key recovery in this audit trail (made by\n"
     "'smimesync audit init'); refused, nothing recovered,\n"
     "when it is missing, truncated or not 0600"},
};

/* An option of a spec with the shared definition filled in. */
struct resolved {
    int id;
    const char *name, *arg, *help;
    char short_name;
    int show_short;
};

static const struct shared *shared_of(int id)
{
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++)
        if (shared[i].id == id)
            return &shared[i];
    return NULL;
}

static struct resolved resolve(const struct cli_option *opt)
{
    struct resolved r = {.id = opt->id,
                         .name = opt->name,
                         .arg = opt->arg,
                         .help = opt->help,
                         .short_name = opt->short_name};
    const struct shared *sh = opt->id < CLI_OPT_OWN ? shared_of(opt->id) : NULL;
    if (sh) {
        r.name = sh->name;
        r.arg = sh->arg;
        r.short_name = sh->short_name;
        r.show_short = sh->show_short;
        if (!r.help)
            r.help = sh->help;
    }
    return r;
}

static int takes(const struct cli_spec *s, int id)
{
    for (size_t i = 0; i < s->n_options; i++)
        if (s->options[i].id == id)
            return 1;
    return 0;
}

void cli_options_exit_codes(FILE *out)
{
    fprintf(out,
            "Exit status:\n"
            "  0  every item succeeded\n"
            "  1  no item succeeded, or a fatal error (unreadable KRA or connector key, ...)\n"
            "  2  bad command line\n"
            "  3  some items succeeded and some failed (each failure is one line on stderr),\n"
            "     or a source of several could not be read while the others ran\n"
            "  4  status: differences found (Intune is not in step with the CA; --devices: a\n"
            "     certificate is not where it should be on a device)\n"
            "  5  another run holds the state lock (--no-wait, or [state] lock_wait ran out)\n"
            "  6  the plan exceeds a change cap ([policy] max_removals or max_uploads): nothing\n"
            "     written (--allow-large-change lets one run through)\n");
}

/* "-v, --verbose" or "--config FILE" into buf; returns its length. */
static int option_label(const struct resolved *r, char *buf, size_t size)
{
    char flag[8] = "";
    if (r->show_short && r->short_name)
        snprintf(flag, sizeof flag, "-%c, ", r->short_name);
    return snprintf(buf, size, "%s--%s%s%s", flag, r->name, r->arg ? " " : "",
                    r->arg ? r->arg : "");
}

static void print_option(FILE *out, const char *label, int width, const char *help)
{
    fprintf(out, "  %-*s  ", width, label);
    for (const char *line = help; line;) {
        const char *nl = strchr(line, '\n');
        if (line != help)
            fprintf(out, "  %-*s  ", width, "");
        fprintf(out, "%.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
        line = nl ? nl + 1 : NULL;
    }
}

void cli_options_usage(const struct cli_spec *s, FILE *out)
{
    static const struct resolved help = {
        .name = "help", .short_name = 'h', .show_short = 1, .help = "show this help"};
    char label[64];
    int width = option_label(&help, label, sizeof label);
    for (size_t i = 0; i < s->n_options; i++) {
        struct resolved r = resolve(&s->options[i]);
        int n = option_label(&r, label, sizeof label);
        if (n > width)
            width = n;
    }
    fprintf(out, "Usage: smimesync %s %s\n%s\n\nOptions:\n", s->name, s->synopsis, s->summary);
    for (size_t i = 0; i < s->n_options; i++) {
        struct resolved r = resolve(&s->options[i]);
        option_label(&r, label, sizeof label);
        print_option(out, label, width, r.help);
    }
    option_label(&help, label, sizeof label);
    print_option(out, label, width, help.help);
    fputc('\n', out);
    if (s->epilog)
        fprintf(out, "%s\n\n", s->epilog);
    cli_options_exit_codes(out);
}

static int valid_serial(const char *s)
{
    size_t digits = 0;
    for (; *s; s++) {
        if (*s == ':')
            continue;
        if (!strchr("0123456789abcdefABCDEF", *s))
            return 0;
        digits++;
    }
    return digits > 0;
}

static int add_to(struct cli_opts *o, struct cli_list *l, const char *arg)
{
    if (cli_list_add(l, arg))
        return CLI_EXIT_OK;
    cli_err(o->cmd, "too many values for a repeated option (limit %d)", CLI_MAX_LIST);
    return CLI_EXIT_USAGE;
}

int cli_options_set(struct cli_opts *o, int id, const char *arg)
{
    switch (id) {
    case CLI_OPT_CONFIG:
        o->config = arg;
        break;
    case CLI_OPT_JSON:
        o->json = 1;
        break;
    case CLI_OPT_VERBOSE:
        o->verbose = 1;
        break;
    case CLI_OPT_QUIET:
        o->quiet = 1;
        break;
    case CLI_OPT_LOG_FORMAT:
        if (strcmp(arg, "text") && strcmp(arg, "json")) {
            cli_err(o->cmd, "--log-format '%s': use text or json", arg);
            return CLI_EXIT_USAGE;
        }
        o->log_json = strcmp(arg, "json") == 0;
        break;
    case CLI_OPT_REQUEST_ID:
        if (!*arg || strspn(arg, "0123456789") != strlen(arg) || strlen(arg) > 18) {
            cli_err(o->cmd, "--request-id '%s': not a decimal request id", arg);
            return CLI_EXIT_USAGE;
        }
        o->target.request_id = arg;
        break;
    case CLI_OPT_SERIAL:
        if (!valid_serial(arg)) {
            cli_err(o->cmd, "--serial '%s': not a hexadecimal serial number", arg);
            return CLI_EXIT_USAGE;
        }
        o->target.serial = arg;
        break;
    case CLI_OPT_TARGET_USER:
        if (!*arg || strchr(arg, '\'') || strchr(arg, ' ')) {
            cli_err(o->cmd, "--user '%s': not a userPrincipalName", arg);
            return CLI_EXIT_USAGE;
        }
        o->target.user = arg;
        break;
    case CLI_OPT_USER:
        o->user = arg; /* an empty one is refused after the other checks */
        break;
    case CLI_OPT_REPORT:
        o->report = arg;
        break;
    case CLI_OPT_REFRESH_USERS:
        o->refresh_users = 1;
        break;
    case CLI_OPT_PROGRESS:
        o->progress = 1;
        break;
    case CLI_OPT_NO_PROGRESS:
        o->progress = 0;
        break;
    case CLI_OPT_NO_WAIT:
        o->no_wait = 1;
        break;
    case CLI_OPT_ALLOW_LARGE_CHANGE:
        o->allow_large_change = 1;
        break;
    case CLI_OPT_AUDIT:
        o->audit = arg;
        break;
    case CLI_OPT_WORKERS: {
        char *end = NULL;
        long w = strtol(arg, &end, 10);
        if (!*arg || *end || w < 1 || w > 256) {
            cli_err(o->cmd, "--workers: expected a whole number from 1 to 256, got '%s'", arg);
            return CLI_EXIT_USAGE;
        }
        o->workers = (unsigned)w;
        break;
    }
    case CLI_OPT_KRA:
        return add_to(o, &o->kra, arg);
    case CLI_OPT_KRA_PASS_FILE:
        return add_to(o, &o->kra_pass, arg);
    case CLI_OPT_KRA_CERT:
        return add_to(o, &o->kra_cert, arg);
    case CLI_OPT_PFX_PROFILE: {
        ssync_error e = {0};
        if (ssync_pfx_profile_parse(arg, &o->pfx_profile, &e) != SSYNC_OK) {
            cli_report(o->cmd, NULL, &e);
            return CLI_EXIT_USAGE;
        }
        break;
    }
    case CLI_OPT_SOURCE:
        if (!*arg) {
            cli_err(o->cmd, "--source: empty source name");
            return CLI_EXIT_USAGE;
        }
        o->source = arg;
        break;
    case CLI_OPT_INCLUDE_CHAIN:
        o->include_chain = 1;
        break;
    default:
        cli_err(o->cmd, "internal error: option %d is not a shared one", id);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

void cli_options_init(struct cli_opts *o, const char *cmd)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->log_json = -1;
    o->progress = -1;
    o->pfx_profile = SSYNC_PFX_COMPAT;
}

static int check_required(const struct cli_spec *s, const struct cli_opts *o)
{
    if (takes(s, CLI_OPT_CONFIG) && !o->config) {
        cli_err(s->name, "--config is required");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int check_operands(const struct cli_spec *s, const struct cli_opts *o)
{
    if (o->argc < s->min_args) {
        cli_err(s->name, "%s", s->missing_args);
        return CLI_EXIT_USAGE;
    }
    if (s->max_args >= 0 && o->argc > s->max_args) {
        if (s->extra_args)
            cli_err(s->name, "%s", s->extra_args);
        else
            cli_err(s->name, "unexpected argument '%s'", o->argv[s->max_args]);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* The getopt_long tables of a spec; val: the short flag, else 256 + the option's index. */
static void build_getopt(const struct cli_spec *s, struct option *longopts, char *shortopts)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n_options; i++) {
        struct resolved r = resolve(&s->options[i]);
        int val = r.short_name ? r.short_name : 256 + (int)i;
        longopts[i] = (struct option){r.name, r.arg ? required_argument : no_argument, NULL, val};
        if (r.short_name) {
            shortopts[k++] = r.short_name;
            if (r.arg)
                shortopts[k++] = ':';
        }
    }
    longopts[s->n_options] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[s->n_options + 1] = (struct option){NULL, 0, NULL, 0};
    shortopts[k++] = 'h';
    shortopts[k] = '\0';
}

/* The option getopt_long returned, or NULL for an unknown one. */
static const struct cli_option *option_of(const struct cli_spec *s, int c)
{
    if (c >= 256)
        return (size_t)(c - 256) < s->n_options ? &s->options[c - 256] : NULL;
    for (size_t i = 0; i < s->n_options; i++) {
        struct resolved r = resolve(&s->options[i]);
        if (r.short_name && r.short_name == c)
            return &s->options[i];
    }
    return NULL;
}

int cli_options_parse(const struct cli_spec *s, int argc, char **argv, struct cli_opts *o,
                      void *ctx)
{
    struct option longopts[CLI_MAX_OPTIONS + 2];
    char shortopts[2 * CLI_MAX_OPTIONS + 2];
    cli_options_init(o, s->name);
    if (s->n_options > CLI_MAX_OPTIONS) {
        cli_err(s->name, "internal error: more than %d options", CLI_MAX_OPTIONS);
        return CLI_EXIT_USAGE;
    }
    build_getopt(s, longopts, shortopts);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (c == 'h') {
            cli_options_usage(s, stdout);
            return -1;
        }
        const struct cli_option *opt = option_of(s, c);
        if (!opt) {
            cli_options_usage(s, stderr);
            return CLI_EXIT_USAGE;
        }
        int rc = opt->id < CLI_OPT_OWN ? cli_options_set(o, opt->id, optarg)
                                       : s->on_option(ctx, o, opt->id, optarg);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    o->argc = argc - optind;
    o->argv = argv + optind;
    int rc;
    if (s->flags & CLI_SPEC_OPERANDS_FIRST) {
        if ((rc = check_operands(s, o)) != CLI_EXIT_OK ||
            (rc = check_required(s, o)) != CLI_EXIT_OK)
            return rc;
    } else if ((rc = check_required(s, o)) != CLI_EXIT_OK ||
               (rc = check_operands(s, o)) != CLI_EXIT_OK) {
        return rc;
    }
    if (o->user && !*o->user) {
        cli_err(s->name, "--user: empty user name");
        return CLI_EXIT_USAGE;
    }
    return s->check ? s->check(ctx, o) : CLI_EXIT_OK;
}
