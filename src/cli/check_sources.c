/* smimesync check over a configuration of several sources ([source "NAME"]): every source is
 * checked on its own lines, named after it. */
#include "cli_check.h"

#include "pki/trust.h"
#include "recover/kra.h"
#include "source/source.h"
#include "sync/connect.h"

#include <stdio.h>
#include <stdlib.h>

/* The source's ca (NULL, with a FAIL line, when unset or unreadable). */
static ssync_trust *source_ca(struct check_list *l, const char *prefix, const char *sname,
                              const ssync_source_cfg *s)
{
    char name[96];
    snprintf(name, sizeof name, "%sca", prefix);
    ssync_trust *t = NULL;
    ssync_error e = {0};
    if (s->ca.n == 0) {
        cli_check_add(l, CHECK_FAIL, name,
                      "on the CA: certutil -ca.cert ca.cer; then ca = ca.cer in the section",
                      "[source \"%s\"] ca is not set: no certificate or CRL can be trusted", sname);
        check_blob_ca_hint(l, s);
        return NULL;
    }
    if (ssync_trust_load(s->ca.v, s->ca.n, &t, &e) != SSYNC_OK) {
        cli_check_add(l, CHECK_FAIL, name, "on the CA: certutil -ca.cert ca.cer", "%s", e.msg);
        return NULL;
    }
    cli_check_add(l, CHECK_OK, name, NULL, "%zu trusted CA certificate%s", ssync_trust_count(t),
                  ssync_trust_count(t) == 1 ? "" : "s");
    return t;
}

/* The source's own KRA keys (kra_key); *own NULL when it takes [kra]'s. */
static void source_kras(struct check_list *l, const char *prefix, const char *sname,
                        const ssync_source_cfg *s, const ssync_kra_set *global, ssync_kra_set **own)
{
    char name[96];
    snprintf(name, sizeof name, "%skra", prefix);
    *own = NULL;
    ssync_error e = {0};
    if (s->kra.key.n > 0) {
        if (ssync_kra_set_load(&s->kra, "kra_password_file", NULL, NULL, own, &e) != SSYNC_OK)
            cli_check_add(l, CHECK_FAIL, name,
                          "check kra_key and kra_password_file (or kra_password_env)",
                          "kra_key: %s", e.msg);
        else
            cli_check_add(l, CHECK_OK, name, NULL, "%zu KRA key%s of its own open",
                          ssync_kra_set_count(*own), ssync_kra_set_count(*own) == 1 ? "" : "s");
    } else if (!global && s->type != SSYNC_SOURCE_PFX) {
        cli_check_add(l, CHECK_FAIL, name, "set [kra] key, or kra_key in the section",
                      "no KRA key: [kra] key is not set and [source \"%s\"] has no kra_key", sname);
    }
}

void check_named_sources(struct check_list *l, const ssync_config *cfg)
{
    ssync_kra_set *global = NULL;
    if (cfg->kra.key.n > 0)
        check_kras(l, cfg, &global);
    for (size_t i = 0; i < ssync_config_source_count(cfg); i++) {
        const ssync_source_cfg *s = ssync_config_source_at(cfg, i);
        const char *sname = ssync_source_name(s);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "source \"%s\": ", sname);
        ssync_trust *trust = source_ca(l, prefix, sname, s);
        ssync_kra_set *own = NULL;
        source_kras(l, prefix, sname, s, global, &own);
        check_crl_list(l, prefix, s, trust);
        check_one_source(l, prefix, s, own ? own : global, trust);
        ssync_kra_set_free(own);
        ssync_trust_free(trust);
    }
    ssync_kra_set_free(global);
}
