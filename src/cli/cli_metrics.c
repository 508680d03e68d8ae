/* The Prometheus text exposition format (version 0.0.4) of a run's metrics (cli_metrics.h). */
#define _GNU_SOURCE /* open_memstream */
#include "cli_metrics.h"

#include "common/fileio.h"
#include "pki/certinfo.h"
#include "source/item.h"
#include "sync/plan.h"

#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREV_MAX (4u << 20) /* the previous file is ours: a few kB */

/* The value of sample (name and labels, as written) in the previous file; 0 when absent. */
static double previous_value(const char *previous, const char *sample)
{
    size_t len = strlen(sample);
    for (const char *p = previous; p && *p;) {
        const char *eol = strchr(p, '\n');
        if (strncmp(p, sample, len) == 0 && p[len] == ' ')
            return strtod(p + len + 1, NULL);
        p = eol ? eol + 1 : NULL;
    }
    return 0;
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped (exposition format). */
static void label_value(FILE *f, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f);
        if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

/* A counter sample: this run's add to the previous file's value. */
static void counter(FILE *f, const char *previous, const char *sample, double add)
{
    fprintf(f, "%s %.17g\n", sample, previous_value(previous, sample) + add);
}

static void run_metrics(FILE *f, const struct cli_metrics *m, const char *previous)
{
    header(f, "smimesync_last_run_start_timestamp_seconds", "gauge",
           "When the last sync run started.");
    fprintf(f, "smimesync_last_run_start_timestamp_seconds %.3f\n", m->started);
    header(f, "smimesync_last_run_end_timestamp_seconds", "gauge", "When the last sync run ended.");
    fprintf(f, "smimesync_last_run_end_timestamp_seconds %.3f\n", m->ended);
    header(f, "smimesync_last_run_success_timestamp_seconds", "gauge",
           "When the last sync run that succeeded ended (0: none yet).");
    double last_ok = m->success
                         ? m->ended
                         : previous_value(previous, "smimesync_last_run_success_timestamp_seconds");
    fprintf(f, "smimesync_last_run_success_timestamp_seconds %.3f\n", last_ok);
    header(f, "smimesync_last_run_success", "gauge", "1 when the last sync run succeeded.");
    fprintf(f, "smimesync_last_run_success %d\n", m->success ? 1 : 0);
    header(f, "smimesync_last_run_duration_seconds", "gauge", "How long the last sync run took.");
    fprintf(f, "smimesync_last_run_duration_seconds %.3f\n",
            m->ended > m->started ? m->ended - m->started : 0.0);
    header(f, "smimesync_runs_total", "counter", "Sync runs by result.");
    counter(f, previous, "smimesync_runs_total{result=\"success\"}", m->success ? 1 : 0);
    counter(f, previous, "smimesync_runs_total{result=\"failure\"}", m->success ? 0 : 1);
}

enum { OUT_DONE, OUT_FAILED, OUT_CANCELLED, OUT_UNCHANGED, OUT_N };
static const char *const outcome_names[OUT_N] = {"done", "failed", "cancelled", "unchanged"};

static int outcome_of(const ssync_plan_item *it, const ssync_item_result *res)
{
    if (res && res->cancelled)
        return OUT_CANCELLED;
    if (it->code != SSYNC_OK || (res && res->error))
        return OUT_FAILED;
    if (res && res->wrote)
        return OUT_DONE;
    return OUT_UNCHANGED;
}

static void item_metrics(FILE *f, const struct cli_metrics *m, const char *previous)
{
    if (!m->plan)
        return;
    enum { ACTIONS = 8 };
    size_t n[ACTIONS][OUT_N] = {{0}};
    size_t no_kra = 0;
    for (size_t i = 0; i < m->plan->count; i++) {
        const ssync_plan_item *it = &m->plan->items[i];
        const ssync_item_result *res = m->results ? &m->results[i] : NULL;
        n[(unsigned)it->action % ACTIONS][outcome_of(it, res)]++;
        no_kra +=
            it->code == SSYNC_ERR_KRA_NOT_HELD || (res && res->code == SSYNC_ERR_KRA_NOT_HELD);
    }
    header(f, "smimesync_last_run_items", "gauge",
           "Certificates of the last sync run by planned action and outcome.");
    for (unsigned a = 0; a < ACTIONS; a++) {
        const char *name = ssync_plan_action_name((ssync_plan_action)a);
        if (!name || !strcmp(name, "?"))
            continue;
        for (int o = 0; o < OUT_N; o++)
            fprintf(f, "smimesync_last_run_items{action=\"%s\",outcome=\"%s\"} %zu\n", name,
                    outcome_names[o], n[a][o]);
    }
    header(f, "smimesync_items_total", "counter",
           "Writes to Intune by action and outcome, over all runs.");
    for (unsigned a = 0; a < ACTIONS; a++) {
        const char *name = ssync_plan_action_name((ssync_plan_action)a);
        if (!name || !strcmp(name, "?") || (strcmp(name, "upload") && strcmp(name, "remove")))
            continue;
        for (int o = OUT_DONE; o <= OUT_FAILED; o++) {
            char sample[160];
            snprintf(sample, sizeof sample, "smimesync_items_total{action=\"%s\",outcome=\"%s\"}",
                     name, outcome_names[o]);
            counter(f, previous, sample, (double)n[a][o]);
        }
    }
    header(f, "smimesync_blobs_without_held_kra", "gauge",
           "Archived keys of the last run that no held KRA key can open.");
    fprintf(f, "smimesync_blobs_without_held_kra %zu\n", no_kra);
}

static void graph_metrics(FILE *f, const ssync_graph_stats *g, const char *previous)
{
    header(f, "smimesync_graph_requests_total", "counter",
           "Answers from Microsoft Graph by method and HTTP status (code 0: no answer).");
    char sample[160];
    for (size_t i = 0; g && i < g->n_by_status; i++) {
        snprintf(sample, sizeof sample,
                 "smimesync_graph_requests_total{method=\"%s\",code=\"%ld\"}",
                 g->by_status[i].method, g->by_status[i].status);
        counter(f, previous, sample, (double)g->by_status[i].count);
    }
    /* the pairs of earlier runs that this run did not see keep their value */
    for (const char *p = previous; p && *p;) {
        const char *eol = strchr(p, '\n');
        const char *sp = strchr(p, ' ');
        size_t len = sp && (!eol || sp < eol) ? (size_t)(sp - p) : 0;
        if (len && len < sizeof sample && !strncmp(p, "smimesync_graph_requests_total{", 31)) {
            memcpy(sample, p, len);
            sample[len] = '\0';
            int seen = 0;
            for (size_t i = 0; g && i < g->n_by_status && !seen; i++) {
                char mine[160];
                snprintf(mine, sizeof mine,
                         "smimesync_graph_requests_total{method=\"%s\",code=\"%ld\"}",
                         g->by_status[i].method, g->by_status[i].status);
                seen = !strcmp(mine, sample);
            }
            if (!seen)
                counter(f, previous, sample, 0);
        }
        p = eol ? eol + 1 : NULL;
    }
    header(f, "smimesync_graph_throttled_total", "counter",
           "Throttled answers from Graph (429, 503, 504), over all runs.");
    counter(f, previous, "smimesync_graph_throttled_total", g ? (double)g->throttled : 0);
    header(f, "smimesync_graph_retries_total", "counter", "Requests sent again, over all runs.");
    counter(f, previous, "smimesync_graph_retries_total", g ? (double)g->retries : 0);
    header(f, "smimesync_graph_throttled_seconds_total", "counter",
           "Time the write pipe spent paused by throttling, over all runs.");
    counter(f, previous, "smimesync_graph_throttled_seconds_total", g ? g->paused_s : 0);
}

static void kra_metrics(FILE *f, const ssync_kra_set *kras)
{
    size_t n = kras ? ssync_kra_set_count(kras) : 0;
    if (!n)
        return;
    header(f, "smimesync_kra_certificate_not_after_timestamp_seconds", "gauge",
           "When each held KRA certificate expires.");
    for (size_t i = 0; i < n; i++) {
        X509 *cert = NULL;
        ssync_certinfo info = {0};
        ssync_error e = {0};
        if (!ssync_kra_set_get(kras, i, NULL, &cert) || !cert ||
            ssync_certinfo_get(cert, &info, &e) != SSYNC_OK)
            continue;
        fputs("smimesync_kra_certificate_not_after_timestamp_seconds{serial=\"", f);
        label_value(f, info.serial);
        fputs("\",subject=\"", f);
        label_value(f, info.subject);
        fprintf(f, "\"} %lld\n", (long long)info.not_after);
        ssync_certinfo_clear(&info);
    }
}

static void health_metrics(FILE *f, const struct cli_metrics *m)
{
    if (m->credential_not_after) {
        header(f, "smimesync_graph_credential_not_after_timestamp_seconds", "gauge",
               "When the app's client certificate for Graph expires.");
        fprintf(
            f,
            "smimesync_graph_credential_not_after_timestamp_seconds{kind=\"certificate\"} %lld\n",
            (long long)m->credential_not_after);
    }
    if (m->users_expiring_known) {
        header(f, "smimesync_users_expiring_without_successor", "gauge",
               "Users whose newest encryption certificate expires within 30 days, no successor.");
        fprintf(f, "smimesync_users_expiring_without_successor %zu\n", m->users_expiring);
    }
    if (m->ca_copy_modified) {
        header(f, "smimesync_ca_database_copy_modified_timestamp_seconds", "gauge",
               "When the CA database copy read by the edb source was last written.");
        fprintf(f, "smimesync_ca_database_copy_modified_timestamp_seconds %lld\n",
                (long long)m->ca_copy_modified);
    }
    if (m->ca_copy_clean >= 0) {
        header(f, "smimesync_ca_database_copy_clean", "gauge",
               "1 when the CA database copy was taken after a clean shutdown, 0 when dirty.");
        fprintf(f, "smimesync_ca_database_copy_clean %d\n", m->ca_copy_clean);
    }
    if (m->n_connectors) {
        header(f, "smimesync_connector_last_checkin_timestamp_seconds", "gauge",
               "When each Intune Certificate Connector last checked in.");
        for (size_t i = 0; i < m->n_connectors; i++) {
            fputs("smimesync_connector_last_checkin_timestamp_seconds{connector=\"", f);
            label_value(f, m->connectors[i].name);
            fprintf(f, "\"} %lld\n", (long long)m->connectors[i].last_checkin);
        }
        header(f, "smimesync_connector_version_supported", "gauge",
               "1 when the connector's version is supported, 0 when out of support.");
        for (size_t i = 0; i < m->n_connectors; i++) {
            if (m->connectors[i].supported < 0)
                continue;
            fputs("smimesync_connector_version_supported{connector=\"", f);
            label_value(f, m->connectors[i].name);
            fprintf(f, "\"} %d\n", m->connectors[i].supported);
        }
    }
    if (m->n_platforms) {
        header(f, "smimesync_device_certificates", "gauge",
               "Certificates by platform and delivery state (status --devices).");
        for (size_t i = 0; i < m->n_platforms; i++) {
            const struct cli_metrics_platform *p = &m->platforms[i];
            const size_t v[3] = {p->delivered, p->failed, p->pending};
            static const char *const state[3] = {"delivered", "failed", "pending"};
            for (int k = 0; k < 3; k++) {
                fputs("smimesync_device_certificates{platform=\"", f);
                label_value(f, p->platform);
                fprintf(f, "\",state=\"%s\"} %zu\n", state[k], v[k]);
            }
        }
    }
}

char *cli_metrics_render(const struct cli_metrics *m, const char *previous)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    run_metrics(f, m, previous);
    item_metrics(f, m, previous);
    graph_metrics(f, m->graph, previous);
    kra_metrics(f, m->kras);
    health_metrics(f, m);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

ssync_code cli_metrics_write(const struct cli_metrics *m, const char *path, ssync_error *err)
{
    ssync_buf prev = {0};
    ssync_error ignored = {0};
    /* a missing or unreadable previous file: the counters start again (Prometheus sees a reset) */
    if (ssync_read_file(path, PREV_MAX, &prev, &ignored) != SSYNC_OK)
        prev.data = NULL;
    char *text = cli_metrics_render(m, (const char *)prev.data);
    free(prev.data);
    if (!text)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "metrics: out of memory");
    ssync_code rc = ssync_write_file_atomic(path, text, strlen(text), 0644, err);
    free(text);
    return rc;
}

/* "<path without .prom>-<part>.prom" into out; -1 when it does not fit. */
static int part_path(char *out, size_t size, const char *path, const char *part)
{
    size_t n = strlen(path);
    if (n > 5 && strcmp(path + n - 5, ".prom") == 0)
        n -= 5;
    int k = snprintf(out, size, "%.*s-%s.prom", (int)n, path, part);
    return k < 0 || (size_t)k >= size ? -1 : 0;
}

ssync_code cli_metrics_write_part(const struct cli_metrics *m, const char *path, const char *part,
                                  ssync_error *err)
{
    char file[4096];
    if (part_path(file, sizeof file, path, part) != 0)
        return ssync_fail(err, SSYNC_ERR_ARG, "metrics: %s: path too long", path);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "metrics: out of memory");
    health_metrics(f, m);
    if (fclose(f) != 0) {
        free(text);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "metrics: out of memory");
    }
    ssync_code rc = ssync_write_file_atomic(file, text, strlen(text), 0644, err);
    free(text);
    return rc;
}
