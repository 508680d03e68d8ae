/* The plan's scan cache (see blobs_cache.h). */
#include "source/blobs_cache.h"
#include "pki/certinfo.h"

#include "common/encode.h"
#include "pki/crl.h"

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

static json_t *str_list(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static char *hex_of(const unsigned char *d, size_t n)
{
    char *h = malloc(2 * n + 1);
    for (size_t i = 0; h && i < n; i++)
        snprintf(h + 2 * i, 3, "%02x", d[i]);
    if (h)
        h[2 * n] = '\0';
    return h;
}

char *ssync_scan_facts_encode(const ssync_plan_item *it, X509 *cert)
{
    unsigned char *der = NULL;
    int n = i2d_X509_NAME(X509_get_issuer_name(cert), &der);
    char *issuer = n > 0 ? hex_of(der, (size_t)n) : NULL;
    OPENSSL_free(der);
    json_t *o =
        issuer ? json_pack("{s:s,s:s,s:I,s:I,s:s?,s:s?,s:o,s:o,s:s?,s:s?,s:s}", "tp",
                           it->thumbprint, "sn", it->serial, "na", (json_int_t)it->not_after, "nb",
                           (json_int_t)it->not_before, "cu", it->cert_upn, "su", it->san_upn, "em",
                           str_list(it->emails, it->n_emails), "eku", str_list(it->eku, it->n_eku),
                           "to", it->template_oid, "tn", it->template_name, "iss", issuer)
               : NULL;
    free(issuer);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

static int dup_str(char **dst, json_t *v)
{
    *dst = NULL;
    return !json_is_string(v) || (*dst = strdup(json_string_value(v))) != NULL;
}

/* texts: common values shared (ssync_plan_text, for EKU OIDs) */
static int dup_list(json_t *a, char ***dst, size_t *n, int texts)
{
    *dst = NULL;
    *n = 0;
    if (!json_is_array(a))
        return 0;
    if (!json_array_size(a))
        return 1;
    if (!(*dst = calloc(json_array_size(a), sizeof **dst)))
        return 0;
    for (size_t i = 0; i < json_array_size(a); i++, (*n)++)
        if (!json_is_string(json_array_get(a, i)) ||
            !((*dst)[i] = texts ? ssync_plan_text(json_string_value(json_array_get(a, i)))
                                : strdup(json_string_value(json_array_get(a, i)))))
            return 0;
    return 1;
}

static int revoked(const char *issuer_hex, const char *serial_hex, X509_CRL *const *crls,
                   size_t n_crls)
{
    if (!n_crls)
        return 0;
    size_t len = strlen(issuer_hex) / 2;
    unsigned char *der = malloc(len ? len : 1);
    for (size_t i = 0; der && i < len; i++) {
        unsigned v;
        if (sscanf(issuer_hex + 2 * i, "%2x", &v) != 1)
            v = 0;
        der[i] = (unsigned char)v;
    }
    const unsigned char *p = der;
    X509_NAME *name = der ? d2i_X509_NAME(NULL, &p, (long)len) : NULL;
    BIGNUM *bn = NULL;
    ASN1_INTEGER *sn = BN_hex2bn(&bn, serial_hex) ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    int r = name && sn ? ssync_crl_revoked(crls, n_crls, name, sn) : -1;
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    X509_NAME_free(name);
    free(der);
    ERR_clear_error();
    return r;
}

int ssync_scan_facts_decode(const char *text, ssync_plan_item *it, X509_CRL *const *crls,
                            size_t n_crls)
{
    json_t *o = json_loads(text, 0, NULL);
    const char *tp = json_string_value(json_object_get(o, "tp"));
    const char *sn = json_string_value(json_object_get(o, "sn"));
    const char *iss = json_string_value(json_object_get(o, "iss"));
    json_t *na = json_object_get(o, "na");
    int ok = tp && strlen(tp) == 40 && sn && strlen(sn) < sizeof it->serial && iss &&
             json_is_integer(na);
    int rev = ok ? revoked(iss, sn, crls, n_crls) : -1;
    ok = ok && rev >= 0 && dup_str(&it->cert_upn, json_object_get(o, "cu")) &&
         dup_str(&it->san_upn, json_object_get(o, "su")) &&
         dup_str(&it->template_oid, json_object_get(o, "to")) &&
         dup_str(&it->template_name, json_object_get(o, "tn")) &&
         dup_list(json_object_get(o, "em"), &it->emails, &it->n_emails, 0) &&
         dup_list(json_object_get(o, "eku"), &it->eku, &it->n_eku, 1);
    if (ok) {
        ssync_plan_item_share(it);
        memcpy(it->thumbprint, tp, 41);
        snprintf(it->serial, sizeof it->serial, "%s", sn);
        it->not_after = (time_t)json_integer_value(na);
        it->not_before = (time_t)json_integer_value(json_object_get(o, "nb")); /* 0: older cache */
        it->revoked = rev;
    }
    json_decref(o);
    return ok;
}

char *ssync_scan_kra_id(const ssync_kra_set *kras)
{
    size_t n = ssync_kra_set_count(kras);
    char *id = calloc(41 * n + 1, 1);
    for (size_t i = 0; id && i < n; i++) {
        EVP_PKEY *k;
        X509 *c;
        if (!ssync_kra_set_get(kras, i, &k, &c) || ssync_cert_thumbprint(c, id + 41 * i) != 0) {
            free(id);
            return NULL;
        }
        id[41 * i + 40] = i + 1 < n ? ',' : '\0';
    }
    return id;
}
