/* The pfx source's manifest (docs/formats.md "pfx source manifest"): a CSV with a header line
 * naming, per line, a PKCS#12 file, the file holding its password, and optionally the user. */
#ifndef SSYNC_PFX_MANIFEST_H
#define SSYNC_PFX_MANIFEST_H

#include "common/errors.h"
#include "source/source.h"

#include <stddef.h>

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
ssync_code ssync_pfx_manifest_load(const ssync_source_cfg *cfg, ssync_pfx_manifest *out,
                                   ssync_error *err);
/* The entry whose resolved file is file, or NULL. */
const ssync_pfx_manifest_entry *ssync_pfx_manifest_find(const ssync_pfx_manifest *m,
                                                        const char *file);
void ssync_pfx_manifest_free(ssync_pfx_manifest *m);

#endif
