/* Recovery blob decoding (reference adcs-key-archival.md sections 2 and 7): detect the encoding,
 * parse with OpenSSL's CMS (or, for the PKCS#7 v1.5 shape, its PKCS#7) decoders, and hand back
 * the EnvelopedData plus the certificates. All ASN.1 is parsed by OpenSSL. */
#include "blob.h"

#include "encode.h"
#include "fileio.h"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

const char *ssync_blob_encoding_name(ssync_blob_encoding enc)
{
    switch (enc) {
    case SSYNC_BLOB_DER:
        return "DER";
    case SSYNC_BLOB_BASE64:
        return "base64";
    case SSYNC_BLOB_BASE64_HEADER:
        return "base64 with header";
    }
    return "unknown";
}

void ssync_blob_clear(ssync_blob *blob)
{
    if (!blob)
        return;
    CMS_ContentInfo_free(blob->envelope);
    sk_X509_pop_free(blob->certs, X509_free);
    memset(blob, 0, sizeof *blob);
}

static int is_b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const unsigned char *find_str(const unsigned char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return hay + i;
    return NULL;
}

/* Text input: "-----BEGIN <label>-----" ... "-----END <label>-----" (CR_OUT_BASE64HEADER uses the
 * CERTIFICATE label for this PKCS#7), or bare base64 (CR_OUT_BASE64). */
static ssync_code decode_text(const unsigned char *p, size_t len, ssync_buf *der,
                              ssync_blob_encoding *enc, ssync_error *err)
{
    const unsigned char *begin = find_str(p, len, "-----BEGIN ");
    if (begin) {
        const unsigned char *end = p + len;
        const unsigned char *lab = begin + 11;
        const unsigned char *dash = find_str(lab, (size_t)(end - lab), "-----");
        if (!dash || dash - lab > 64)
            return ssync_fail(err, SSYNC_ERR_BLOB_ENCODING, "malformed -----BEGIN line");
        char endline[96];
        snprintf(endline, sizeof endline, "-----END %.*s-----", (int)(dash - lab),
                 (const char *)lab);
        const unsigned char *body = dash + 5;
        const unsigned char *stop = find_str(body, (size_t)(end - body), endline);
        if (!stop)
            return ssync_fail(err, SSYNC_ERR_BLOB_ENCODING, "no \"%s\" line", endline);
        for (const unsigned char *q = body; q < stop; q++)
            if (!is_b64_char(*q) && !is_space(*q))
                return ssync_fail(err, SSYNC_ERR_BLOB_BASE64,
                                  "headers or invalid characters inside the PEM block");
        *enc = SSYNC_BLOB_BASE64_HEADER;
        return ssync_base64_decode((const char *)body, (size_t)(stop - body), der, err);
    }
    for (size_t i = 0; i < len; i++)
        if (!is_b64_char(p[i]) && !is_space(p[i]))
            return ssync_fail(err, SSYNC_ERR_BLOB_ENCODING,
                              "neither DER nor base64 (byte 0x%02X at offset %zu)", p[i], i);
    *enc = SSYNC_BLOB_BASE64;
    return ssync_base64_decode((const char *)p, len, der, err);
}

/* A DER ContentInfo of type EnvelopedData, exactly filling len bytes. */
static CMS_ContentInfo *d2i_envelope_exact(const unsigned char *p, size_t len)
{
    if (len == 0 || len > LONG_MAX)
        return NULL;
    const unsigned char *q = p;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &q, (long)len);
    if (cms && (q != p + len || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_enveloped)) {
        CMS_ContentInfo_free(cms);
        cms = NULL;
    }
    return cms;
}

/* Re-encode a PKCS#7 EnvelopedData ContentInfo and read it back with the CMS decoder. */
static CMS_ContentInfo *pkcs7_to_cms(PKCS7 *p7)
{
    unsigned char *der = NULL;
    int n = i2d_PKCS7(p7, &der);
    if (n <= 0)
        return NULL;
    CMS_ContentInfo *cms = d2i_envelope_exact(der, (size_t)n);
    OPENSSL_free(der);
    return cms;
}

/* The SignedData's content: the RawArchivedKey ContentInfo (what AD CS stores), or, when the
 * eContentType is id-envelopedData and the octets are the EnvelopedData itself (RFC 5652 reading),
 * that EnvelopedData wrapped into a ContentInfo by OpenSSL's PKCS#7 code. */
static CMS_ContentInfo *inner_envelope(const unsigned char *p, size_t len)
{
    CMS_ContentInfo *cms = d2i_envelope_exact(p, len);
    if (cms || len > LONG_MAX)
        return cms;
    ERR_clear_error();
    const unsigned char *q = p;
    PKCS7_ENVELOPE *env = d2i_PKCS7_ENVELOPE(NULL, &q, (long)len);
    if (!env || q != p + len) {
        PKCS7_ENVELOPE_free(env);
        return NULL;
    }
    PKCS7 *p7 = PKCS7_new();
    if (!p7 || !PKCS7_set_type(p7, NID_pkcs7_enveloped)) {
        PKCS7_free(p7);
        PKCS7_ENVELOPE_free(env);
        return NULL;
    }
    PKCS7_ENVELOPE_free(p7->d.enveloped);
    p7->d.enveloped = env;
    cms = pkcs7_to_cms(p7);
    PKCS7_free(p7);
    return cms;
}

static STACK_OF(X509) * empty_or(STACK_OF(X509) * certs)
{
    return certs ? certs : sk_X509_new_null();
}

/* Explain what the input is when it is no CMS at all (a certificate, a PKCS#12 ...). */
static ssync_code not_cms(const unsigned char *p, size_t len, ssync_error *err)
{
    const unsigned char *q = p;
    X509 *x = d2i_X509(NULL, &q, (long)len);
    if (x) {
        X509_free(x);
        ERR_clear_error();
        return ssync_fail(err, SSYNC_ERR_BLOB_TYPE, "input is an X.509 certificate");
    }
    q = p;
    PKCS12 *p12 = d2i_PKCS12(NULL, &q, (long)len);
    if (p12) {
        PKCS12_free(p12);
        ERR_clear_error();
        return ssync_fail(err, SSYNC_ERR_BLOB_TYPE, "input is a PKCS#12 file");
    }
    return ssync_fail_ssl(err, SSYNC_ERR_BLOB_ASN1, "cannot decode %zu bytes as CMS", len);
}

/* PKCS#7 v1.5 shape: the SignedData's content [0] is the EnvelopedData structure itself, not an
 * OCTET STRING (what CryptoAPI writes for non-data inner content without
 * CMSG_CMS_ENCAPSULATED_CONTENT_FLAG). CMS rejects it; OpenSSL's PKCS#7 decoder reads it. */
static ssync_code parse_pkcs7(const unsigned char *p, size_t len, ssync_blob *blob,
                              ssync_error *err)
{
    const unsigned char *q = p;
    PKCS7 *p7 = d2i_PKCS7(NULL, &q, (long)len);
    if (!p7 || q != p + len) {
        PKCS7_free(p7);
        return not_cms(p, len, err);
    }
    ssync_code rc = SSYNC_OK;
    if (!PKCS7_type_is_signed(p7) || !p7->d.sign || !p7->d.sign->contents ||
        !PKCS7_type_is_enveloped(p7->d.sign->contents)) {
        rc = ssync_fail(err, SSYNC_ERR_BLOB_TYPE, "PKCS#7 content is not an EnvelopedData");
        goto out;
    }
    blob->envelope = pkcs7_to_cms(p7->d.sign->contents);
    if (!blob->envelope) {
        rc = ssync_fail_ssl(err, SSYNC_ERR_BLOB_ASN1, "inner EnvelopedData");
        goto out;
    }
    blob->certs = sk_X509_new_null();
    if (!blob->certs) {
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
        goto out;
    }
    STACK_OF(X509) *c = p7->d.sign->cert;
    for (int i = 0; i < sk_X509_num(c); i++) {
        X509 *x = sk_X509_value(c, i);
        if (!X509_up_ref(x) || !sk_X509_push(blob->certs, x)) {
            X509_free(x);
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
            goto out;
        }
    }
out:
    PKCS7_free(p7);
    return rc;
}

static ssync_code parse_der(const unsigned char *p, size_t len, ssync_blob *blob, ssync_error *err)
{
    if (len > LONG_MAX)
        return ssync_fail(err, SSYNC_ERR_BLOB_ASN1, "input too large");
    const unsigned char *q = p;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &q, (long)len);
    if (!cms) {
        ERR_clear_error();
        return parse_pkcs7(p, len, blob, err);
    }
    if (q != p + len) {
        CMS_ContentInfo_free(cms);
        return ssync_fail(err, SSYNC_ERR_BLOB_ASN1, "%zu bytes of trailing data after the CMS",
                          (size_t)(p + len - q));
    }
    int nid = OBJ_obj2nid(CMS_get0_type(cms));
    if (nid == NID_pkcs7_enveloped) {
        blob->envelope = cms;
        blob->certs = sk_X509_new_null();
        blob->bare_envelope = 1;
        return blob->certs ? SSYNC_OK : ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
    }
    if (nid != NID_pkcs7_signed) {
        char name[80];
        OBJ_obj2txt(name, sizeof name, CMS_get0_type(cms), 0);
        CMS_ContentInfo_free(cms);
        return ssync_fail(err, SSYNC_ERR_BLOB_TYPE,
                          "content type %s, expected SignedData or EnvelopedData", name);
    }
    ssync_code rc = SSYNC_OK;
    ASN1_OCTET_STRING **content = CMS_get0_content(cms);
    if (!content || !*content || ASN1_STRING_length(*content) <= 0) {
        rc = ssync_fail(err, SSYNC_ERR_BLOB_NO_CONTENT, "the SignedData has no content");
        goto out;
    }
    blob->envelope =
        inner_envelope(ASN1_STRING_get0_data(*content), (size_t)ASN1_STRING_length(*content));
    if (!blob->envelope) {
        char name[80];
        OBJ_obj2txt(name, sizeof name, CMS_get0_eContentType(cms), 0);
        ERR_clear_error();
        rc = ssync_fail(err, SSYNC_ERR_BLOB_TYPE,
                        "the SignedData content (type %s) is not a CMS EnvelopedData", name);
        goto out;
    }
    blob->certs = empty_or(CMS_get1_certs(cms));
    if (!blob->certs)
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
out:
    CMS_ContentInfo_free(cms);
    return rc;
}

ssync_code ssync_blob_decode(const unsigned char *data, size_t len, ssync_blob *blob,
                             ssync_error *err)
{
    if (!blob)
        return ssync_fail(err, SSYNC_ERR_ARG, "blob is NULL");
    memset(blob, 0, sizeof *blob);
    if (!data && len)
        return ssync_fail(err, SSYNC_ERR_ARG, "data is NULL");
    /* skip a UTF-8 byte order mark and leading white space (text encodings only) */
    const unsigned char *p = data;
    size_t n = len;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        p += 3;
        n -= 3;
    }
    while (n && is_space(*p)) {
        p++;
        n--;
    }
    if (n == 0)
        return ssync_fail(err, SSYNC_ERR_BLOB_ENCODING, "input is empty");

    ssync_code rc;
    if (p[0] == 0x30) { /* DER SEQUENCE */
        blob->encoding = SSYNC_BLOB_DER;
        rc = parse_der(p, n, blob, err);
    } else {
        ssync_buf der = {0};
        rc = decode_text(p, n, &der, &blob->encoding, err);
        if (rc == SSYNC_OK && (der.len == 0 || der.data[0] != 0x30))
            rc = ssync_fail(err, SSYNC_ERR_BLOB_ASN1, "base64 does not decode to DER");
        if (rc == SSYNC_OK)
            rc = parse_der(der.data, der.len, blob, err);
        ssync_buf_free(&der);
    }
    if (rc != SSYNC_OK) {
        ssync_blob_encoding enc = blob->encoding;
        ssync_blob_clear(blob);
        blob->encoding = enc;
    }
    return rc;
}
