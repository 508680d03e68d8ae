/* Certificate revocation lists (see crl.h). */
#include "pki/crl.h"

#include "common/fileio.h"

#include <openssl/err.h>
#include <openssl/pem.h>

ssync_code ssync_crl_load(const char *path, X509_CRL **out, ssync_error *err)
{
    *out = NULL;
    ssync_buf b = {0};
    ssync_code rc = ssync_read_trusted_file(path, SSYNC_MAX_INPUT_FILE, "CRL", &b, err);
    if (rc != SSYNC_OK)
        return rc;
    const unsigned char *p = b.data;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)b.len);
    if (!crl) {
        BIO *bio = BIO_new_mem_buf(b.data, (int)b.len);
        if (bio)
            crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
        BIO_free(bio);
    }
    ssync_buf_free(&b);
    if (!crl)
        return ssync_fail_ssl(err, SSYNC_ERR_CERT_PARSE, "%s: not a CRL (DER or PEM)", path);
    ERR_clear_error();
    *out = crl;
    return SSYNC_OK;
}
ssync_code ssync_crl_load_all(char *const *paths, size_t n, X509_CRL **crls, ssync_error *err)
{
    for (size_t i = 0; i < n; i++) {
        ssync_code rc = ssync_crl_load(paths[i], &crls[i], err);
        if (rc != SSYNC_OK) {
            ssync_crl_free_all(crls, i);
            return rc;
        }
    }
    return SSYNC_OK;
}

void ssync_crl_free_all(X509_CRL **crls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        X509_CRL_free(crls[i]);
        crls[i] = NULL;
    }
}

int ssync_crl_revoked(X509_CRL *const *crls, size_t n, const X509_NAME *issuer,
                      const ASN1_INTEGER *serial)
{
    for (size_t i = 0; issuer && serial && i < n; i++) {
        X509_REVOKED *r = NULL;
        if (X509_NAME_cmp(X509_CRL_get_issuer(crls[i]), issuer) == 0 &&
            X509_CRL_get0_by_serial(crls[i], &r, serial) == 1)
            return 1;
    }
    return 0;
}

int ssync_crl_revoked_cert(X509 *cert, X509_CRL *const *crls, size_t n)
{
    return ssync_crl_revoked(crls, n, X509_get_issuer_name(cert), X509_get0_serialNumber(cert));
}
