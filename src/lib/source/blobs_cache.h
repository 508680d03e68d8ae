/* The plan's scan cache: an item's certificate facts as a JSON text (public facts only) for the
 * journal's scan_cache table, so that a re-sync reads no unchanged blob. The revocation state is
 * not cached: it is computed again from the issuer and serial number against the CRLs of each
 * run. */
#ifndef SSYNC_SCAN_CACHE_H
#define SSYNC_SCAN_CACHE_H

#include "recover/kra.h"
#include "source/item.h"

/* The facts of a recovered-or-peeked item (code SSYNC_OK) and its certificate's issuer;
 * malloc'd JSON, NULL on memory. */
char *ssync_scan_facts_encode(const ssync_plan_item *it, X509 *cert);
/* Fills it's certificate facts from a cached text, revocation against crls. 0 when the text
 * is not usable (the caller reads the blob instead). */
int ssync_scan_facts_decode(const char *text, ssync_plan_item *it, X509_CRL *const *crls,
                            size_t n_crls);
/* The KRA set's identity: the SHA-1 thumbprints of its certificates, in order (out 41 * n). */
char *ssync_scan_kra_id(const ssync_kra_set *kras);

#endif
