/* The CA's signature on a recovery blob (see blob.h): [MS-CSRA] 3.1.4.2.9 (GetArchivedKey's
 * SignedData, signed by the CA), RFC 5652 5.6 (signature verification), OpenSSL's CMS_verify and
 * PKCS7_verify. */
#include "recover/blob.h"

#include "pki/trust.h"

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

/* The common case at a fraction of the cost: the SignedData without its certificates, its
 * signer found among the anchors (already decoded, once) by CMS_verify itself. 1 when that
 * settled it (*rc set); 0 when the signer is not an anchor (an intermediate signer: the blob's
 * own certificates are needed) or the signature does not verify: the full check below then
 * decides, and explains. */
static int verify_by_anchor(const ssync_buf *der, const ssync_trust *trust, ssync_code *rc,
                            ssync_error *err)
{
    unsigned char *slim = NULL;
    size_t slim_len = 0;
    STACK_OF(X509) *anchors = ssync_trust_anchors(trust);
    if (!anchors || !ssync_blob_der_without_certs(der->data, der->len, &slim, &slim_len))
        return 0;
    const unsigned char *q = slim;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &q, (long)slim_len);
    int settled = 0;
    if (cms && OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed) {
        if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) == 0) {
            *rc = SSYNC_OK; /* nothing signed */
            settled = 1;
        } else if (CMS_verify(cms, anchors, NULL, NULL, NULL,
                              CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) == 1) {
            STACK_OF(X509) *signers = CMS_get0_signers(cms);
            *rc = check_signers(signers, trust, err);
            sk_X509_free(signers);
            settled = 1;
        }
    }
    CMS_ContentInfo_free(cms);
    OPENSSL_free(slim);
    ERR_clear_error();
    return settled;
}

ssync_code ssync_blob_verify_signature(const unsigned char *data, size_t len,
                                       const ssync_trust *trust, ssync_error *err)
{
    ssync_buf der = {0};
    ssync_code rc = ssync_blob_to_der(data, len, &der, err);
    if (rc != SSYNC_OK)
        return rc;
    if (verify_by_anchor(&der, trust, &rc, err)) {
        ssync_buf_free(&der);
        return rc;
    }
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
