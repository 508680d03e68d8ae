/* Responses and the three error shapes: Graph (Graph docs: Microsoft Graph error responses,
 * Throttling), Intune-wrapped Graph (observed, see docs/emulator.md), Entra (identity platform
 * docs: Microsoft Entra authentication and authorization error codes). */
#include "emu.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void emu_resp_free(emu_resp *resp)
{
    json_decref(resp->json);
    resp->json = NULL;
    emu_kv_free(&resp->headers);
}

void emu_resp_reset(emu_resp *resp)
{
    emu_resp_free(resp);
    memset(resp, 0, sizeof(*resp));
}

void emu_resp_json(emu_resp *resp, int status, json_t *body)
{
    json_decref(resp->json);
    resp->status = status;
    resp->json = body;
}

void emu_resp_header(emu_resp *resp, const char *name, const char *value)
{
    (void)emu_kv_add(&resp->headers, name, value);
}

static json_t *inner_error(const emu_req *req)
{
    char date[32];
    emu_fmt_inner_date(time(NULL), date);
    return json_pack("{s:s, s:s, s:s}", "date", date, "request-id", req->request_id,
                     "client-request-id", req->client_request_id);
}

static void graph_error_msg(const emu_req *req, emu_resp *resp, int status, const char *code,
                            const char *msg)
{
    emu_resp_reset(resp);
    json_t *body = json_pack("{s:{s:s, s:s, s:o}}", "error", "code", code, "message", msg,
                             "innerError", inner_error(req));
    emu_resp_json(resp, status, body);
}

void emu_graph_error(const emu_req *req, emu_resp *resp, int status, const char *code,
                     const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    graph_error_msg(req, resp, status, code, msg);
}

void emu_intune_error(const emu_req *req, emu_resp *resp, int status, const char *code,
                      const char *fmt, ...)
{
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    /* Real Intune answers "An error has occurred - Operation ID ..." with no reason; the
     * emulator puts its reason first and keeps the rest of the text and the envelope. */
    char op[37], act[37], message[1600];
    emu_guid(op);
    emu_guid(act);
    snprintf(message, sizeof(message),
             "%s - Operation ID (for customer support): %s - Activity ID: %s - Url: "
             "https://fef.emu.manage.microsoft.com/RACerts/StatelessImportPFXService/"
             "deviceManagement/userPfxCertificates?api-version=5021-04-09",
             reason, op, act);
    json_t *inner = json_pack("{s:i, s:s, s:s, s:n, s:s, s:s}", "_version", 3, "Message", message,
                              "CustomApiErrorPhrase", "", "RetryAfter", "ErrorSourceService", "",
                              "HttpHeaders", "{}");
    char *text = json_dumps(inner, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(inner);
    /* the wire form uses CRLF line ends inside the string */
    size_t n = text ? strlen(text) : 0, lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += text[i] == '\n';
    char *crlf = malloc(n + lines + 1);
    if (text && crlf) {
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
            if (text[i] == '\n')
                crlf[j++] = '\r';
            crlf[j++] = text[i];
        }
        crlf[j] = '\0';
        graph_error_msg(req, resp, status, code, crlf);
    } else {
        graph_error_msg(req, resp, status, code, reason);
    }
    free(crlf);
    free(text);
}

void emu_throttle_error(const emu_req *req, emu_resp *resp, const char *retry_after)
{
    emu_resp_reset(resp);
    char date[32];
    emu_fmt_inner_date(time(NULL), date);
    /* the sample in Graph docs: Throttling, plus client-request-id */
    json_t *body =
        json_pack("{s:{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}}}", "error", "code",
                  "TooManyRequests", "message", "Please retry again later.", "innerError", "code",
                  "429", "date", date, "message", "Please retry after", "request-id",
                  req->request_id, "client-request-id", req->client_request_id, "status", "429");
    emu_resp_json(resp, 429, body);
    if (retry_after)
        emu_resp_header(resp, "Retry-After", retry_after);
}

void emu_entra_error(const emu_req *req, emu_resp *resp, int status, const char *error, long aadsts,
                     const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    char ts[32], corr[37];
    emu_fmt_entra_time(time(NULL), ts);
    emu_guid(corr);
    char desc[1400];
    snprintf(desc, sizeof(desc),
             "AADSTS%ld: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, text,
             req->request_id, corr, ts);
    char uri[96];
    snprintf(uri, sizeof(uri), "https://login.microsoftonline.com/error?code=%ld", aadsts);
    emu_resp_reset(resp);
    json_t *body =
        json_pack("{s:s, s:s, s:[I], s:s, s:s, s:s, s:s}", "error", error, "error_description",
                  desc, "error_codes", (json_int_t)aadsts, "timestamp", ts, "trace_id",
                  req->request_id, "correlation_id", corr, "error_uri", uri);
    emu_resp_json(resp, status, body);
    resp->content_type = "application/json; charset=utf-8";
    emu_resp_header(resp, "Cache-Control", "no-store, no-cache");
    emu_resp_header(resp, "Pragma", "no-cache");
    emu_resp_header(resp, "x-ms-request-id", req->request_id);
}

void emu_tenant_not_found(const emu_req *req, emu_resp *resp, const char *tenant)
{
    emu_entra_error(req, resp, 400, "invalid_tenant", 90002,
                    "Tenant '%.100s' not found. Check to make sure you have the correct tenant ID "
                    "and are signing into the correct cloud. Check with your subscription "
                    "administrator, this may happen if there are no active subscriptions for the "
                    "tenant.",
                    tenant);
}
