/* The checks against Entra ID and Graph: a token, then each application permission proven by
 * a harmless request: a user lookup and a listing for a user that cannot exist, and a delete
 * of a record id that cannot exist (404 = allowed, 403 = the permission is missing). */
#include "cli_check.h"

#include "cli_log.h"

#include "graph/graph.h"
#include "sync/connect.h"
#include "common/uuid.h"

#include <stdio.h>
#include <string.h>

#define PERM_USERS "User.Read.All"
#define PERM_PFX "DeviceManagementConfiguration.ReadWrite.All"

/* e's message, with the request's status and ids when the message lacks them. */
static void describe(char *out, size_t n, const ssync_error *e, const ssync_graph_failure *f)
{
    char detail[700] = "";
    if (f && (f->http_status || f->request_id[0] || f->code[0]))
        ssync_graph_failure_format(f, detail, sizeof detail);
    if (detail[0] && !strstr(e->msg, detail))
        snprintf(out, n, "%s [%s]", e->msg, detail);
    else
        snprintf(out, n, "%s", e->msg);
}

static const char *token_hint(const ssync_graph_failure *f)
{
    if (!f || (!f->http_status && f->curl_code))
        return "check [intune] authority, the network (proxy, firewall) and ca_bundle";
    if (!strcmp(f->aadsts, "AADSTS7000215") || !strcmp(f->aadsts, "AADSTS7000222"))
        return "the client secret is wrong or expired: create a new one for the app in Entra ID "
               "and update [intune] client_secret_file";
    if (!strcmp(f->aadsts, "AADSTS700016"))
        return "[intune] client_id is not an application of this tenant";
    if (!strcmp(f->aadsts, "AADSTS90002"))
        return "[intune] tenant_id is not a known tenant";
    if (!strcmp(f->aadsts, "AADSTS700027"))
        return "upload [intune] client_certificate to the app's Certificates & secrets";
    return "check [intune] tenant_id, client_id and the credentials";
}

static void check_users(struct check_list *l, ssync_graph *g, const char *upn)
{
    static const char *const name = "permission " PERM_USERS;
    ssync_user_lookup it = {.key = upn};
    ssync_error e = {0};
    char msg[1024];
    if (ssync_graph_lookup_users(g, SSYNC_USER_BY_UPN, &it, 1, &e) != SSYNC_OK) {
        describe(msg, sizeof msg, &e, ssync_graph_last_failure(g));
        cli_check_add(l, CHECK_FAIL, name, NULL, "user lookup failed: %s", msg);
    } else if (it.result == SSYNC_OK || it.result == SSYNC_ERR_NOT_FOUND) {
        cli_check_add(l, CHECK_OK, name, NULL, "the app may look up users");
    } else if (it.detail.http_status == 403) {
        describe(msg, sizeof msg, &it.err, &it.detail);
        cli_check_add(l, CHECK_FAIL, name,
                      "grant the application permission " PERM_USERS " and admin consent",
                      "the app may not read users (%s missing): %s", PERM_USERS, msg);
    } else {
        describe(msg, sizeof msg, &it.err, &it.detail);
        cli_check_add(l, CHECK_FAIL, name, NULL, "user lookup failed: %s", msg);
    }
    ssync_user_lookup_clear(&it, 1);
}

static void check_pfx_read(struct check_list *l, ssync_graph *g, const char *upn)
{
    static const char *const name = "permission " PERM_PFX " (read)";
    ssync_pfx_list lst = {0};
    ssync_error e = {0};
    char msg[1024];
    if (ssync_graph_list_pfx_by_user(g, upn, &lst, &e) == SSYNC_OK) {
        cli_check_add(l, CHECK_OK, name, NULL, "the app may list userPfxCertificates");
    } else {
        const ssync_graph_failure *f = ssync_graph_last_failure(g);
        describe(msg, sizeof msg, &e, f);
        if (f && f->http_status == 403)
            cli_check_add(l, CHECK_FAIL, name,
                          "grant the application permission " PERM_PFX " and admin consent",
                          "the app may not read userPfxCertificates (%s missing): %s", PERM_PFX,
                          msg);
        else
            cli_check_add(l, CHECK_FAIL, name, NULL, "listing failed: %s", msg);
    }
    ssync_pfx_list_free(&lst);
}

/* A delete of an id that cannot exist: Read.All lets the listing through, only ReadWrite.All
 * lets this through to its 404. */
static void check_pfx_write(struct check_list *l, ssync_graph *g, const char *user_id)
{
    static const char *const name = "permission " PERM_PFX " (write)";
    ssync_graph_op op = {.kind = SSYNC_OP_DELETE,
                         .user_id = user_id,
                         .thumbprint = "0000000000000000000000000000000000000000"};
    ssync_error e = {0};
    char msg[1024];
    ssync_code rc = ssync_graph_run(g, &op, 1, NULL, NULL, &e);
    if (rc == SSYNC_OK && op.result == SSYNC_OK) {
        cli_check_add(
            l, CHECK_OK, name, NULL,
            "the app may delete userPfxCertificates (tried on an id that does not exist)");
        return;
    }
    if (op.result != SSYNC_OK)
        e = op.err;
    describe(msg, sizeof msg, &e, &op.detail);
    if (op.detail.http_status == 403)
        cli_check_add(l, CHECK_FAIL, name,
                      "grant the application permission " PERM_PFX
                      " (Read.All is not enough) and admin consent",
                      "the app may not write userPfxCertificates (%s missing): %s", PERM_PFX, msg);
    else
        cli_check_add(l, CHECK_WARN, name, NULL, "could not be verified: %s", msg);
}

void check_intune(struct check_list *l, const ssync_config *cfg)
{
    static const char *const perms[] = {
        "permission " PERM_USERS,
        "permission " PERM_PFX " (read)",
        "permission " PERM_PFX " (write)",
    };
    struct cli_log log = {.cmd = "check", .verbosity = SSYNC_LOG_ERROR};
    ssync_error e = {0};
    char msg[1024];
    ssync_graph *g = NULL;
    if (ssync_graph_open(&cfg->intune, cfg->path, cli_log_graph_fn, &log, &g, &e) != SSYNC_OK)
        cli_log_error(&log, NULL, &e);
    int ok = g != NULL;
    if (!g)
        cli_check_add(l, CHECK_FAIL, "token", "see the [intune] section in docs/configuration.md",
                      "cannot set up the Graph client: the reason is on the line above");
    else if (ssync_graph_authenticate(g, &e) != SSYNC_OK) {
        const ssync_graph_failure *f = ssync_graph_last_failure(g);
        describe(msg, sizeof msg, &e, f);
        cli_check_add(l, CHECK_FAIL, "token", token_hint(f), "%s", msg);
        ok = 0;
    } else {
        cli_check_add(l, CHECK_OK, "token", NULL, "the app got a token for %s from %s",
                      cfg->intune.graph ? cfg->intune.graph : SSYNC_DEFAULT_GRAPH,
                      cfg->intune.authority ? cfg->intune.authority : SSYNC_DEFAULT_AUTHORITY);
    }
    if (!ok) {
        for (size_t i = 0; i < sizeof perms / sizeof perms[0]; i++)
            cli_check_add(l, CHECK_SKIP, perms[i], NULL, "not tested: no token");
        ssync_graph_free(g);
        return;
    }
    /* a user and a record id that cannot exist */
    char guid[SSYNC_UUID_LEN + 1], upn[128];
    if (ssync_uuid4(guid, &e) != SSYNC_OK) {
        cli_check_add(l, CHECK_FAIL, "permissions", NULL, "%s", e.msg);
        ssync_graph_free(g);
        return;
    }
    snprintf(upn, sizeof upn, "smimesync-check-%s@invalid.example", guid);
    check_users(l, g, upn);
    check_pfx_read(l, g, upn);
    check_pfx_write(l, g, guid);
    check_delivery(l, cfg, g);
    ssync_graph_free(g);
}
