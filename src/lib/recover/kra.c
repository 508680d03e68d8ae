/* KRA key loading (OpenSSL docs: PKCS12_parse(3), OSSL_PROVIDER-legacy(7)). PKCS#12 files
 * exported by Windows may use RC2-40/3DES PBEs that OpenSSL 3 only offers in its "legacy"
 * provider: it is loaded on demand (with "default", which loading any provider explicitly would
 * otherwise disable), its handles kept in the set and unloaded when the set is freed. */
#include "recover/kra.h"

#include "common/fileio.h"
#include "recover/kra_pkcs11.h"
#include "pki/p12read.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct kra_entry {
    EVP_PKEY *key;
    X509 *cert;
} kra_entry;

struct ssync_kra_set {
    kra_entry *items;
    size_t count, cap;
    ssync_p12_reader reader; /* the legacy provider, when a file needed it */
    void *engine;            /* the pkcs11 engine, when a key is on a token */
};

ssync_code ssync_kra_set_new(ssync_kra_set **out, ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "out is NULL");
    *out = calloc(1, sizeof **out);
    return *out ? SSYNC_OK : ssync_fail(err, SSYNC_ERR_NOMEM, "KRA set");
}

size_t ssync_kra_set_count(const ssync_kra_set *set)
{
    return set ? set->count : 0;
}

int ssync_kra_set_get(const ssync_kra_set *set, size_t i, EVP_PKEY **key, X509 **cert)
{
    if (!set || i >= set->count)
        return 0;
    if (key)
        *key = set->items[i].key;
    if (cert)
        *cert = set->items[i].cert;
    return 1;
}

void ssync_kra_set_free(ssync_kra_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++) {
        EVP_PKEY_free(set->items[i].key);
        X509_free(set->items[i].cert);
    }
    free(set->items);
    /* keys are freed first: they may come from these providers and this engine */
    ssync_p12_reader_free(&set->reader);
    ssync_kra_pkcs11_release(set->engine);
    free(set);
}

static int key_matches(X509 *cert, EVP_PKEY *key)
{
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    int ok = pub && EVP_PKEY_eq(pub, key) == 1;
    ERR_clear_error();
    return ok;
}

ssync_code ssync_kra_set_add(ssync_kra_set *set, EVP_PKEY *key, X509 *cert, ssync_error *err)
{
    if (!set || !key || !cert)
        return ssync_fail(err, SSYNC_ERR_ARG, "KRA set, key and certificate are required");
    if (!key_matches(cert, key))
        return ssync_fail(err, SSYNC_ERR_KRA_NO_CERT, "the certificate does not match the key");
    if (set->count == set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 4;
        kra_entry *items = realloc(set->items, cap * sizeof *items);
        if (!items)
            return ssync_fail(err, SSYNC_ERR_NOMEM, "KRA set");
        set->items = items;
        set->cap = cap;
    }
    if (!EVP_PKEY_up_ref(key))
        return ssync_fail_ssl(err, SSYNC_ERR_INTERNAL, "EVP_PKEY_up_ref");
    if (!X509_up_ref(cert)) {
        EVP_PKEY_free(key);
        return ssync_fail_ssl(err, SSYNC_ERR_INTERNAL, "X509_up_ref");
    }
    set->items[set->count].key = key;
    set->items[set->count].cert = cert;
    set->count++;
    return SSYNC_OK;
}

/* Pick the certificate among certs whose public key is key (PKCS12_parse only returns the one
 * with a matching localKeyID or key). */
static X509 *find_cert(STACK_OF(X509) * certs, EVP_PKEY *key)
{
    for (int i = 0; i < sk_X509_num(certs); i++)
        if (key_matches(sk_X509_value(certs, i), key))
            return sk_X509_value(certs, i);
    return NULL;
}

/* Never prompt: OpenSSL's default callback would read the terminal. */
static int pem_pass_cb(char *buf, int size, int rwflag, void *u)
{
    const char *pw = u;
    if (!pw || size <= 0)
        return -1;
    size_t n = strlen(pw);
    if (n > (size_t)size)
        return -1;
    memcpy(buf, pw, n);
    return (int)n;
}

static STACK_OF(X509) * read_pem_certs(const unsigned char *data, size_t len)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (!certs || !bio) {
        BIO_free(bio);
        sk_X509_free(certs);
        return NULL;
    }
    X509 *x;
    while ((x = PEM_read_bio_X509(bio, NULL, pem_pass_cb, NULL)) != NULL)
        if (!sk_X509_push(certs, x))
            X509_free(x);
    ERR_clear_error();
    BIO_free(bio);
    return certs;
}

static int memmem_text(const ssync_buf *f, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= f->len; i++)
        if (memcmp(f->data + i, needle, n) == 0)
            return 1;
    return 0;
}

/* Whether a PEM "-----BEGIN <label>-----" line whose label ends in suffix exists. */
static int has_pem_label(const ssync_buf *f, const char *suffix)
{
    size_t sl = strlen(suffix);
    for (size_t i = 0; i + 11 <= f->len; i++) {
        if (memcmp(f->data + i, "-----BEGIN ", 11) != 0)
            continue;
        size_t j = i + 11;
        while (j < f->len && f->data[j] != '-' && f->data[j] != '\n')
            j++;
        if (j + 5 <= f->len && memcmp(f->data + j, "-----", 5) == 0 && j - (i + 11) >= sl &&
            memcmp(f->data + j - sl, suffix, sl) == 0)
            return 1;
    }
    return 0;
}

static ssync_code load_pem_key(const ssync_buf *file, const char *password, EVP_PKEY **key,
                               ssync_error *err)
{
    /* tell "no key" and "cannot decrypt" apart by the PEM labels: OpenSSL's decoder reports
     * both as a generic failure */
    if (!has_pem_label(file, "PRIVATE KEY"))
        return ssync_fail(err, SSYNC_ERR_KRA_NO_KEY, "no PEM private key in the file");
    int encrypted =
        has_pem_label(file, "ENCRYPTED PRIVATE KEY") || memmem_text(file, "Proc-Type: 4,ENCRYPTED");
    BIO *bio = BIO_new_mem_buf(file->data, (int)file->len);
    if (!bio)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "BIO");
    ERR_clear_error();
    *key = PEM_read_bio_PrivateKey(bio, NULL, pem_pass_cb, (void *)password);
    BIO_free(bio);
    if (*key) {
        ERR_clear_error();
        return SSYNC_OK;
    }
    if (!encrypted)
        return ssync_fail_ssl(err, SSYNC_ERR_KRA_LOAD, "cannot parse the PEM private key");
    ERR_clear_error();
    return ssync_fail(err, SSYNC_ERR_KRA_PASSWORD, "%s",
                      password ? "cannot decrypt the PEM private key"
                               : "the PEM private key is encrypted and no password was given");
}

static ssync_code read_cert_file(const char *path, STACK_OF(X509) * *certs, ssync_error *err)
{
    ssync_buf f = {0};
    ssync_code rc = ssync_read_file(path, SSYNC_MAX_INPUT_FILE, &f, err);
    if (rc != SSYNC_OK)
        return rc;
    *certs = read_pem_certs(f.data, f.len);
    if (*certs && sk_X509_num(*certs) == 0) {
        const unsigned char *q = f.data;
        X509 *x = d2i_X509(NULL, &q, (long)f.len);
        if (x && !sk_X509_push(*certs, x))
            X509_free(x);
        ERR_clear_error();
    }
    ssync_buf_free(&f);
    if (!*certs)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
    if (sk_X509_num(*certs) == 0)
        return ssync_fail(err, SSYNC_ERR_KRA_NO_CERT, "%s: no certificate (PEM or DER)", path);
    return SSYNC_OK;
}

static ssync_code finish_add(ssync_kra_set *set, const char *path, EVP_PKEY *key,
                             STACK_OF(X509) * certs, const char *cert_path, ssync_code rc,
                             ssync_error *err);

ssync_code ssync_kra_set_add_file(ssync_kra_set *set, const char *path, const char *password,
                                  const char *cert_path, ssync_error *err)
{
    if (!set || !path)
        return ssync_fail(err, SSYNC_ERR_ARG, "KRA set and path are required");
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    STACK_OF(X509) *certs = NULL;
    ssync_code rc;
    if (ssync_is_pkcs11_uri(path)) {
        /* the key stays on the token; its certificate comes from cert_path or the token */
        rc = ssync_kra_pkcs11_load(&set->engine, path, password, &key, cert_path ? NULL : &certs,
                                   err);
        if (rc == SSYNC_OK && !cert_path && sk_X509_num(certs) == 0)
            rc = ssync_fail(err, SSYNC_ERR_KRA_NO_CERT,
                            "no certificate on the token for this URI: name it in [kra] cert");
        return finish_add(set, path, key, certs, cert_path, rc, err);
    }
    ssync_buf file = {0};
    rc = ssync_read_file(path, SSYNC_MAX_INPUT_FILE, &file, err);
    if (rc != SSYNC_OK)
        return rc; /* fileio names the path */
    ERR_clear_error();

    const unsigned char *q = file.data;
    PKCS12 *p12 = file.len <= INT_MAX ? d2i_PKCS12(NULL, &q, (long)file.len) : NULL;
    if (p12) {
        rc = ssync_p12_parse(&set->reader, p12, password, SSYNC_ERR_KRA_PASSWORD,
                             SSYNC_ERR_KRA_LOAD, &key, &cert, &certs, err);
        PKCS12_free(p12);
        if (rc == SSYNC_OK && !key)
            rc = ssync_fail(err, SSYNC_ERR_KRA_NO_KEY, "the PKCS#12 holds no private key");
        if (rc == SSYNC_OK && cert) {
            /* PKCS12_parse's choice joins the others, so find_cert sees every certificate */
            if (!certs)
                certs = sk_X509_new_null();
            if (!certs || !sk_X509_insert(certs, cert, 0)) {
                X509_free(cert);
                rc = ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
            }
            cert = NULL;
        }
    } else if (memmem_text(&file, "-----BEGIN ")) {
        ERR_clear_error();
        rc = load_pem_key(&file, password, &key, err);
        if (rc == SSYNC_OK && !cert_path) {
            certs = read_pem_certs(file.data, file.len);
            if (!certs)
                rc = ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
        }
    } else {
        ERR_clear_error();
        rc = ssync_fail(err, SSYNC_ERR_KRA_LOAD, "neither a PKCS#12 nor a PEM file");
    }
    ssync_buf_free_secret(&file);
    if (rc == SSYNC_OK)
        rc = ssync_check_private_file(path, err); /* it holds a private key: keep it private */
    return finish_add(set, path, key, certs, cert_path, rc, err);
}

/* The common tail: the certificate (from cert_path when given, else among certs) that matches
 * key joins the set. Takes key and certs. */
static ssync_code finish_add(ssync_kra_set *set, const char *path, EVP_PKEY *key,
                             STACK_OF(X509) * certs, const char *cert_path, ssync_code rc,
                             ssync_error *err)
{
    X509 *cert = NULL;
    if (rc == SSYNC_OK && cert_path) {
        sk_X509_pop_free(certs, X509_free);
        certs = NULL;
        rc = read_cert_file(cert_path, &certs, err);
    }
    if (rc == SSYNC_OK) {
        cert = find_cert(certs, key);
        if (!cert)
            rc = ssync_fail(err, SSYNC_ERR_KRA_NO_CERT, "%d certificate(s), none matches the key",
                            certs ? sk_X509_num(certs) : 0);
        else
            rc = ssync_kra_set_add(set, key, cert, err);
    }
    EVP_PKEY_free(key);
    sk_X509_pop_free(certs, X509_free);
    if (rc != SSYNC_OK) {
        char shown[512];
        ssync_pkcs11_uri_display(path, shown, sizeof(shown)); /* a file path stays as it is */
        ssync_error_prefix(err, "%s: ", shown);
    }
    return rc;
}

/* The password of key i: its password file (the only one, or the one at i) read into pw, else the
 * environment variable, else none. */
static ssync_code key_password(const ssync_kra_cfg *cfg, size_t i, const char *password_file_name,
                               ssync_kra_each_fn each, void *each_ctx, ssync_buf *pw,
                               const char **password, ssync_error *err)
{
    const ssync_kra_paths *files = &cfg->password_file;
    if (files->n == 0) {
        *password = cfg->password_env ? getenv(cfg->password_env) : NULL;
        return SSYNC_OK;
    }
    if (i > 0 && files->n == 1)
        return SSYNC_OK; /* one for all: read once */
    size_t at = files->n == 1 ? 0 : i;
    ssync_buf_free_secret(pw);
    *password = NULL;
    ssync_code rc = ssync_read_secret_file(files->v[at], pw, err);
    if (rc != SSYNC_OK) {
        ssync_error_prefix(err,
                           "%s: ", password_file_name ? password_file_name : "KRA password file");
        if (each)
            each(each_ctx, &(ssync_kra_event){.step = SSYNC_KRA_STEP_PASSWORD_FILE,
                                              .index = at,
                                              .path = files->v[at],
                                              .err = err});
        return rc;
    }
    *password = (const char *)pw->data;
    return SSYNC_OK;
}

ssync_code ssync_kra_set_load(const ssync_kra_cfg *cfg, const char *password_file_name,
                              ssync_kra_each_fn each, void *each_ctx, ssync_kra_set **out,
                              ssync_error *err)
{
    if (!out || !cfg)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_kra_set_load");
    *out = NULL;
    ssync_error scratch = {0};
    if (!err)
        err = &scratch; /* each sees the error of a failed step */
    const ssync_kra_paths *keys = &cfg->key;
    if (keys->n == 0)
        return ssync_fail(err, SSYNC_ERR_CONFIG, "no KRA key given");
    if (cfg->password_file.n > 1 && cfg->password_file.n != keys->n)
        return ssync_fail(err, SSYNC_ERR_CONFIG,
                          "give one password file for all KRA keys or one per key (%zu given, %zu "
                          "keys)",
                          cfg->password_file.n, keys->n);
    if (cfg->cert.n > keys->n)
        return ssync_fail(err, SSYNC_ERR_CONFIG, "more KRA certificates than keys");
    ssync_kra_set *set = NULL;
    ssync_code rc = ssync_kra_set_new(&set, err);
    ssync_buf pw = {0};
    const char *password = NULL;
    for (size_t i = 0; rc == SSYNC_OK && i < keys->n; i++) {
        rc = key_password(cfg, i, password_file_name, each, each_ctx, &pw, &password, err);
        if (rc != SSYNC_OK)
            break;
        size_t before = ssync_kra_set_count(set);
        const char *cert = i < cfg->cert.n ? cfg->cert.v[i] : NULL;
        rc = ssync_kra_set_add_file(set, keys->v[i], password, cert, err);
        if (!each)
            continue;
        ssync_kra_event ev = {.step = SSYNC_KRA_STEP_KEY, .index = i, .path = keys->v[i]};
        if (rc == SSYNC_OK)
            ssync_kra_set_get(set, before, NULL, &ev.cert);
        else
            ev.err = err;
        if (each(each_ctx, &ev) && rc != SSYNC_OK) {
            rc = SSYNC_OK; /* the caller reported it and goes on without this key */
            ssync_error_clear(err);
        }
    }
    ssync_buf_free_secret(&pw);
    if (rc != SSYNC_OK) {
        ssync_kra_set_free(set);
        return rc;
    }
    *out = set;
    return SSYNC_OK;
}
