/* status --devices, the renderings (cli_devices.h): the table, --json and the HTML page. Names
 * come from Graph: through the output filter (cli_text_safe) or HTML-escaped. */
#include "cli_devices.h"

#include "cli_report.h"
#include "cli_text.h"

#include "common/fileio.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const state_text[DEV__COUNT] = {
    "installed", "failed", "pending", "not delivered", "not delivered", "not delivered",
};
static const char *const state_json[DEV__COUNT] = {
    "installed", "failed", "pending", "hiddenByNewer", "notAssigned", "noProfile",
};

const char *cli_dev_state_text(enum dev_state s)
{
    return s < DEV__COUNT ? state_text[s] : "no managed device";
}

const char *cli_dev_state_json(enum dev_state s)
{
    return s < DEV__COUNT ? state_json[s] : "noDevice";
}

static void totals_line(const struct dev_report *rep, FILE *out)
{
    fprintf(out,
            "status --devices: %zu users, %zu devices (%zu users without one): %zu installed, "
            "%zu failed, %zu pending, %zu not delivered by rule (%zu hidden by a newer "
            "certificate, %zu outside every assignment, %zu without a profile); %lu Graph "
            "requests: %s\n",
            rep->users, rep->devices, rep->users_without_devices, rep->counts[DEV_INSTALLED],
            rep->counts[DEV_FAILED], rep->counts[DEV_PENDING],
            rep->counts[DEV_HIDDEN] + rep->counts[DEV_UNASSIGNED] + rep->counts[DEV_NO_PROFILE],
            rep->counts[DEV_HIDDEN], rep->counts[DEV_UNASSIGNED], rep->counts[DEV_NO_PROFILE],
            rep->requests,
            cli_devices_differ(rep) ? "certificates are not where they should be"
                                    : "every certificate is where it should be");
}

void cli_devices_print(const struct dev_report *rep, FILE *out)
{
    const char *upn = NULL, *dev = NULL;
    for (size_t i = 0; i < rep->n; i++) {
        const struct dev_row *r = &rep->rows[i];
        char a[512], b[256], c[512];
        if (!upn || strcasecmp(upn, r->upn)) {
            cli_text_safe(a, sizeof a, r->upn);
            fprintf(out, "%s\n", a);
            upn = r->upn;
            dev = NULL;
        }
        if (r->state == DEV__COUNT) {
            fprintf(out, "  (no managed device)\n");
            continue;
        }
        if (!dev || strcmp(dev, r->device)) {
            cli_text_safe(b, sizeof b, r->device);
            fprintf(out, "  %s (%s)\n", b, ssync_platform_name(r->platform));
            dev = r->device;
        }
        cli_text_safe(c, sizeof c, r->detail);
        fprintf(out, "    %-14s %s: %s\n", cli_dev_state_text(r->state), r->thumbprint, c);
    }
    totals_line(rep, out);
}

static json_t *counts_json(const struct dev_report *rep)
{
    json_t *c = json_object();
    for (int s = 0; s < DEV__COUNT; s++)
        json_object_set_new(c, state_json[s], json_integer((json_int_t)rep->counts[s]));
    json_object_set_new(c, "users", json_integer((json_int_t)rep->users));
    json_object_set_new(c, "devices", json_integer((json_int_t)rep->devices));
    json_object_set_new(c, "usersWithoutDevices",
                        json_integer((json_int_t)rep->users_without_devices));
    return c;
}

int cli_devices_print_json(const struct dev_report *rep, FILE *out)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < rep->n; i++) {
        const struct dev_row *r = &rep->rows[i];
        json_t *o = json_pack("{s:s, s:s}", "userPrincipalName", r->upn, "state",
                              cli_dev_state_json(r->state));
        if (r->state != DEV__COUNT) {
            json_object_set_new(o, "device", json_string(r->device));
            json_object_set_new(o, "platform", json_string(ssync_platform_name(r->platform)));
            json_object_set_new(o, "thumbprint", json_string(r->thumbprint));
            json_object_set_new(o, "detail", json_string(r->detail));
            if (r->state == DEV_FAILED)
                json_object_set_new(o, "errorCode", json_integer((json_int_t)r->error_code));
        }
        json_array_append_new(rows, o);
    }
    json_t *root = json_pack("{s:o, s:b, s:I, s:o}", "counts", counts_json(rep), "delivered",
                             !cli_devices_differ(rep), "graphRequests", (json_int_t)rep->requests,
                             "devices", rows);
    int ok = root && json_dumpf(root, out, JSON_COMPACT) == 0;
    json_decref(root);
    if (ok)
        fputc('\n', out);
    return ok;
}

int cli_devices_write_html(const struct dev_report *rep, const char *path, char *why, size_t whylen)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'\"><title>smimesync: devices</title>"
          "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}"
          ".failed,.pending{color:#a00}.installed{color:#070}</style></head><body>\n"
          "<section id=\"devices\"><h2>Devices</h2>\n<p>",
          out);
    char line[1024];
    FILE *t = fmemopen(line, sizeof line, "w");
    if (t) {
        totals_line(rep, t);
        fclose(t);
        line[sizeof line - 1] = '\0';
        cli_html_esc(out, line);
    }
    fputs("</p>\n<table><tr><th>user</th><th>device</th><th>platform</th><th>certificate</th>"
          "<th>state</th><th>detail</th></tr>\n",
          out);
    for (size_t i = 0; i < rep->n; i++) {
        const struct dev_row *r = &rep->rows[i];
        fprintf(out, "<tr class=\"%s\"><td>", cli_dev_state_json(r->state));
        cli_html_esc(out, r->upn);
        fputs("</td><td>", out);
        cli_html_esc(out, r->state == DEV__COUNT ? "(none)" : r->device);
        fprintf(out, "</td><td>%s</td><td>%s</td><td class=\"%s\">%s</td><td>",
                r->state == DEV__COUNT ? "" : ssync_platform_name(r->platform), r->thumbprint,
                r->state == DEV_FAILED    ? "failed"
                : r->state == DEV_PENDING ? "pending"
                                          : "",
                cli_dev_state_text(r->state));
        cli_html_esc(out, r->detail);
        fputs("</td></tr>\n", out);
    }
    fputs("</table></section>\n</body></html>\n", out);
    fclose(out);
    ssync_error e = {0};
    int rc = ssync_write_file_atomic(path, buf, len, 0640, &e) == SSYNC_OK ? 0 : -1;
    if (rc)
        snprintf(why, whylen, "%s", e.msg);
    free(buf);
    return rc;
}
