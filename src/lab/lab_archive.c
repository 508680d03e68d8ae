/* smimesync-lab key archival: the archived key exactly as AD CS stores it and the recovery blob as
 * certutil -getkey returns it ([MS-CSRA] 3.1.4.2.9, [MS-WCCE] 2.2.2.9). */
#include "lab.h"

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

int lab_keyblob(EVP_PKEY *k, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    BIO *b = BIO_new(BIO_s_secmem());
    if (!b || i2b_PrivateKey_bio(b, k) <= 0) {
        BIO_free(b);
        lab_err_ssl("cannot write the key as a PRIVATEKEYBLOB");
        return -1;
    }
    unsigned char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    int bits = EVP_PKEY_get_bits(k);
    /* BLOBHEADER { bType 07, bVersion 02, reserved 0000, aiKeyAlg }, RSAPUBKEY { "RSA2", bitlen,
     * pubexp }, then 9 half-modulus-sized little-endian integers (Win32 docs: Base Provider Key
     * BLOBs) */
    static const unsigned char head[4] = {0x07, 0x02, 0x00, 0x00};
    if (n != 20 + 9 * (long)bits / 16 || memcmp(p, head, 4) != 0 || memcmp(p + 8, "RSA2", 4) != 0) {
        BIO_free(b);
        lab_err("OpenSSL wrote an unexpected PRIVATEKEYBLOB (%ld bytes)", n);
        return -1;
    }
    unsigned char *blob = OPENSSL_secure_malloc((size_t)n);
    if (!blob) {
        BIO_free(b);
        lab_err("out of memory");
        return -1;
    }
    memcpy(blob, p, (size_t)n);
    OPENSSL_cleanse(p, (size_t)n);
    BIO_free(b);
    /* the CA archives exchange keys: aiKeyAlg CALG_RSA_KEYX (0x0000A400, little-endian). OpenSSL
     * 3.0 writes that already; set it explicitly so the format does not depend on it. */
    blob[4] = 0x00;
    blob[5] = 0xa4;
    blob[6] = 0x00;
    blob[7] = 0x00;
    *out = blob;
    *len = (size_t)n;
    return 0;
}

int lab_recovery_blob(const lab *l, X509 *user_cert, const unsigned char *keyblob, size_t bloblen,
                      unsigned char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    int rc = -1;
    unsigned char *env_der = NULL, *sd_der = NULL;
    CMS_ContentInfo *env = NULL, *sd = NULL;
    STACK_OF(X509) *certs = NULL;
    BIO *sd_in = NULL;

    /* RawArchivedKey: EnvelopedData, one KeyTransRecipientInfo per KRA (issuer and serial,
     * RSA PKCS#1 v1.5), content = the PRIVATEKEYBLOB, 3DES-CBC (Microsoft's Windows Server 2003
     * key archival white paper) or AES-256-CBC (newer CAs may use it) */
    BIO *env_in = BIO_new_mem_buf(keyblob, (int)bloblen);
    if (!env_in || !(env = CMS_encrypt(l->kra_stack, env_in, l->cipher, CMS_BINARY))) {
        lab_err_ssl("cannot envelope the archived key");
        goto done;
    }
    int env_len = i2d_CMS_ContentInfo(env, &env_der);
    if (env_len <= 0) {
        lab_err_ssl("cannot encode the archived key");
        goto done;
    }
    /* GetArchivedKey: SignedData by the CA whose encapsulated content (id-data) is the
     * RawArchivedKey bytes ([MS-CSRA] 3.1.4.2.9), carrying the CA and the user certificate
     * (id-data and this certificate set are the lab's reading, not checked on a real CA) */
    sd_in = BIO_new_mem_buf(env_der, env_len);
    certs = sk_X509_new_null();
    if (!sd_in || !certs || !sk_X509_push(certs, user_cert) ||
        !(sd = CMS_sign(l->ca, l->ca_key, certs, sd_in, CMS_BINARY | CMS_NOSMIMECAP))) {
        lab_err_ssl("cannot sign the recovery blob");
        goto done;
    }
    int sd_len = i2d_CMS_ContentInfo(sd, &sd_der);
    if (sd_len <= 0) {
        lab_err_ssl("cannot encode the recovery blob");
        goto done;
    }
    *out = sd_der;
    *outlen = (size_t)sd_len;
    sd_der = NULL;
    rc = 0;
done:
    OPENSSL_free(sd_der);
    OPENSSL_free(env_der);
    CMS_ContentInfo_free(sd);
    CMS_ContentInfo_free(env);
    sk_X509_free(certs);
    BIO_free(sd_in);
    BIO_free(env_in);
    return rc;
}

const char *lab_enc_name(lab_enc enc)
{
    switch (enc) {
    case LAB_ENC_DER:
        return "der";
    case LAB_ENC_BASE64:
        return "base64";
    case LAB_ENC_BASE64HEADER:
        return "base64header";
    }
    return "?";
}

int lab_encode(lab_enc enc, const unsigned char *der, size_t len, unsigned char **out,
               size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (enc == LAB_ENC_DER) {
        unsigned char *p = malloc(len ? len : 1);
        if (!p) {
            lab_err("out of memory");
            return -1;
        }
        memcpy(p, der, len);
        *out = p;
        *outlen = len;
        return 0;
    }
    /* CryptBinaryToString as certutil uses it: 64 characters a line, CRLF after every line;
     * CR_OUT_BASE64HEADER frames it as a certificate even though it is PKCS#7 */
    static const char begin[] = "-----BEGIN CERTIFICATE-----\r\n";
    static const char end[] = "-----END CERTIFICATE-----\r\n";
    size_t b64len = 4 * ((len + 2) / 3);
    unsigned char *b64 = malloc(b64len + 1);
    size_t cap = b64len + 2 * (b64len / 64 + 1) + sizeof begin + sizeof end;
    unsigned char *p = malloc(cap);
    if (!b64 || !p) {
        free(b64);
        free(p);
        lab_err("out of memory");
        return -1;
    }
    EVP_EncodeBlock(b64, der, (int)len);
    size_t o = 0;
    if (enc == LAB_ENC_BASE64HEADER) {
        memcpy(p, begin, sizeof begin - 1);
        o += sizeof begin - 1;
    }
    for (size_t i = 0; i < b64len; i += 64) {
        size_t n = b64len - i < 64 ? b64len - i : 64;
        memcpy(p + o, b64 + i, n);
        o += n;
        p[o++] = '\r';
        p[o++] = '\n';
    }
    if (enc == LAB_ENC_BASE64HEADER) {
        memcpy(p + o, end, sizeof end - 1);
        o += sizeof end - 1;
    }
    free(b64);
    *out = p;
    *outlen = o;
    return 0;
}
