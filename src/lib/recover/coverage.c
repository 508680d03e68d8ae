/* KRA coverage of an archived key (recover/coverage.h): its CMS recipients (RFC 5652 6.2.1,
 * KeyTransRecipientInfo rid: issuerAndSerialNumber or subjectKeyIdentifier), matched against the
 * held KRA certificates; then one decryption with the held key, as a recovery would do it. */
#include "recover/coverage.h"

#include "common/fileio.h"
#include "recover/blob.h"
#include "recover/recover.h"

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

static void recipient(CMS_RecipientInfo *ri, const ssync_kra_set *kras, ssync_kra_recipient *r)
{
    memset(r, 0, sizeof *r);
    ASN1_OCTET_STRING *keyid = NULL;
    X509_NAME *issuer = NULL;
    ASN1_INTEGER *serial = NULL;
    if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS) {
        snprintf(r->issuer, sizeof r->issuer, "a recipient of type %d (not key transport)",
                 CMS_RecipientInfo_type(ri));
        return;
    }
    if (!CMS_RecipientInfo_ktri_get0_signer_id(ri, &keyid, &issuer, &serial)) {
        snprintf(r->issuer, sizeof r->issuer, "an unreadable recipient");
        return;
    }
    if (keyid) {
        int n = ASN1_STRING_length(keyid) > 64 ? 64 : ASN1_STRING_length(keyid);
        int o = snprintf(r->issuer, sizeof r->issuer, "subject key identifier ");
        for (int i = 0; i < n && o + 3 < (int)sizeof r->issuer; i++, o += 2)
            snprintf(r->issuer + o, 3, "%02X", ASN1_STRING_get0_data(keyid)[i]);
    } else {
        BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
        char *hex = bn ? BN_bn2hex(bn) : NULL;
        snprintf(r->serial, sizeof r->serial, "%s", hex ? hex : "?");
        OPENSSL_free(hex);
        BN_free(bn);
        BIO *bio = BIO_new(BIO_s_mem());
        if (bio &&
            X509_NAME_print_ex(bio, issuer, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
            int n = BIO_read(bio, r->issuer, (int)sizeof r->issuer - 1);
            r->issuer[n > 0 ? n : 0] = '\0';
        }
        BIO_free(bio);
    }
    for (size_t k = 0; kras && k < ssync_kra_set_count(kras) && !r->held; k++) {
        EVP_PKEY *key;
        X509 *cert;
        if (ssync_kra_set_get(kras, k, &key, &cert) &&
            CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0)
            r->held = 1;
    }
}

ssync_code ssync_kra_coverage_check(const ssync_kra_set *kras, const unsigned char *raw, size_t len,
                                    ssync_kra_coverage *out, ssync_error *err)
{
    if (!raw || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_kra_coverage_check");
    memset(out, 0, sizeof *out);
    ssync_blob blob;
    ssync_code rc = ssync_blob_open(raw, len, &blob, err);
    if (rc != SSYNC_OK)
        return rc;
    if (OBJ_obj2nid(CMS_get0_type(blob.envelope)) != NID_pkcs7_enveloped) {
        ssync_blob_clear(&blob);
        return ssync_fail(err, SSYNC_ERR_BLOB_TYPE, "the archived key is not an EnvelopedData");
    }
    STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(blob.envelope);
    int n = sk_CMS_RecipientInfo_num(ris);
    out->total = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < n; i++) {
        ssync_kra_recipient r;
        recipient(sk_CMS_RecipientInfo_value(ris, i), kras, &r);
        out->held |= r.held;
        if (out->n < SSYNC_COVERAGE_MAX_RECIPIENTS)
            out->r[out->n++] = r;
    }
    ERR_clear_error();
    if (out->held) {
        ssync_buf plain = {0};
        if (ssync_recover_decrypt(kras, blob.envelope, &plain, &out->why) == SSYNC_OK)
            out->opens = 1;
        ssync_buf_free_secret(&plain);
    }
    ssync_blob_clear(&blob);
    return SSYNC_OK;
}
