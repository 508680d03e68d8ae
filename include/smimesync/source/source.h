/* The source of the certificates: recovery blobs (a folder of `certutil -getkey` files), the CA
 * database (.edb) or a PKCS#12 directory with a manifest. Everything above the sources (the plan,
 * the sync, the CLI) reaches them through this facade; each source implements the table of
 * source_int.h. */
#ifndef SSYNC_SOURCE_H
#define SSYNC_SOURCE_H

#include "common/cfg_list.h"
#include "common/errors.h"
#include "journal/journal.h"
#include "pki/trust.h"
#include "record/export.h"
#include "recover/kra.h"
#include "source/item.h"

#include <openssl/x509.h>
#include <stddef.h>

typedef enum ssync_source_type {
    SSYNC_SOURCE_BLOBS,
    SSYNC_SOURCE_EDB,
    SSYNC_SOURCE_PFX
} ssync_source_type;

/* A source's name: [source] is "default", [source "NAME"] is NAME (1 to SSYNC_SOURCE_NAME_MAX
 * of A-Z a-z 0-9 . _ -). */
#define SSYNC_SOURCE_NAME_MAX 32
#define SSYNC_SOURCE_DEFAULT_NAME "default"

/* The [source] section, or one [source "NAME"] section; ssync_config holds them. */
typedef struct ssync_source_cfg {
    char *name; /* SSYNC_SOURCE_DEFAULT_NAME or NAME: reports and markers name the source by it */
    ssync_source_type type;
    char *path;
    ssync_cfg_list ca;        /* trust anchors: the issuing CA certificates and their chain */
    ssync_cfg_list crl;       /* CRL files, DER or PEM */
    ssync_cfg_list templates; /* template OIDs or names to include (empty: all) */
    ssync_cfg_list eku;       /* required EKU OIDs (empty: emailProtection) */
    char *users_allow;        /* file: one UPN per line */
    char *users_deny;         /* file: one UPN per line */
    char *group;              /* Entra group object id (transitive members) */
    char *user_map;           /* CSV: certificate e-mail or UPN -> userPrincipalName */
    char *manifest;           /* pfx source: the manifest (default: manifest.csv in path) */
    char *requester; /* edb source: only requests of this $RequesterName ("DOMAIN\\user") */
    int incremental; /* edb source: only requests after the last one a sync completed */
    /* kra_key, kra_cert, kra_password_file, kra_password_env: this source's own KRA keys
     * (key.n == 0: the [kra] section's); the strings are owned by the configuration */
    ssync_kra_cfg kra;
} ssync_source_cfg;

typedef struct ssync_source ssync_source;

/* cfg's name, SSYNC_SOURCE_DEFAULT_NAME when it has none (a section filled by defaults alone). */
static inline const char *ssync_source_name(const ssync_source_cfg *cfg)
{
    return cfg && cfg->name ? cfg->name : SSYNC_SOURCE_DEFAULT_NAME;
}

/* What a run lends its source; every pointer must outlive the source (the CRLs excepted: the
 * source keeps its own references). */
typedef struct ssync_source_env {
    const ssync_kra_set *kras; /* blobs and edb: peek and recover at scan, the sample in check;
                                  may be NULL (check then skips the sample, scan fails items) */
    X509_CRL *const *crls;     /* revocation of the scanned certificates (and find) */
    size_t n_crls;
    ssync_journal *journal; /* may be NULL: no blob scan cache, no edb incremental marker */
    /* the trust anchors ([source] ca): a certificate that does not chain to them fails its
     * item (SSYNC_ERR_CERT_UNTRUSTED) and never takes part in a decision; a CRL they did not
     * sign is dropped at open. NULL: scan refuses to run, no CRL is kept. */
    const ssync_trust *trust;
} ssync_source_env;

/* The sample recovery of `check`: one item of the source read to the key. */
typedef enum ssync_source_sample {
    SSYNC_SAMPLE_NONE,    /* nothing to try: the source is empty */
    SSYNC_SAMPLE_SKIPPED, /* not tried (text says why) */
    SSYNC_SAMPLE_OK,      /* the key was recovered (or opened) */
    SSYNC_SAMPLE_FAILED,  /* sample_code and text say why */
} ssync_source_sample;

typedef struct ssync_source_check_result {
    size_t count;           /* blob files, manifest entries, CA database requests */
    const char *empty_hint; /* what to do when count is 0 (static text); NULL when none */
    char summary[4352];     /* the source and its count in words ("DIR: 3 recovery blobs") */
    ssync_source_sample sample;
    ssync_code sample_code; /* SSYNC_OK, or why the sample failed */
    char sample_text[1024]; /* "NAME: recovered the key of SUBJECT (USER)", "NAME: reason" */
} ssync_source_check_result;

/* Opens the source of cfg ([source] type) once for a run: the pfx manifest is read and parsed
 * here. cfg, env->kras, env->journal and env->trust must outlive the source. Only the CRLs of
 * env->crls that env->trust verifies are kept (ssync_trust_verify_crl): the caller reports the
 * others. */
ssync_code ssync_source_open(const ssync_source_cfg *cfg, const ssync_source_env *env,
                             ssync_source **out, ssync_error *err);
/* The section the source was opened with. */
const ssync_source_cfg *ssync_source_config(const ssync_source *s);
/* Appends one item per certificate of the source to out (the certificate facts, revocation from
 * env.crls): blobs in file-name order with the request id of the file name, pfx in manifest
 * order, edb in request id order. An item that cannot be read has code != SSYNC_OK (not a fatal
 * error; a certificate that does not chain to env.trust is such an item, with no certificate
 * facts). Refuses to run without env.trust (SSYNC_ERR_CONFIG). A target's request id may narrow the
 * scan (blobs skip the other files, edb seeks the row); applying the target and the filters is the
 * caller's (ssync_plan_scan). */
ssync_code ssync_source_scan(ssync_source *s, const ssync_plan_target *t, ssync_plan *out,
                             ssync_error *err);
/* 1 when it was scanned by s (its source name is s's; an item without one belongs to any). */
int ssync_source_owns(const ssync_source *s, const ssync_plan_item *it);
/* Builds the Graph record of an item this source scanned: the key is read again (blob file,
 * PKCS#12, or the .edb row by request id). upn: the user to name. pfx and edb refuse an item
 * whose certificate changed since the plan; the caller compares out->info.thumbprint with the
 * item's in every case. May run on several worker threads at once on one source: blobs keep no
 * state, the pfx manifest is read-only after open, edb opens a database handle per call. */
ssync_code ssync_source_export(ssync_source *s, const ssync_exporter *ex, const ssync_plan_item *it,
                               const char *upn, ssync_export_result *out, ssync_error *err);
/* For `smimesync check`: counts the source's items and tries one sample recovery. An error
 * means the source cannot be read (see ssync_source_hint). */
ssync_code ssync_source_check(ssync_source *s, ssync_source_check_result *out, ssync_error *err);
/* For remove's warning "the next sync uploads it again": where[i] becomes where the source still
 * holds the certificate of thumbprints[i] (lowercase hex; malloc'd), when neither revoked by
 * env.crls nor expired while include_expired is 0; else NULL. Filters and keep_newest are not
 * applied. Returns 1 when searched, 0 when this source cannot be searched cheaply (then every
 * where[i] is NULL). */
int ssync_source_find(ssync_source *s, const char *const *thumbprints, size_t n,
                      int include_expired, char **where);
/* After a sync without failures: remembers what the next run may skip (edb incremental: the
 * highest request id of p's items of this source, in env.journal, under a key of the source's
 * name). Does nothing for the other sources. */
ssync_code ssync_source_commit(ssync_source *s, const ssync_plan *p, ssync_error *err);
void ssync_source_close(ssync_source *s);

/* Why a scan refuses to run without [source] ca, and how to get the CA certificate. */
#define SSYNC_SOURCE_NO_CA                                                                         \
    "[source] ca is not set: name the issuing CA certificate (on the CA: certutil -ca.cert "       \
    "ca.cer); without it no certificate or CRL can be trusted"

/* What to check when a source of this type cannot be opened or read (static text); NULL when
 * there is nothing specific to say. */
const char *ssync_source_hint(ssync_source_type type);

#endif
