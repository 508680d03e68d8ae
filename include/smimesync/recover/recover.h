/* Recovery of one archived key: decrypt the EnvelopedData with the KRA named by one of its
 * recipients (issuer + serial; the certificate is always handed to CMS so a wrong key fails
 * loudly instead of yielding random bytes), parse the key blob, and find the user certificate
 * whose public key matches the recovered key (never by position). */
#ifndef SSYNC_RECOVER_H
#define SSYNC_RECOVER_H

#include "recover/blob.h"
#include "common/fileio.h"
#include "recover/kra.h"

typedef struct ssync_recovered {
    X509 *cert;    /* the user certificate: its public key matches key */
    EVP_PKEY *key; /* the recovered private key */
    STACK_OF(X509) *
        chain;      /* the other certificates of the blob (CA chain); never NULL on success */
    X509 *kra_cert; /* the KRA certificate whose key opened it (borrowed from the KRA set) */
} ssync_recovered;

/* The serial (uppercase hex) of the KRA that opened r, for the audit trail; "" when none. */
void ssync_recovered_kra_serial(const ssync_recovered *r, char out[80]);

/* Decrypt the envelope to the plaintext key blob (a secret: free with ssync_buf_free_secret).
 * When no held KRA matches, the error lists the serial numbers of the KRAs the blob needs. */
ssync_code ssync_recover_decrypt(const ssync_kra_set *kras, CMS_ContentInfo *envelope,
                                 ssync_buf *plain, ssync_error *err);

/* The whole recovery of one blob. cert_hint: the user certificate when the input is a bare
 * RawArchivedKey (may be NULL otherwise; if given it is considered alongside the blob's certs). */
ssync_code ssync_recover_blob(const ssync_kra_set *kras, const unsigned char *data, size_t len,
                              X509 *cert_hint, ssync_recovered *out, ssync_error *err);
void ssync_recovered_clear(ssync_recovered *r);

/* As ssync_recover_blob; with SSYNC_RECOVER_NO_CHAIN the chain stays empty and the blob's other
 * certificates are never decoded (a PKCS#12 without the chain needs only the user's). */
#define SSYNC_RECOVER_NO_CHAIN 1u
ssync_code ssync_recover_blob_ex(const ssync_kra_set *kras, const unsigned char *data, size_t len,
                                 X509 *cert_hint, unsigned flags, ssync_recovered *out,
                                 ssync_error *err);

/* What a plan needs without the KRA's private-key operation: decodes the blob, checks that a
 * held KRA is among its recipients (SSYNC_ERR_KRA_NOT_HELD as ssync_recover_decrypt says it
 * otherwise) and returns the user certificate (*cert_out, up-referenced) when the blob carries
 * exactly one end-entity certificate; *cert_out NULL then means only ssync_recover_blob can
 * tell. The upload still recovers and matches the key: a blob that does not decrypt fails
 * there. */
ssync_code ssync_recover_peek(const ssync_kra_set *kras, const unsigned char *data, size_t len,
                              X509 **cert_out, ssync_error *err);

/* CA certificates already decoded, kept by their encoding: every blob of a CA carries the same
 * CA certificates, and decoding one costs more than the rest of a peek. Zero-initialise; free
 * with ssync_cert_memo_clear. */
#define SSYNC_CERT_MEMO 8
typedef struct ssync_cert_memo {
    int n;
    struct {
        unsigned char *der;
        size_t len;
        X509 *x509;
    } e[SSYNC_CERT_MEMO];
} ssync_cert_memo;
void ssync_cert_memo_clear(ssync_cert_memo *m);

/* ssync_recover_peek with a memo (may be NULL) shared by the blobs of one scan. */
ssync_code ssync_recover_peek_memo(const ssync_kra_set *kras, const unsigned char *data, size_t len,
                                   ssync_cert_memo *memo, X509 **cert_out, ssync_error *err);

#endif
