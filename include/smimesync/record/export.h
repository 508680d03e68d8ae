/* One item through the whole core pipeline: recovery blob -> KRA decryption -> key blob -> user
 * certificate -> PKCS#12 under a fresh password -> password encrypted to the connector -> Graph
 * record. The exporter holds what is loaded once per run (KRA keys, connector key, options). */
#ifndef SSYNC_EXPORTER_H
#define SSYNC_EXPORTER_H

#include "pki/certinfo.h"
#include "connector/connector.h"
#include "recover/kra.h"
#include "pfx/pfx.h"
#include "record/record.h"

typedef struct ssync_exporter {
    const ssync_kra_set *kras; /* borrowed */
    EVP_PKEY *connector;       /* borrowed */
    ssync_pfx_profile profile;
    int include_chain;          /* 1: put the blob's CA certificates into the PKCS#12 */
    ssync_purpose both_purpose; /* intendedPurpose when keyUsage has both bits */
    ssync_record_opts record;
} ssync_exporter;

typedef struct ssync_export_result {
    ssync_certinfo info;
    json_t *record;      /* the POST body (holds the encrypted PKCS#12: no plaintext secret) */
    char kra_serial[80]; /* the KRA that opened the archived key (audit trail); "": none */
} ssync_export_result;

void ssync_exporter_init(ssync_exporter *ex);
/* upn: the user to name in the record; NULL takes the certificate's own (SAN UPN, else e-mail). */
ssync_code ssync_export_blob(const ssync_exporter *ex, const unsigned char *blob, size_t len,
                             const char *upn, ssync_export_result *out, ssync_error *err);
/* The tail every source shares: key + certificate -> PKCS#12 under a fresh password (per
 * ex->profile; chain is added when ex->include_chain, may be NULL) -> password encrypted to
 * ex->connector -> Graph record. upn as for ssync_export_blob. ex->kras is not used. */
ssync_code ssync_export_key(const ssync_exporter *ex, EVP_PKEY *key, X509 *cert,
                            STACK_OF(X509) * chain, const char *upn, ssync_export_result *out,
                            ssync_error *err);
void ssync_export_result_clear(ssync_export_result *r);

#endif
