/* smimesync edb info|dump: any ESE database inspected from Linux, as `esentutl /mh` and a table
 * export do on Windows. A database not shut down cleanly is read as it is on disk, with one
 * warning line on stderr (sync still refuses it). */
#include "cli.h"
#include "cli_options.h"
#include "cli_util.h"

#include "common/encode.h"
#include "edb/inspect.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_COLUMNS = CLI_OPT_OWN, OPT_FORMAT, OPT_JSON };

static const struct cli_option info_options[] = {
    CLI_OWN(OPT_JSON, "json", NULL, 'j', "print one JSON object instead of text"),
};

static const struct cli_option dump_options[] = {
    CLI_OWN(OPT_COLUMNS, "columns", "A,B,...", 0,
            "only these columns, in this order (names as stored)"),
    CLI_OWN(OPT_FORMAT, "format", "FMT", 0, "jsonl (default: one JSON object per row) or csv"),
};

struct edb_args {
    int json, csv;
    const char *columns;
};

static int on_option(void *ctx, struct cli_opts *o, int id, const char *arg)
{
    struct edb_args *a = ctx;
    if (id == OPT_JSON) {
        a->json = 1;
    } else if (id == OPT_COLUMNS) {
        a->columns = arg;
    } else if (!strcmp(arg, "jsonl") || !strcmp(arg, "csv")) {
        a->csv = !strcmp(arg, "csv");
    } else {
        cli_err(o->cmd, "--format: jsonl or csv, not '%s'", arg);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static const struct cli_spec info_spec = {
    .name = "edb info",
    .synopsis = "FILE [--json]",
    .summary = "Show an ESE database's file header (format, page size, state, times, log\n"
               "position) and every table with its row count; for an AD CS database also the\n"
               "requests, issued and revoked certificates, archived keys and highest request id.\n"
               "A dirty database is read as it is on disk, with a warning.",
    .epilog = "Exit status 0 when the database was read; 3 when some tables could not be read\n"
              "(one line each on stderr, their rows shown as unreadable); 1 when the file\n"
              "cannot be read.",
    CLI_SPEC_OPTIONS(info_options),
    .min_args = 1,
    .max_args = 1,
    .missing_args = "the database file is required",
    .on_option = on_option,
};

static const struct cli_spec dump_spec = {
    .name = "edb dump",
    .synopsis = "FILE TABLE [--columns A,B,...] [--format jsonl|csv]",
    .summary = "Print every row of a table of any ESE database, one row per line, streamed.\n"
               "jsonl: one object per row, keys = column names; NULL -> null; integers and bits\n"
               "-> numbers; text -> string; binary, GUID, long binary -> lowercase hex;\n"
               "DateTime -> ISO 8601 UTC; multi-valued -> an array of such values.\n"
               "csv: a header line, then RFC 4180 rows (NULL empty; multi-valued: values\n"
               "joined with ';').",
    .epilog = "Exit status 0 when every row was printed; 3 when some rows could not be decoded\n"
              "(one line each on stderr, the others printed); 1 when the database or the table\n"
              "cannot be read, or no row could.",
    CLI_SPEC_OPTIONS(dump_options),
    .min_args = 2,
    .max_args = 2,
    .missing_args = "the database file and a table name are required",
    .on_option = on_option,
};

static void iso8601(time_t t, char out[32])
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "%lld", (long long)t);
}

static json_t *json_time(time_t t)
{
    char s[32];
    if (!t)
        return json_null();
    iso8601(t, s);
    return json_string(s);
}

/* One error line. The reader's code says "cannot read the CA database" inside the message, but
 * any ESE file is read here: that phrase is replaced by "cannot read the ESE database" once, in
 * front. */
static void edb_error(const char *cmd, const ssync_error *e)
{
    const char *phrase = ssync_strerror(SSYNC_ERR_EDB);
    const char *at = e->code == SSYNC_ERR_EDB ? strstr(e->msg, phrase) : NULL;
    if (!at) {
        cli_report(cmd, NULL, e);
        return;
    }
    const char *rest = at + strlen(phrase);
    if (!strncmp(rest, ": ", 2))
        rest += 2;
    cli_err(cmd, "cannot read the ESE database: %.*s%s", (int)(at - e->msg), e->msg, rest);
}

static void warn_state(const char *cmd, const char *path, const ssync_edb_info *in)
{
    if (in->state != SSYNC_EDB_INFO_STATE_CLEAN)
        cli_err(cmd, "warning: %s: %s database (state %u) read as it is on disk: %s", path,
                ssync_edb_state_name(in->state), in->state, ssync_edb_state_advice(in->state));
}

static ssync_edb_inspect *open_db(const char *cmd, const char *path)
{
    ssync_error err = {0};
    ssync_edb_inspect *db = NULL;
    if (ssync_edb_inspect_open(path, &db, &err) != SSYNC_OK) {
        edb_error(cmd, &err);
        return NULL;
    }
    warn_state(cmd, path, ssync_edb_inspect_info(db));
    return db;
}

/* ---- info ---- */

static void print_time(const char *label, time_t t)
{
    char s[32] = "-";
    if (t)
        iso8601(t, s);
    printf("%-17s %s\n", label, s);
}

static void info_text(const char *path, ssync_edb_inspect *db, const size_t *rows,
                      const ssync_edb_ca_summary *ca)
{
    const ssync_edb_info *in = ssync_edb_inspect_info(db);
    printf("%-17s %s\n", "File:", path);
    printf("%-17s 0x%x, revision 0x%x (created as 0x%x, revision 0x%x)\n",
           "Format:", in->format_version, in->format_revision, in->creation_version,
           in->creation_revision);
    printf("%-17s %u bytes (%llu pages)\n", "Page size:", in->page_size,
           (unsigned long long)in->pages);
    printf("%-17s %s (%u)%s%s\n", "State:", ssync_edb_state_name(in->state), in->state,
           in->state == SSYNC_EDB_INFO_STATE_CLEAN ? "" : ": ",
           in->state == SSYNC_EDB_INFO_STATE_CLEAN ? "" : ssync_edb_state_advice(in->state));
    print_time("Created:", in->created);
    print_time("Last attach:", in->attached);
    print_time("Last detach:", in->detached);
    printf("%-17s generation %u, sector %u, offset %u\n",
           "Log position:", in->consistent.generation, in->consistent.sector,
           in->consistent.offset);
    if (in->state != SSYNC_EDB_INFO_STATE_CLEAN)
        printf("%-17s generations %u to %u\n", "Logs required:", in->required_min,
               in->required_max);
    printf("\nTables:\n");
    for (size_t i = 0; i < ssync_edb_inspect_ntables(db); i++) {
        size_t ncols = 0;
        ssync_edb_inspect_columns(db, i, &ncols);
        if (rows[i] == SIZE_MAX)
            printf("  %-32s %10s       %4zu columns\n", ssync_edb_inspect_table_name(db, i),
                   "unreadable", ncols);
        else
            printf("  %-32s %10zu rows  %4zu columns\n", ssync_edb_inspect_table_name(db, i),
                   rows[i], ncols);
    }
    if (!ca->is_ca)
        return;
    printf("\nAD CS database:\n");
    printf("  %-22s %s\n", "CA name:", "not stored (AD CS names the file after the CA)");
    printf("  %-22s %zu\n", "Requests:", ca->requests);
    printf("  %-22s %zu\n", "Issued:", ca->issued);
    printf("  %-22s %zu\n", "Revoked:", ca->revoked);
    printf("  %-22s %zu\n", "Archived keys:", ca->archived_keys);
    printf("  %-22s %zu\n", "Certificates:", ca->certificates);
    printf("  %-22s %lld\n", "Highest request id:", ca->max_request_id);
}

static int info_json(const char *path, ssync_edb_inspect *db, const size_t *rows,
                     const ssync_edb_ca_summary *ca)
{
    const ssync_edb_info *in = ssync_edb_inspect_info(db);
    const char *advice = ssync_edb_state_advice(in->state);
    json_t *tables = json_array();
    for (size_t i = 0; i < ssync_edb_inspect_ntables(db); i++) {
        size_t ncols = 0;
        const ssync_edb_column *cols = ssync_edb_inspect_columns(db, i, &ncols);
        json_t *jc = json_array();
        for (size_t k = 0; k < ncols; k++)
            json_array_append_new(jc, json_pack("{s:s, s:I, s:s, s:I, s:I}", "name", cols[k].name,
                                                "id", (json_int_t)cols[k].id, "type",
                                                ssync_edb_coltyp_name(cols[k].type), "size",
                                                (json_int_t)cols[k].size, "codepage",
                                                (json_int_t)cols[k].codepage));
        json_array_append_new(tables, json_pack("{s:s, s:I, s:o}", "name",
                                                ssync_edb_inspect_table_name(db, i), "rows",
                                                (json_int_t)rows[i], "columns", jc));
        if (rows[i] == SIZE_MAX) /* unreadable (reported on stderr) */
            json_object_set_new(json_array_get(tables, json_array_size(tables) - 1), "rows",
                                json_null());
    }
    json_t *jca = json_null();
    if (ca->is_ca)
        jca = json_pack("{s:n, s:I, s:I, s:I, s:I, s:I, s:I}", "ca_name", "requests",
                        (json_int_t)ca->requests, "issued", (json_int_t)ca->issued, "revoked",
                        (json_int_t)ca->revoked, "archived_keys", (json_int_t)ca->archived_keys,
                        "certificates", (json_int_t)ca->certificates, "max_request_id",
                        (json_int_t)ca->max_request_id);
    json_t *o = json_pack(
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I}, "
        "s:{s:I, s:I}, s:o, s:o}",
        "file", path, "format_version", (json_int_t)in->format_version, "format_revision",
        (json_int_t)in->format_revision, "creation_format_version",
        (json_int_t)in->creation_version, "creation_format_revision",
        (json_int_t)in->creation_revision, "page_size", (json_int_t)in->page_size, "pages",
        (json_int_t)in->pages, "state", ssync_edb_state_name(in->state), "state_code",
        (json_int_t)in->state, "advice", advice ? json_string(advice) : json_null(), "created",
        json_time(in->created), "attached", json_time(in->attached), "detached",
        json_time(in->detached), "log_position", "generation",
        (json_int_t)in->consistent.generation, "sector", (json_int_t)in->consistent.sector,
        "offset", (json_int_t)in->consistent.offset, "logs_required", "min",
        (json_int_t)in->required_min, "max", (json_int_t)in->required_max, "tables", tables, "ca",
        jca);
    if (!o)
        return CLI_EXIT_FAILURE;
    json_dumpf(o, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(o);
    return CLI_EXIT_OK;
}

static int edb_info(int argc, char **argv)
{
    struct edb_args a = {0};
    struct cli_opts o;
    cli_options_init(&o, info_spec.name);
    int rc = cli_options_parse(&info_spec, argc, argv, &o, &a);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    const char *path = o.argv[0];
    ssync_edb_inspect *db = open_db(o.cmd, path);
    if (!db)
        return CLI_EXIT_FAILURE;
    size_t n = ssync_edb_inspect_ntables(db);
    size_t *rows = calloc(n ? n : 1, sizeof *rows);
    ssync_error err = {0};
    ssync_edb_ca_summary ca = {0};
    if (!rows) {
        cli_err(o.cmd, "out of memory");
        ssync_edb_inspect_close(db);
        return CLI_EXIT_FAILURE;
    }
    /* a table that cannot be read is one line; the others are still counted */
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (ssync_edb_inspect_count(db, i, &rows[i], &err) != SSYNC_OK) {
            edb_error(o.cmd, &err);
            rows[i] = SIZE_MAX;
            bad++;
        }
    int have_ca = 1;
    if (ssync_edb_inspect_ca(db, &ca, &err) != SSYNC_OK) {
        edb_error(o.cmd, &err);
        have_ca = 0;
        bad++;
    }
    if (!have_ca)
        ca.is_ca = 0;
    if (a.json)
        rc = info_json(path, db, rows, &ca);
    else
        info_text(path, db, rows, &ca);
    if (rc == CLI_EXIT_OK && bad)
        rc = CLI_EXIT_PARTIAL;
    free(rows);
    ssync_edb_inspect_close(db);
    return rc;
}

/* ---- dump ---- */

static char *hex_of(const ssync_edb_cell *c)
{
    char *s = malloc(2 * c->len + 1);
    if (s)
        ssync_hex_lower(c->data, c->len, s);
    return s;
}

static json_t *cell_json(const ssync_edb_cell *c)
{
    char t[32];
    switch (c->kind) {
    case SSYNC_EDB_CELL_INT:
    case SSYNC_EDB_CELL_UINT:
        return json_integer((json_int_t)c->i);
    case SSYNC_EDB_CELL_REAL:
        return json_real(c->real); /* NULL for NaN and infinities: null */
    case SSYNC_EDB_CELL_DATE:
        iso8601(c->t, t);
        return json_string(t);
    case SSYNC_EDB_CELL_TEXT:
        return json_stringn((const char *)c->data, c->len);
    case SSYNC_EDB_CELL_BINARY: {
        char *s = hex_of(c);
        json_t *j = s ? json_string(s) : NULL;
        free(s);
        return j;
    }
    default:
        return json_null();
    }
}

static json_t *field_json(const ssync_edb_field *f)
{
    if (!f->ncells)
        return json_null();
    if (!f->multi)
        return cell_json(&f->cells[0]);
    json_t *a = json_array();
    for (size_t k = 0; k < f->ncells; k++)
        json_array_append_new(a, cell_json(&f->cells[k]));
    return a;
}

static void csv_field(const char *s)
{
    if (!strpbrk(s, ",\"\r\n;")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void cell_text(const ssync_edb_cell *c, FILE *out)
{
    char t[32];
    switch (c->kind) {
    case SSYNC_EDB_CELL_INT:
    case SSYNC_EDB_CELL_UINT:
        fprintf(out, "%lld", c->i);
        break;
    case SSYNC_EDB_CELL_REAL:
        fprintf(out, "%.17g", c->real);
        break;
    case SSYNC_EDB_CELL_DATE:
        iso8601(c->t, t);
        fputs(t, out);
        break;
    case SSYNC_EDB_CELL_TEXT:
        fwrite(c->data, 1, c->len, out);
        break;
    case SSYNC_EDB_CELL_BINARY: {
        char *hex = hex_of(c);
        if (hex)
            fputs(hex, out);
        free(hex);
        break;
    }
    default:
        break;
    }
}

static void field_csv(const ssync_edb_field *f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return;
    for (size_t k = 0; k < f->ncells; k++) {
        if (k)
            fputc(';', m);
        cell_text(&f->cells[k], m);
    }
    fclose(m);
    csv_field(buf ? buf : "");
    free(buf);
}

/* The indexes of --columns in the table (all when NULL); reports and returns 0 on a bad name. */
static int pick_columns(const char *cmd, ssync_edb_inspect *db, size_t table, const char *list,
                        size_t *idx, size_t *n)
{
    size_t ncols = 0;
    const ssync_edb_column *cols = ssync_edb_inspect_columns(db, table, &ncols);
    *n = 0;
    if (!list) {
        for (size_t i = 0; i < ncols; i++)
            idx[(*n)++] = i;
        return 1;
    }
    char *dup = strdup(list), *save = NULL;
    int ok = dup != NULL;
    for (char *name = dup ? strtok_r(dup, ",", &save) : NULL; ok && name;
         name = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < ncols && strcmp(cols[i].name, name))
            i++;
        if (i == ncols) {
            cli_err(cmd, "table %s has no column '%s'", ssync_edb_inspect_table_name(db, table),
                    name);
            ok = 0;
        } else {
            idx[(*n)++] = i;
        }
    }
    free(dup);
    if (ok && !*n) {
        cli_err(cmd, "--columns names no column");
        ok = 0;
    }
    return ok;
}

/* Prints every row; a row whose value cannot be decoded is one error line and the dump goes on.
 * CLI_EXIT_OK, CLI_EXIT_PARTIAL (some rows failed), or CLI_EXIT_FAILURE (none printed, or the
 * table cannot be read further). */
static int dump_rows(const char *cmd, ssync_edb_cursor *c, int csv)
{
    const ssync_edb_field *f;
    size_t n, good = 0, bad = 0;
    ssync_error err = {0};
    int r;
    while ((r = ssync_edb_cursor_next(c, &f, &n, &err)) != 0) {
        if (r < 0) {
            fflush(stdout);
            edb_error(cmd, &err);
            if (!ssync_edb_cursor_row_error(c))
                return CLI_EXIT_FAILURE;
            bad++;
            continue;
        }
        good++;
        if (csv) {
            for (size_t i = 0; i < n; i++) {
                if (i)
                    putchar(',');
                field_csv(&f[i]);
            }
            putchar('\n');
            continue;
        }
        json_t *o = json_object();
        for (size_t i = 0; i < n; i++) {
            json_t *v = field_json(&f[i]);
            json_object_set_new(o, f[i].col->name, v ? v : json_null());
        }
        json_dumpf(o, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(o);
    }
    if (bad)
        return good ? CLI_EXIT_PARTIAL : CLI_EXIT_FAILURE;
    return CLI_EXIT_OK;
}

static int edb_dump(int argc, char **argv)
{
    struct edb_args a = {0};
    struct cli_opts o;
    cli_options_init(&o, dump_spec.name);
    int rc = cli_options_parse(&dump_spec, argc, argv, &o, &a);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    ssync_edb_inspect *db = open_db(o.cmd, o.argv[0]);
    if (!db)
        return CLI_EXIT_FAILURE;
    int table = ssync_edb_inspect_find_table(db, o.argv[1]);
    size_t ncols = 0, n = 0;
    size_t *idx = NULL;
    ssync_edb_cursor *c = NULL;
    ssync_error err = {0};
    rc = CLI_EXIT_FAILURE;
    if (table < 0) {
        cli_err(o.cmd, "%s: no table '%s' (smimesync edb info lists them)", o.argv[0], o.argv[1]);
    } else if (ssync_edb_inspect_columns(db, (size_t)table, &ncols),
               !(idx = calloc(ncols + (a.columns ? strlen(a.columns) : 0) + 1, sizeof *idx))) {
        cli_err(o.cmd, "out of memory");
    } else if (pick_columns(o.cmd, db, (size_t)table, a.columns, idx, &n)) {
        if (ssync_edb_cursor_open(db, (size_t)table, idx, n, &c, &err) != SSYNC_OK) {
            edb_error(o.cmd, &err);
        } else {
            static char obuf[1 << 16];
            setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
            const ssync_edb_column *cols = ssync_edb_inspect_columns(db, (size_t)table, NULL);
            for (size_t i = 0; a.csv && i < n; i++) {
                if (i)
                    putchar(',');
                csv_field(cols[idx[i]].name);
            }
            if (a.csv)
                putchar('\n');
            rc = dump_rows(o.cmd, c, a.csv);
            fflush(stdout);
            setvbuf(stdout, NULL, _IOLBF, 0);
        }
    }
    ssync_edb_cursor_close(c);
    free(idx);
    ssync_edb_inspect_close(db);
    return rc;
}

/* The help of both subcommands: their usage lines, their options, the exit codes. */
static void edb_usage(FILE *out)
{
    fprintf(out,
            "Usage: smimesync edb info FILE [--json]\n"
            "       smimesync edb dump FILE TABLE [--columns A,B,...] [--format jsonl|csv]\n"
            "Inspect any ESE database (an AD CS CA database among them) from Linux: info shows\n"
            "the file header and every table with its row count; dump prints a table's rows,\n"
            "one per line. A dirty database is read as it is on disk, with a warning.\n"
            "'smimesync edb info --help' and 'smimesync edb dump --help' say more.\n\n"
            "Options:\n"
            "  --json             info: print one JSON object instead of text\n"
            "  --columns A,B,...  dump: only these columns, in this order\n"
            "  --format FMT       dump: jsonl (default) or csv\n"
            "  -h, --help         show this help\n\n");
    cli_options_exit_codes(out);
}

int cmd_edb(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "info"))
        return edb_info(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "dump"))
        return edb_dump(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        edb_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (argc >= 2)
        fprintf(stderr, "smimesync edb: unknown subcommand '%s'\n", argv[1]);
    edb_usage(stderr);
    return CLI_EXIT_USAGE;
}
