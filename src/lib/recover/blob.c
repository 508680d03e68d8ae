/* Recovery blob decoding ([MS-CSRA] 3.1.4.2.9 ICertAdminD2::GetArchivedKey: a SignedData whose
 * content is the archived key's EnvelopedData, RFC 5652): detect the encoding, parse with OpenSSL's
 * CMS (or, for the PKCS#7 v1.5 shape, its PKCS#7) decoders, and hand back the EnvelopedData plus
 * the certificates. All ASN.1 is parsed by OpenSSL. */
#include "recover/blob.h"

#include "common/encode.h"
#include "common/fileio.h"

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A ContentInfo holding a SignedData, read by OpenSSL's ASN.1 decoder with templates that keep
 * the certificates (and what a recovery never reads: digest algorithms, CRLs, signer infos) as
 * encodings (RFC 5652 sections 3 and 5.1). OpenSSL's CMS decoder would decode every certificate,
 * and OpenSSL 3.0 builds a public-key decoder for each; a recovery needs only the user's. Any
 * other shape fails here and goes to the CMS and PKCS#7 decoders, which give the errors. */
/* The template macros end without a semicolon: clang-format would indent what follows. */
/* clang-format off */
typedef struct {
    ASN1_OBJECT *type;
    ASN1_OCTET_STRING *content;
} SSYNC_ENCAP_LITE;

ASN1_SEQUENCE(SSYNC_ENCAP_LITE) = {
    ASN1_SIMPLE(SSYNC_ENCAP_LITE, type, ASN1_OBJECT),
    ASN1_EXP_OPT(SSYNC_ENCAP_LITE, content, ASN1_OCTET_STRING, 0),
} ASN1_SEQUENCE_END(SSYNC_ENCAP_LITE)

typedef struct {
    ASN1_INTEGER *version;
    ASN1_TYPE *digest_algorithms;
    SSYNC_ENCAP_LITE *encap;
    STACK_OF(ASN1_TYPE) *certs;
    STACK_OF(ASN1_TYPE) *crls;
    ASN1_TYPE *signer_infos;
} SSYNC_SIGNED_LITE;

ASN1_SEQUENCE(SSYNC_SIGNED_LITE) = {
    ASN1_SIMPLE(SSYNC_SIGNED_LITE, version, ASN1_INTEGER),
    ASN1_SIMPLE(SSYNC_SIGNED_LITE, digest_algorithms, ASN1_ANY),
    ASN1_SIMPLE(SSYNC_SIGNED_LITE, encap, SSYNC_ENCAP_LITE),
    ASN1_IMP_SET_OF_OPT(SSYNC_SIGNED_LITE, certs, ASN1_ANY, 0),
    ASN1_IMP_SET_OF_OPT(SSYNC_SIGNED_LITE, crls, ASN1_ANY, 1),
    ASN1_SIMPLE(SSYNC_SIGNED_LITE, signer_infos, ASN1_ANY),
} ASN1_SEQUENCE_END(SSYNC_SIGNED_LITE)

typedef struct {
    ASN1_OBJECT *type;
    SSYNC_SIGNED_LITE *signed_data;
} SSYNC_CONTENT_LITE;

ASN1_SEQUENCE(SSYNC_CONTENT_LITE) = {
    ASN1_SIMPLE(SSYNC_CONTENT_LITE, type, ASN1_OBJECT),
    ASN1_EXP(SSYNC_CONTENT_LITE, signed_data, SSYNC_SIGNED_LITE, 0),
} ASN1_SEQUENCE_END(SSYNC_CONTENT_LITE)

struct ssync_blob_certs {
    SSYNC_CONTENT_LITE *lite; /* the encodings (NULL when the CMS or PKCS#7 decoder read them) */
    X509 **x509;              /* n_certs entries, decoded on first use */
};
/* clang-format on */

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
    if (blob->held) {
        for (int i = 0; i < blob->n_certs; i++)
            X509_free(blob->held->x509[i]);
        free(blob->held->x509);
        ASN1_item_free((ASN1_VALUE *)blob->held->lite, ASN1_ITEM_rptr(SSYNC_CONTENT_LITE));
        free(blob->held);
    }
    memset(blob, 0, sizeof *blob);
}

/* Room for n certificates; lite (owned from here on) holds their encodings, or NULL. */
static ssync_code hold(ssync_blob *blob, int n, SSYNC_CONTENT_LITE *lite, ssync_error *err)
{
    blob->held = calloc(1, sizeof *blob->held);
    if (blob->held) {
        blob->held->lite = lite;
        blob->held->x509 = calloc(n > 0 ? (size_t)n : 1, sizeof(X509 *));
    }
    if (!blob->held || !blob->held->x509) {
        if (!blob->held)
            ASN1_item_free((ASN1_VALUE *)lite, ASN1_ITEM_rptr(SSYNC_CONTENT_LITE));
        return ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
    }
    blob->n_certs = n;
    return SSYNC_OK;
}

/* The certificates decoded by the CMS or PKCS#7 decoder (up-referenced; certs stays the
 * caller's). */
static ssync_code hold_decoded(ssync_blob *blob, STACK_OF(X509) * certs, ssync_error *err)
{
    ssync_code rc = hold(blob, sk_X509_num(certs), NULL, err);
    for (int i = 0; rc == SSYNC_OK && i < blob->n_certs; i++) {
        X509 *x = sk_X509_value(certs, i);
        if (!X509_up_ref(x))
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
        else
            blob->held->x509[i] = x;
    }
    return rc;
}

int ssync_blob_der_without_certs(const unsigned char *der, size_t len, unsigned char **out,
                                 size_t *out_len)
{
    const unsigned char *q = der;
    SSYNC_CONTENT_LITE *ci = (SSYNC_CONTENT_LITE *)ASN1_item_d2i(
        NULL, &q, (long)len, ASN1_ITEM_rptr(SSYNC_CONTENT_LITE));
    int n = -1;
    *out = NULL;
    if (ci && q == der + len && OBJ_obj2nid(ci->type) == NID_pkcs7_signed) {
        sk_ASN1_TYPE_pop_free(ci->signed_data->certs, ASN1_TYPE_free);
        ci->signed_data->certs = NULL;
        n = ASN1_item_i2d((ASN1_VALUE *)ci, out, ASN1_ITEM_rptr(SSYNC_CONTENT_LITE));
    }
    ASN1_item_free((ASN1_VALUE *)ci, ASN1_ITEM_rptr(SSYNC_CONTENT_LITE));
    ERR_clear_error();
    if (n <= 0) {
        OPENSSL_free(*out);
        *out = NULL;
        return 0;
    }
    *out_len = (size_t)n;
    return 1;
}

int ssync_blob_cert_der(const ssync_blob *blob, int i, const unsigned char **der, size_t *len)
{
    if (!blob || !blob->held || !blob->held->lite || i < 0 || i >= blob->n_certs)
        return 0;
    ASN1_TYPE *t = sk_ASN1_TYPE_value(blob->held->lite->signed_data->certs, i);
    *der = t->value.sequence->data;
    *len = (size_t)t->value.sequence->length;
    return 1;
}

X509 *ssync_blob_cert(ssync_blob *blob, int i)
{
    if (!blob || !blob->held || i < 0 || i >= blob->n_certs)
        return NULL;
    if (!blob->held->x509[i]) {
        const unsigned char *der, *q;
        size_t len;
        if (!ssync_blob_cert_der(blob, i, &der, &len))
            return NULL;
        q = der;
        X509 *x = d2i_X509(NULL, &q, (long)len);
        if (x && q != der + len) {
            X509_free(x);
            x = NULL;
        }
        ERR_clear_error();
        blob->held->x509[i] = x;
    }
    return blob->held->x509[i];
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
    rc = hold_decoded(blob, p7->d.sign->cert, err);
out:
    PKCS7_free(p7);
    return rc;
}

/* The common shape through the templates above: SSYNC_OK, or SSYNC_ERR_BLOB_ASN1 with nothing
 * said for anything else (the full decoders then read it and explain). */
static ssync_code parse_lite(const unsigned char *p, size_t len, ssync_blob *blob, ssync_error *err)
{
    const unsigned char *q = p;
    SSYNC_CONTENT_LITE *ci = (SSYNC_CONTENT_LITE *)ASN1_item_d2i(
        NULL, &q, (long)len, ASN1_ITEM_rptr(SSYNC_CONTENT_LITE));
    ERR_clear_error();
    int ok = ci && q == p + len && OBJ_obj2nid(ci->type) == NID_pkcs7_signed &&
             ci->signed_data->encap->content &&
             ASN1_STRING_length(ci->signed_data->encap->content) > 0;
    STACK_OF(ASN1_TYPE) *certs = ok ? ci->signed_data->certs : NULL;
    for (int i = 0; ok && i < sk_ASN1_TYPE_num(certs); i++)
        ok = sk_ASN1_TYPE_value(certs, i)->type == V_ASN1_SEQUENCE;
    if (ok) {
        ASN1_OCTET_STRING *content = ci->signed_data->encap->content;
        blob->envelope =
            inner_envelope(ASN1_STRING_get0_data(content), (size_t)ASN1_STRING_length(content));
        ERR_clear_error();
        ok = blob->envelope != NULL;
    }
    if (!ok) {
        ASN1_item_free((ASN1_VALUE *)ci, ASN1_ITEM_rptr(SSYNC_CONTENT_LITE));
        return SSYNC_ERR_BLOB_ASN1;
    }
    return hold(blob, sk_ASN1_TYPE_num(certs), ci, err);
}

static ssync_code parse_der(const unsigned char *p, size_t len, ssync_blob *blob, ssync_error *err)
{
    if (len > LONG_MAX)
        return ssync_fail(err, SSYNC_ERR_BLOB_ASN1, "input too large");
    ssync_code rc = parse_lite(p, len, blob, err);
    if (rc != SSYNC_ERR_BLOB_ASN1)
        return rc;
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
        blob->bare_envelope = 1;
        return hold(blob, 0, NULL, err);
    }
    if (nid != NID_pkcs7_signed) {
        char name[80];
        OBJ_obj2txt(name, sizeof name, CMS_get0_type(cms), 0);
        CMS_ContentInfo_free(cms);
        return ssync_fail(err, SSYNC_ERR_BLOB_TYPE,
                          "content type %s, expected SignedData or EnvelopedData", name);
    }
    rc = SSYNC_OK;
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
    STACK_OF(X509) *certs = empty_or(CMS_get1_certs(cms));
    rc = certs ? hold_decoded(blob, certs, err) : ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
    sk_X509_pop_free(certs, X509_free);
out:
    CMS_ContentInfo_free(cms);
    return rc;
}

ssync_code ssync_blob_to_der(const unsigned char *data, size_t len, ssync_buf *der,
                             ssync_error *err)
{
    memset(der, 0, sizeof *der);
    const unsigned char *p = data;
    size_t n = data ? len : 0;
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
    if (p[0] != 0x30) {
        ssync_blob_encoding enc;
        return decode_text(p, n, der, &enc, err);
    }
    if (!(der->data = malloc(n)))
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    memcpy(der->data, p, n);
    der->len = n;
    return SSYNC_OK;
}

ssync_code ssync_blob_open(const unsigned char *data, size_t len, ssync_blob *blob,
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

ssync_code ssync_blob_decode(const unsigned char *data, size_t len, ssync_blob *blob,
                             ssync_error *err)
{
    ssync_code rc = ssync_blob_open(data, len, blob, err);
    if (rc != SSYNC_OK)
        return rc;
    blob->certs = sk_X509_new_null();
    if (!blob->certs)
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
    for (int i = 0; rc == SSYNC_OK && i < blob->n_certs; i++) {
        X509 *x = ssync_blob_cert(blob, i);
        if (!x)
            rc = ssync_fail(err, SSYNC_ERR_BLOB_ASN1, "certificate %d of the blob does not decode",
                            i + 1);
        else if (!X509_up_ref(x))
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
        else if (!sk_X509_push(blob->certs, x)) {
            X509_free(x);
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
        }
    }
    if (rc != SSYNC_OK)
        ssync_blob_clear(blob);
    return rc;
}
