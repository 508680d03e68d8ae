/* smimesync check: validate a configuration end to end before the first sync, one line per check
 * ("ok", "WARN", "FAIL" or "SKIP", the reason and a hint). Nothing is written to Intune. */
#include "check_findings.h"
#include "check_list.h"
#include "cli.h"
#include "cli_check.h"
#include "cli_options.h"
#include "cli_util.h"

#include "pki/trust.h"
#include "sync/config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CMD = "check";

static const struct cli_option options[] = {
    CLI_USE(CLI_OPT_CONFIG, NULL),
    CLI_USE(CLI_OPT_JSON, "print "
                          "{\"ok\",\"checks\":[{\"name\",\"ok\",\"level\",\"message\",\"hint\"}],"
                          "\"findings\":{...}}"),
};

static const struct cli_spec spec = {
    .name = "check",
    .synopsis = "--config FILE [--json]",
    .summary = "Validate the configuration end to end and say what is wrong in plain words: the\n"
               "file loads; each KRA key opens and matches its certificate (and is not about to\n"
               "expire); the connector key is RSA >= 2048 bits and encrypts with the configured\n"
               "padding; the source is readable and a sample key recovers; the CRLs load and are\n"
               "current; the journal is writable; a token can be had; the app may read users\n"
               "(User.Read.All) and read and delete userPfxCertificates\n"
               "(DeviceManagementConfiguration.ReadWrite.All); then the Intune side of delivery:\n"
               "per platform a PKCS imported certificate profile with our intendedPurpose, its\n"
               "assignment and the users it leaves out, a trusted root profile with our root,\n"
               "Outlook's S/MIME switch, the certificate connectors, and the expiry of the app\n"
               "certificate. A check that lacks a read permission says \"not checked (grant X)\".\n"
               "Nothing is written to Intune.",
    .epilog =
        "Exit status 0 when every check passed (warnings and \"not checked\" included), 1\n"
        "otherwise. The findings (\"finding:\" lines; \"findings\" in JSON: KRA and Graph\n"
        "certificate expiry, archived keys no held KRA opens, users whose newest certificate\n"
        "expires within 30 days without a successor) never change the exit status.",
    .options = CLI_SPEC_OPTIONS(options),
    .max_args = 0,
    .flags = CLI_SPEC_OPERANDS_FIRST,
};

static int print_json(const struct check_list *l, int all_ok, json_t *findings)
{
    json_t *checks = json_array();
    for (size_t i = 0; i < l->n; i++) {
        const struct check_result *r = &l->v[i];
        json_t *o = json_pack("{s:s, s:b, s:s, s:s}", "name", r->name, "ok",
                              r->level == CHECK_OK || r->level == CHECK_WARN, "level",
                              cli_check_level_json(r->level), "message", r->message);
        if (o && r->hint[0])
            json_object_set_new(o, "hint", json_string(r->hint));
        json_array_append_new(checks, o);
    }
    json_t *root = json_pack("{s:b, s:o}", "ok", all_ok, "checks", checks);
    if (root && findings) /* expiry and coverage: what to alert on (check_findings.h) */
        json_object_set(root, "findings", findings);
    int ok = root && json_dumpf(root, stdout, JSON_COMPACT) == 0;
    json_decref(root);
    if (ok)
        putchar('\n');
    else
        cli_err(CMD, "cannot write the JSON report");
    return ok;
}

static void run_checks(struct check_list *l, const char *path, json_t **findings)
{
    ssync_config cfg;
    ssync_error e = {0};
    if (ssync_config_load(path, &cfg, &e) != SSYNC_OK) {
        cli_check_add(l, CHECK_FAIL, "config", "fix the line named; see docs/configuration.md",
                      "%s", e.msg);
        ssync_config_free(&cfg);
        return;
    }
    cli_check_add(l, CHECK_OK, "config", NULL, "%s loaded", path);
    if (cfg.n_named > 0 || cfg.source.kra.key.n > 0) { /* sources with their own lines */
        check_connector(l, &cfg);
        check_named_sources(l, &cfg);
        check_state(l, &cfg);
    } else {
        ssync_kra_set *kras = NULL;
        ssync_trust *trust = check_ca(l, &cfg);
        check_kras(l, &cfg, &kras);
        check_connector(l, &cfg);
        check_crls(l, &cfg, trust);
        check_source(l, &cfg, kras, trust);
        check_state(l, &cfg);
        *findings = check_findings(&cfg, kras, trust, l->json ? NULL : stdout);
        ssync_kra_set_free(kras);
        ssync_trust_free(trust);
    }
    check_intune(l, &cfg);
    ssync_config_free(&cfg);
}

int cmd_check(int argc, char **argv)
{
    struct cli_opts o;
    int rc = cli_options_parse(&spec, argc, argv, &o, NULL);
    if (rc != CLI_EXIT_OK)
        return rc == -1 ? CLI_EXIT_OK : rc;
    struct check_list l = {.json = o.json};
    json_t *findings = NULL;
    run_checks(&l, o.config, &findings);
    size_t ok = 0, warn = 0, fail = 0, unchecked = 0;
    for (size_t i = 0; i < l.n; i++) {
        ok += l.v[i].level == CHECK_OK;
        warn += l.v[i].level == CHECK_WARN;
        fail += l.v[i].level == CHECK_FAIL || l.v[i].level == CHECK_SKIP;
        unchecked += l.v[i].level == CHECK_UNCHECKED;
    }
    int printed = 1;
    if (l.json)
        printed = print_json(&l, fail == 0, findings);
    else
        printf("check: %zu ok, %zu warnings, %zu failed or not tested\n", ok, warn, fail);
    if (!l.json && unchecked)
        printf("check: %zu not checked for want of a read permission (see N/C lines)\n", unchecked);
    fflush(stdout);
    json_decref(findings);
    cli_check_list_free(&l);
    return fail == 0 && printed ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
