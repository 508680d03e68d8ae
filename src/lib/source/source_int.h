/* What a source implements (one table of functions per source, as OpenSSH's sshkey_impl or
 * curl's Curl_ssl); source.c dispatches to it. Only src/lib/source/ includes this. */
#ifndef SSYNC_SOURCE_INT_H
#define SSYNC_SOURCE_INT_H

#include "source/source.h"

typedef struct ssync_source_ops {
    const char *name; /* the [source] type: "blobs", "edb", "pfx" */
    const char *hint; /* ssync_source_hint */
    /* optional: what the source reads once per run (pfx: the manifest) */
    ssync_code (*open)(ssync_source *s, ssync_error *err);
    ssync_code (*scan)(ssync_source *s, const ssync_plan_target *t, ssync_plan *out,
                       ssync_error *err);
    /* thread-safe: may run on several workers at once */
    ssync_code (*export)(ssync_source *s, const ssync_exporter *ex, const ssync_plan_item *it,
                         const char *upn, ssync_export_result *out, ssync_error *err);
    ssync_code (*check)(ssync_source *s, ssync_source_check_result *out, ssync_error *err);
    /* optional: NULL means the source cannot be searched */
    int (*find)(ssync_source *s, const char *const *tp, size_t n, int include_expired,
                char **where);
    /* optional */
    ssync_code (*commit)(ssync_source *s, const ssync_plan *p, ssync_error *err);
    /* optional: frees impl */
    void (*close)(ssync_source *s);
} ssync_source_ops;

struct ssync_source {
    const ssync_source_ops *ops;
    const ssync_source_cfg *cfg;
    ssync_source_env env; /* env.crls: the source's own references (crls below) */
    X509_CRL **crls;
    void *impl; /* the source's state */
};

/* The certificate facts of an item from cert, once cert chains to env->trust (else
 * SSYNC_ERR_CERT_UNTRUSTED and the item keeps no facts): every source's one way to fill an item. */
ssync_code ssync_source_set_cert(const ssync_source_env *env, ssync_plan_item *it, X509 *cert,
                                 ssync_error *err);

extern const ssync_source_ops ssync_source_blobs, ssync_source_edb, ssync_source_pfx;

/* "NAME: recovered the key of SUBJECT (USER)" into out, from the recovered certificate (or the
 * failure to read it) for check's sample; user replaces the certificate's when not NULL. */
void ssync_source_sample_ok(ssync_source_check_result *out, const char *name, const char *verb,
                            X509 *cert, const char *user);
/* The sample failed: "NAME: reason" and the code. */
void ssync_source_sample_fail(ssync_source_check_result *out, const char *name,
                              const ssync_error *e);

#endif
