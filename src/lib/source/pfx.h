/* The pfx source: a directory of PKCS#12 files with a manifest, for keys generated centrally
 * (not archived on the CA). Each file is opened to learn its certificate; the key itself is
 * read again only at upload time and never kept in the plan. */
#ifndef SSYNC_SOURCE_PFX_H
#define SSYNC_SOURCE_PFX_H

#include "sync/config.h"
#include "common/errors.h"
#include "record/export.h"
#include "sync/plan.h"

#include <openssl/x509.h>

/* Appends one item (kind SSYNC_ITEM_PFX) per manifest entry to out, in manifest order; an entry
 * that cannot be opened becomes an item with code != SSYNC_OK (not a fatal error). A missing or
 * malformed manifest is fatal (the error names the file and line). */
ssync_code ssync_pfx_source_scan(const ssync_config *cfg, X509_CRL *const *crls, size_t n_crls,
                                 ssync_plan *out, ssync_error *err);
/* Builds the Graph record of a pfx item (the PKCS#12 is opened again, re-packed under a fresh
 * password per ex->profile, the password encrypted to ex->connector). upn: the user to name. */
ssync_code ssync_pfx_source_export(const ssync_exporter *ex, const ssync_config *cfg,
                                   const ssync_plan_item *it, const char *upn,
                                   ssync_export_result *out, ssync_error *err);

/* ---- the manifest (docs/formats.md "pfx source manifest"); used by the two calls above ---- */

typedef struct ssync_pfx_manifest_entry {
    char *file;          /* the PKCS#12, relative paths resolved against the manifest's dir */
    char *password_file; /* the file holding its password, resolved likewise */
    char *upn;           /* userPrincipalName column; NULL when empty (the certificate's user) */
    size_t line;         /* line in the manifest, for messages */
} ssync_pfx_manifest_entry;

typedef struct ssync_pfx_manifest {
    char *path; /* the manifest file */
    ssync_pfx_manifest_entry *v;
    size_t n, cap;
    size_t *by_file; /* indices into v sorted by file, for lookups */
} ssync_pfx_manifest;

/* Parses manifest text; path names it in messages and anchors relative paths. Malformed input
 * fails with SSYNC_ERR_CONFIG and "PATH:LINE: reason". */
ssync_code ssync_pfx_manifest_parse(const char *text, size_t len, const char *path,
                                    ssync_pfx_manifest *out, ssync_error *err);
/* Reads [source] manifest (default: [source] path + "/manifest.csv") and parses it. */
ssync_code ssync_pfx_manifest_load(const ssync_config *cfg, ssync_pfx_manifest *out,
                                   ssync_error *err);
/* The entry whose resolved file is file, or NULL. */
const ssync_pfx_manifest_entry *ssync_pfx_manifest_find(const ssync_pfx_manifest *m,
                                                        const char *file);
void ssync_pfx_manifest_free(ssync_pfx_manifest *m);
/* ssync_pfx_source_export with a manifest loaded once (a sync exports many items). */
ssync_code ssync_pfx_manifest_export(const ssync_exporter *ex, const ssync_pfx_manifest *m,
                                     const ssync_plan_item *it, const char *upn,
                                     ssync_export_result *out, ssync_error *err);

#endif
