/* smimesync check: the checks themselves, in two groups: the local ones (configuration, KRA keys,
 * connector key, source, CRLs, journal) and Intune's (token, permissions). Each adds its results
 * to a check list (check_list.h). */
#ifndef SSYNC_CLI_CHECK_H
#define SSYNC_CLI_CHECK_H

#include "check_list.h"

#include "sync/config.h"
#include "pki/trust.h"
#include "recover/kra.h"

/* Local checks. kras (out) holds every KRA key that loaded, for the sample recovery. */
void check_kras(struct check_list *l, const ssync_config *cfg, ssync_kra_set **kras);
void check_connector(struct check_list *l, const ssync_config *cfg);
/* [source] ca: the trust anchors (NULL when unset or unreadable: a FAIL line says how to get
 * them); the caller frees them. */
ssync_trust *check_ca(struct check_list *l, const ssync_config *cfg);
/* Without ca: the CA certificates a blob source's first blob carries, each a WARN line with its
 * SHA-256 fingerprint to compare once and the command that writes it out (nothing is trusted). */
void check_blob_ca_hint(struct check_list *l, const ssync_source_cfg *src);
void check_source(struct check_list *l, const ssync_config *cfg, const ssync_kra_set *kras,
                  const ssync_trust *trust);
/* Each CRL loads, is current and is signed by its issuer in trust (else FAIL: it is ignored). */
void check_crls(struct check_list *l, const ssync_config *cfg, const ssync_trust *trust);
void check_state(struct check_list *l, const ssync_config *cfg);
/* check_source and check_crls for one source section; prefix starts each check's name
 * ("" or "source \"NAME\": "). */
void check_one_source(struct check_list *l, const char *prefix, const ssync_source_cfg *src,
                      const ssync_kra_set *kras, const ssync_trust *trust);
void check_crl_list(struct check_list *l, const char *prefix, const ssync_source_cfg *src,
                    const ssync_trust *trust);
/* A configuration of [source "NAME"] sections: [kra] when set, then each source's ca, own KRA
 * keys, CRLs, source and sample recovery, every line named after its source. */
void check_named_sources(struct check_list *l, const ssync_config *cfg);
/* Token and Graph permissions (the program has called curl_global_init), then check_delivery. */
void check_intune(struct check_list *l, const ssync_config *cfg);
/* The Intune side of delivery (check_delivery.c): profiles per platform, assignments, trusted
 * roots, Outlook's S/MIME switch, connectors, the app certificate's expiry. */
struct ssync_graph;
void check_delivery(struct check_list *l, const ssync_config *cfg, struct ssync_graph *g);

#endif
