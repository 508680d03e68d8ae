/* The CA's signature on a recovery blob (see blob.h): [MS-CSRA] 3.1.4.2.9 (GetArchivedKey's
 * SignedData, signed by the CA), RFC 5652 5.6 (signature verification), OpenSSL's CMS_verify and
 * PKCS7_verify. */
#include "recover/blob.h"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>

/* Each signer of a verified signature must chain to the anchors. */
static ssync_code check_signers(STACK_OF(X509) * signers, const ssync_trust *trust,
                                ssync_error *err)
{
    if (!signers || sk_X509_num(signers) == 0)
        return ssync_fail(err, SSYNC_ERR_BLOB_SIGNATURE, "no signer certificate");
    for (int i = 0; i < sk_X509_num(signers); i++) {
        ssync_code rc = ssync_trust_verify_signer(trust, sk_X509_value(signers, i), err);
        if (rc != SSYNC_OK)
            return rc;
    }
    return SSYNC_OK;
}

/* A SignedData OpenSSL's CMS parser refuses but PKCS#7's reads (see blob.c parse_pkcs7). */
static ssync_code verify_pkcs7(const unsigned char *der, size_t len, const ssync_trust *trust,
                               ssync_error *err)
{
    const unsigned char *q = der;
    PKCS7 *p7 = d2i_PKCS7(NULL, &q, (long)len);
    if (!p7 || !PKCS7_type_is_signed(p7)) {
        PKCS7_free(p7);
        ERR_clear_error();
        return SSYNC_OK; /* not a SignedData: nothing signed (the blob parser judges the rest) */
    }
    ssync_code rc = SSYNC_OK;
    if (sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7)) > 0) {
        /* PKCS7_NOVERIFY: the signature alone; the signer is judged against the anchors */
        if (PKCS7_verify(p7, NULL, NULL, NULL, NULL, PKCS7_NOVERIFY | PKCS7_BINARY) != 1)
            rc = ssync_fail_ssl(err, SSYNC_ERR_BLOB_SIGNATURE, "the signature does not verify");
        STACK_OF(X509) *signers = rc == SSYNC_OK ? PKCS7_get0_signers(p7, NULL, 0) : NULL;
        if (rc == SSYNC_OK)
            rc = check_signers(signers, trust, err);
        sk_X509_free(signers);
    }
    PKCS7_free(p7);
    ERR_clear_error();
    return rc;
}

ssync_code ssync_blob_verify_signature(const unsigned char *data, size_t len,
                                       const ssync_trust *trust, ssync_error *err)
{
    ssync_buf der = {0};
    ssync_code rc = ssync_blob_to_der(data, len, &der, err);
    if (rc != SSYNC_OK)
        return rc;
    const unsigned char *q = der.data;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &q, (long)der.len);
    if (!cms) {
        ERR_clear_error();
        rc = verify_pkcs7(der.data, der.len, trust, err);
    } else if (OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed &&
               sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) > 0) {
        /* CMS_NO_SIGNER_CERT_VERIFY: the signature alone; the signer is judged against the
         * anchors below (at its own notBefore, as the user certificates) */
        if (CMS_verify(cms, NULL, NULL, NULL, NULL, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1)
            rc = ssync_fail_ssl(err, SSYNC_ERR_BLOB_SIGNATURE, "the signature does not verify");
        STACK_OF(X509) *signers = rc == SSYNC_OK ? CMS_get0_signers(cms) : NULL;
        if (rc == SSYNC_OK)
            rc = check_signers(signers, trust, err);
        sk_X509_free(signers);
    }
    CMS_ContentInfo_free(cms);
    ssync_buf_free(&der);
    ERR_clear_error();
    return rc;
}
