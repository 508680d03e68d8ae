#include "pki/certinfo.h"

#include "common/encode.h"

#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Microsoft's certificate template v2 extension (szOID_CERTIFICATE_TEMPLATE, MS-WCCE 2.2.2.7.7.2):
 * SEQUENCE { templateID OID, templateMajorVersion INTEGER, templateMinorVersion INTEGER OPTIONAL }.
 * Decoded with an OpenSSL ASN.1 template, never by hand. */
typedef struct ssync_cert_template_st {
    ASN1_OBJECT *template_id;
    ASN1_INTEGER *major;
    ASN1_INTEGER *minor;
} SSYNC_CERT_TEMPLATE;

/* clang-format off */
ASN1_SEQUENCE(SSYNC_CERT_TEMPLATE) = {
    ASN1_SIMPLE(SSYNC_CERT_TEMPLATE, template_id, ASN1_OBJECT),
    ASN1_SIMPLE(SSYNC_CERT_TEMPLATE, major, ASN1_INTEGER),
    ASN1_OPT(SSYNC_CERT_TEMPLATE, minor, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(SSYNC_CERT_TEMPLATE)

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}
/* clang-format on */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). Keeps the
 * conversion free of the process time zone (no mktime, no TZ). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static ssync_code convert_time(const ASN1_TIME *t, const char *what, time_t *out, char iso[21],
                               ssync_error *err)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return ssync_fail_ssl(err, SSYNC_ERR_CERT_PARSE, "invalid %s", what);
    int64_t year = (int64_t)tm.tm_year + 1900;
    int64_t secs = days_from_civil(year, tm.tm_mon + 1, tm.tm_mday) * 86400 +
                   (int64_t)tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    *out = (time_t)secs;
    /* ASN.1 times carry a 4-digit year, so the ISO form always fits in 20 characters */
    if (year < 0 || year > 9999 || strftime(iso, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
        return ssync_fail(err, SSYNC_ERR_CERT_PARSE, "%s out of range", what);
    return SSYNC_OK;
}

static char *name_rfc2253(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio)
        return NULL;
    char *out = NULL;
    /* RFC 2253 order and escaping, but non-ASCII kept as UTF-8 (RFC 4514) instead of \XX bytes,
     * so reports show "CN=J\u00fcrgen" as a reader expects */
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *p = NULL;
        long n = BIO_get_mem_data(bio, &p);
        out = malloc((size_t)(n > 0 ? n : 0) + 1);
        if (out) {
            if (n > 0)
                memcpy(out, p, (size_t)n);
            out[n > 0 ? n : 0] = '\0';
        }
    }
    BIO_free(bio);
    return out;
}

static ssync_code push_str(char ***arr, size_t *n, const char *s, ssync_error *err)
{
    char **grown = realloc(*arr, (*n + 1) * sizeof **arr);
    if (!grown)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "certificate facts");
    *arr = grown;
    grown[*n] = strdup(s);
    if (!grown[*n])
        return ssync_fail(err, SSYNC_ERR_NOMEM, "certificate facts");
    (*n)++;
    return SSYNC_OK;
}

/* An ASN.1 string as a C string, refused when it hides a NUL (a classic name-spoofing trick). */
static ssync_code string_copy(const ASN1_STRING *s, const char *what, char **out, ssync_error *err)
{
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, s);
    if (n < 0)
        return ssync_fail_ssl(err, SSYNC_ERR_CERT_PARSE, "%s is not a valid string", what);
    if (memchr(utf8, '\0', (size_t)n)) {
        OPENSSL_free(utf8);
        return ssync_fail(err, SSYNC_ERR_CERT_PARSE, "%s contains a NUL character", what);
    }
    *out = strdup((const char *)utf8);
    OPENSSL_free(utf8);
    return *out ? SSYNC_OK : ssync_fail(err, SSYNC_ERR_NOMEM, "%s", what);
}

/* X509_get_ext_d2i's crit tells absent (-1), repeated (-2) and undecodable (>= 0 with NULL). */
static ssync_code ext_status(void *decoded, int crit, const char *what, ssync_error *err)
{
    if (decoded || crit == -1)
        return SSYNC_OK;
    if (crit == -2)
        return ssync_fail(err, SSYNC_ERR_CERT_PARSE, "%s extension appears more than once", what);
    return ssync_fail_ssl(err, SSYNC_ERR_CERT_PARSE, "cannot decode the %s extension", what);
}

static ssync_code get_key_usage(X509 *cert, ssync_certinfo *info, ssync_error *err)
{
    int crit = 0;
    ASN1_BIT_STRING *ku = X509_get_ext_d2i(cert, NID_key_usage, &crit, NULL);
    ssync_code rc = ext_status(ku, crit, "keyUsage", err);
    if (rc != SSYNC_OK || !ku)
        return rc;
    const unsigned char *d = ASN1_STRING_get0_data(ku);
    int len = ASN1_STRING_length(ku);
    /* same layout as OpenSSL's KU_* constants: first byte low, second byte (decipherOnly) high */
    info->has_key_usage = 1;
    info->key_usage = (len > 0 ? d[0] : 0u) | (len > 1 ? (unsigned)d[1] << 8 : 0u);
    ASN1_BIT_STRING_free(ku);
    return SSYNC_OK;
}

static ssync_code get_eku(X509 *cert, ssync_certinfo *info, ssync_error *err)
{
    int crit = 0;
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, NULL);
    ssync_code rc = ext_status(eku, crit, "extendedKeyUsage", err);
    if (rc != SSYNC_OK || !eku)
        return rc;
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku) && rc == SSYNC_OK; i++) {
        char oid[128];
        int n = OBJ_obj2txt(oid, sizeof oid, sk_ASN1_OBJECT_value(eku, i), 1);
        if (n <= 0 || (size_t)n >= sizeof oid)
            rc = ssync_fail(err, SSYNC_ERR_CERT_PARSE, "invalid extendedKeyUsage OID");
        else
            rc = push_str(&info->eku, &info->n_eku, oid, err);
    }
    EXTENDED_KEY_USAGE_free(eku);
    return rc;
}

static ssync_code get_san(X509 *cert, ssync_certinfo *info, ssync_error *err)
{
    int crit = 0;
    GENERAL_NAMES *san = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    ssync_code rc = ext_status(san, crit, "subjectAltName", err);
    if (rc != SSYNC_OK || !san)
        return rc;
    ASN1_OBJECT *upn_oid = OBJ_txt2obj(SSYNC_OID_UPN, 1);
    if (!upn_oid)
        rc = ssync_fail_ssl(err, SSYNC_ERR_INTERNAL, "UPN OID");
    for (int i = 0; i < sk_GENERAL_NAME_num(san) && rc == SSYNC_OK; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);
        if (gn->type == GEN_EMAIL) {
            char *mail = NULL;
            rc = string_copy(gn->d.rfc822Name, "SAN e-mail", &mail, err);
            if (rc == SSYNC_OK)
                rc = push_str(&info->emails, &info->n_emails, mail, err);
            free(mail);
        } else if (gn->type == GEN_OTHERNAME && info->upn == NULL &&
                   OBJ_cmp(gn->d.otherName->type_id, upn_oid) == 0) {
            /* the first UPN wins; AD CS writes exactly one */
            const ASN1_TYPE *v = gn->d.otherName->value;
            if (!v || v->type != V_ASN1_UTF8STRING)
                rc = ssync_fail(err, SSYNC_ERR_CERT_PARSE, "SAN UPN is not a UTF8String");
            else
                rc = string_copy(v->value.utf8string, "SAN UPN", &info->upn, err);
        }
    }
    ASN1_OBJECT_free(upn_oid);
    GENERAL_NAMES_free(san);
    return rc;
}

/* The extension with this dotted OID: its value (NULL when absent). Refuses duplicates. */
static ssync_code find_ext(X509 *cert, const char *oid, const ASN1_OCTET_STRING **value,
                           ssync_error *err)
{
    *value = NULL;
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    if (!obj)
        return ssync_fail_ssl(err, SSYNC_ERR_INTERNAL, "OID %s", oid);
    int idx = X509_get_ext_by_OBJ(cert, obj, -1);
    int again = idx >= 0 ? X509_get_ext_by_OBJ(cert, obj, idx) : -1;
    ASN1_OBJECT_free(obj);
    if (again >= 0)
        return ssync_fail(err, SSYNC_ERR_CERT_PARSE, "extension %s appears more than once", oid);
    if (idx >= 0)
        *value = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
    return SSYNC_OK;
}

static ssync_code integer_to_long(const ASN1_INTEGER *i, long *out)
{
    int64_t v = 0;
    if (ASN1_INTEGER_get_int64(&v, i) != 1 || v < 0 || v > INT32_MAX)
        return SSYNC_ERR_CERT_PARSE;
    *out = (long)v;
    return SSYNC_OK;
}

static ssync_code get_template(X509 *cert, ssync_certinfo *info, ssync_error *err)
{
    const ASN1_OCTET_STRING *v2 = NULL, *v1 = NULL;
    ssync_code rc = find_ext(cert, SSYNC_OID_TEMPLATE_V2, &v2, err);
    if (rc == SSYNC_OK)
        rc = find_ext(cert, SSYNC_OID_TEMPLATE_V1, &v1, err);
    if (rc != SSYNC_OK)
        return rc;
    if (v2) {
        const unsigned char *p = ASN1_STRING_get0_data(v2);
        long len = ASN1_STRING_length(v2);
        const unsigned char *end = p + len;
        SSYNC_CERT_TEMPLATE *t = (SSYNC_CERT_TEMPLATE *)ASN1_item_d2i(
            NULL, &p, len, ASN1_ITEM_rptr(SSYNC_CERT_TEMPLATE));
        if (!t || p != end) {
            ASN1_item_free((ASN1_VALUE *)t, ASN1_ITEM_rptr(SSYNC_CERT_TEMPLATE));
            return ssync_fail_ssl(err, SSYNC_ERR_CERT_PARSE,
                                  "cannot decode the certificate template extension (%s)",
                                  SSYNC_OID_TEMPLATE_V2);
        }
        char oid[256];
        int n = OBJ_obj2txt(oid, sizeof oid, t->template_id, 1);
        if (n <= 0 || (size_t)n >= sizeof oid ||
            integer_to_long(t->major, &info->template_major) != SSYNC_OK ||
            (t->minor && integer_to_long(t->minor, &info->template_minor) != SSYNC_OK))
            rc = ssync_fail(err, SSYNC_ERR_CERT_PARSE,
                            "certificate template extension holds an invalid OID or version");
        else if (!(info->template_oid = strdup(oid)))
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "template");
        ASN1_item_free((ASN1_VALUE *)t, ASN1_ITEM_rptr(SSYNC_CERT_TEMPLATE));
        if (rc != SSYNC_OK)
            return rc;
    }
    if (v1) {
        /* szOID_ENROLL_CERTTYPE_EXTENSION: the template name as a BMPString */
        const unsigned char *p = ASN1_STRING_get0_data(v1);
        long len = ASN1_STRING_length(v1);
        const unsigned char *end = p + len;
        ASN1_TYPE *t = d2i_ASN1_TYPE(NULL, &p, len);
        if (!t || p != end || (t->type != V_ASN1_BMPSTRING && t->type != V_ASN1_UTF8STRING)) {
            ASN1_TYPE_free(t);
            return ssync_fail_ssl(err, SSYNC_ERR_CERT_PARSE,
                                  "certificate template name extension (%s) is not a BMPString",
                                  SSYNC_OID_TEMPLATE_V1);
        }
        rc = string_copy(t->value.asn1_string, "certificate template name", &info->template_name,
                         err);
        ASN1_TYPE_free(t);
    }
    return rc;
}

static ssync_code get_key(X509 *cert, ssync_certinfo *info, ssync_error *err)
{
    EVP_PKEY *pk = X509_get0_pubkey(cert);
    if (!pk)
        return ssync_fail_ssl(err, SSYNC_ERR_CERT_PARSE, "cannot decode the public key");
    const char *type = NULL;
    switch (EVP_PKEY_get_base_id(pk)) {
    case EVP_PKEY_RSA:
        type = "RSA";
        break;
    case EVP_PKEY_RSA_PSS:
        type = "RSA-PSS";
        break;
    case EVP_PKEY_EC:
        type = "EC";
        break;
    default:
        type = EVP_PKEY_get0_type_name(pk);
        break;
    }
    info->key_type = strdup(type ? type : "unknown");
    info->key_bits = EVP_PKEY_get_bits(pk);
    return info->key_type ? SSYNC_OK : ssync_fail(err, SSYNC_ERR_NOMEM, "key type");
}

int ssync_cert_thumbprint(X509 *cert, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    out[0] = '\0';
    EVP_MD *sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    int ok = sha1 && X509_digest(cert, sha1, md, &mdlen) && mdlen == 20;
    EVP_MD_free(sha1);
    if (!ok)
        return -1;
    ssync_hex_lower(md, mdlen, out);
    return 0;
}

ssync_code ssync_certinfo_get(X509 *cert, ssync_certinfo *info, ssync_error *err)
{
    if (!info)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_certinfo_get: info is NULL");
    memset(info, 0, sizeof *info);
    info->template_major = info->template_minor = -1;
    if (!cert)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_certinfo_get: certificate is NULL");

    ssync_code rc = SSYNC_OK;
    if (ssync_cert_thumbprint(cert, info->thumbprint) != 0) {
        rc = ssync_fail_ssl(err, SSYNC_ERR_CERT_PARSE, "cannot compute the SHA-1 thumbprint");
        goto out;
    }

    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    BN_free(bn);
    info->serial = dup_or_null(hex);
    OPENSSL_free(hex);
    info->subject = name_rfc2253(X509_get_subject_name(cert));
    info->issuer = name_rfc2253(X509_get_issuer_name(cert));
    if (!info->serial || !info->subject || !info->issuer) {
        rc = ssync_fail_ssl(err, SSYNC_ERR_CERT_PARSE, "cannot read serial number or names");
        goto out;
    }
    rc = convert_time(X509_get0_notBefore(cert), "notBefore", &info->not_before,
                      info->not_before_iso, err);
    if (rc == SSYNC_OK)
        rc = convert_time(X509_get0_notAfter(cert), "notAfter", &info->not_after,
                          info->not_after_iso, err);
    if (rc == SSYNC_OK)
        rc = get_key_usage(cert, info, err);
    if (rc == SSYNC_OK)
        rc = get_eku(cert, info, err);
    if (rc == SSYNC_OK)
        rc = get_san(cert, info, err);
    if (rc == SSYNC_OK)
        rc = get_template(cert, info, err);
    if (rc == SSYNC_OK)
        rc = get_key(cert, info, err);
out:
    if (rc != SSYNC_OK)
        ssync_certinfo_clear(info);
    ERR_clear_error();
    return rc;
}

static void free_list(char **arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(arr[i]);
    free(arr);
}

void ssync_certinfo_clear(ssync_certinfo *info)
{
    if (!info)
        return;
    free(info->serial);
    free(info->subject);
    free(info->issuer);
    free_list(info->eku, info->n_eku);
    free_list(info->emails, info->n_emails);
    free(info->upn);
    free(info->template_oid);
    free(info->template_name);
    free(info->key_type);
    memset(info, 0, sizeof *info);
    info->template_major = info->template_minor = -1;
}

/* RFC 5280 names, in bit order of OpenSSL's KU_* constants. */
static const struct {
    unsigned bit;
    const char *name;
} ku_names[] = {
    {KU_DIGITAL_SIGNATURE, "digitalSignature"},
    {KU_NON_REPUDIATION, "nonRepudiation"},
    {KU_KEY_ENCIPHERMENT, "keyEncipherment"},
    {KU_DATA_ENCIPHERMENT, "dataEncipherment"},
    {KU_KEY_AGREEMENT, "keyAgreement"},
    {KU_KEY_CERT_SIGN, "keyCertSign"},
    {KU_CRL_SIGN, "cRLSign"},
    {KU_ENCIPHER_ONLY, "encipherOnly"},
    {KU_DECIPHER_ONLY, "decipherOnly"},
};

/* json_string that yields JSON null for NULL (and NULL on invalid UTF-8/allocation failure). */
static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *str_array(char **arr, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(arr[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static int set(json_t *obj, const char *key, json_t *value)
{
    /* json_object_set_new consumes value even on failure; NULL values fail */
    return value ? json_object_set_new(obj, key, value) : -1;
}

static json_t *ku_json(const ssync_certinfo *info)
{
    json_t *ku = json_array();
    for (size_t i = 0; ku && info->has_key_usage && i < sizeof ku_names / sizeof ku_names[0]; i++)
        if ((info->key_usage & ku_names[i].bit) &&
            json_array_append_new(ku, json_string(ku_names[i].name)) != 0) {
            json_decref(ku);
            ku = NULL;
        }
    return ku;
}

static json_t *template_json(const ssync_certinfo *info)
{
    if (!info->template_oid && !info->template_name)
        return json_null();
    json_t *t = json_object();
    if (t && (set(t, "oid", str_or_null(info->template_oid)) ||
              set(t, "major",
                  info->template_major >= 0 ? json_integer(info->template_major) : json_null()) ||
              set(t, "minor",
                  info->template_minor >= 0 ? json_integer(info->template_minor) : json_null()) ||
              set(t, "name", str_or_null(info->template_name)))) {
        json_decref(t);
        t = NULL;
    }
    return t;
}

json_t *ssync_certinfo_to_json(const ssync_certinfo *info)
{
    if (!info)
        return NULL;
    json_t *o = json_object();
    /* each value is created only when its set() runs, so a failure leaks nothing */
    if (!o || set(o, "thumbprint", json_string(info->thumbprint)) ||
        set(o, "serialNumber", str_or_null(info->serial)) ||
        set(o, "subject", str_or_null(info->subject)) ||
        set(o, "issuer", str_or_null(info->issuer)) ||
        set(o, "notBefore", json_string(info->not_before_iso)) ||
        set(o, "notAfter", json_string(info->not_after_iso)) || set(o, "keyUsage", ku_json(info)) ||
        set(o, "extendedKeyUsage", str_array(info->eku, info->n_eku)) ||
        set(o, "emails", str_array(info->emails, info->n_emails)) ||
        set(o, "userPrincipalName", str_or_null(info->upn)) ||
        set(o, "template", template_json(info)) || set(o, "keyType", str_or_null(info->key_type)) ||
        set(o, "keyBits", json_integer(info->key_bits))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

const char *ssync_certinfo_user(const ssync_certinfo *info)
{
    if (!info)
        return NULL;
    if (info->upn && info->upn[0])
        return info->upn;
    if (info->n_emails > 0 && info->emails[0][0])
        return info->emails[0];
    return NULL;
}

int ssync_certinfo_has_eku(const ssync_certinfo *info, const char *oid)
{
    if (!info || !oid)
        return 0;
    for (size_t i = 0; i < info->n_eku; i++)
        if (strcmp(info->eku[i], oid) == 0)
            return 1;
    return 0;
}
