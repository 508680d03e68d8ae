/* The pfx source: a directory of PKCS#12 files with a manifest, for keys generated centrally
 * (not archived on the CA). Each file is opened to learn its certificate; the key itself is
 * read again only at upload time and never kept in the plan. */
#ifndef SSYNC_SOURCE_PFX_H
#define SSYNC_SOURCE_PFX_H

#include "config.h"
#include "errors.h"
#include "exporter.h"
#include "plan.h"

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

#endif
