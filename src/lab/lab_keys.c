/* smimesync-lab keys and secrets: key generation, KRA files, the Intune connector key, and the
 * TLS / Entra app material the local emulator and the demo use. */
#include "lab.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct keygen_ctx {
    EVP_PKEY ***slot;
};

static int keygen_one(void *arg, size_t i)
{
    struct keygen_ctx *k = arg;
    EVP_PKEY *key = EVP_RSA_gen(2048);
    if (!key) {
        lab_err_ssl("RSA key generation failed");
        return -1;
    }
    *k->slot[i] = key;
    return 0;
}

static int keyblob_one(void *arg, size_t i)
{
    lab *l = arg;
    unsigned char *pub = NULL;
    int n = i2d_PublicKey(l->pool[i], &pub);
    if (n <= 0) {
        lab_err_ssl("cannot encode a user public key");
        return -1;
    }
    l->pool_pub[i] = pub;
    l->pool_pub_len[i] = (size_t)n;
    return lab_keyblob(l->pool[i], &l->pool_blob[i], &l->pool_blob_len[i]);
}

int lab_generate_keys(lab *l)
{
    unsigned np = l->opt.key_pool;
    l->pool = calloc(np, sizeof *l->pool);
    l->pool_blob = calloc(np, sizeof *l->pool_blob);
    l->pool_blob_len = calloc(np, sizeof *l->pool_blob_len);
    l->pool_pub = calloc(np, sizeof *l->pool_pub);
    l->pool_pub_len = calloc(np, sizeof *l->pool_pub_len);
    size_t n = 0, cap = (size_t)np + l->opt.kras + 5;
    EVP_PKEY ***slot = calloc(cap, sizeof *slot);
    if (!l->pool || !l->pool_blob || !l->pool_blob_len || !l->pool_pub || !l->pool_pub_len ||
        !slot) {
        free(slot);
        lab_err("out of memory");
        return -1;
    }
    slot[n++] = &l->ca_key;
    for (unsigned i = 0; i < l->opt.kras; i++)
        slot[n++] = &l->kra_key[i];
    slot[n++] = &l->connector_key;
    slot[n++] = &l->tls_ca_key;
    slot[n++] = &l->app_key;
    for (unsigned i = 0; i < np; i++)
        slot[n++] = &l->pool[i];
    struct keygen_ctx k = {slot};
    int rc = lab_parallel(l->opt.threads, n, keygen_one, &k);
    free(slot);
    /* The emulator's TLS key is ECDSA P-256: every write opens a fresh connection (no blind
     * re-POST on a reused one, src/lib/graph/http.c), and the server's signature of each
     * handshake costs about 0.05 ms with P-256 against about 1.5 ms with RSA-2048. */
    if (rc == 0 && !(l->server_key = EVP_EC_gen("P-256"))) {
        lab_err_ssl("EC key generation failed");
        rc = -1;
    }
    if (rc == 0)
        rc = lab_parallel(l->opt.threads, np, keyblob_one, l);
    return rc;
}

/* n characters drawn uniformly from alphabet with the CSPRNG (rejection sampling). */
static int random_text(char *out, size_t n, const char *alphabet)
{
    size_t na = strlen(alphabet);
    unsigned limit = 256 - 256 % (unsigned)na;
    size_t o = 0;
    while (o < n) {
        unsigned char b[64];
        if (RAND_bytes(b, sizeof b) != 1) {
            lab_err_ssl("random number generator failed");
            return -1;
        }
        for (size_t i = 0; i < sizeof b && o < n; i++)
            if (b[i] < limit)
                out[o++] = alphabet[b[i] % na];
        OPENSSL_cleanse(b, sizeof b);
    }
    out[n] = '\0';
    return 0;
}

static int write_p12(const lab *l, const char *rel, const char *pass, unsigned k)
{
    char name[64];
    snprintf(name, sizeof name, "Key Recovery Agent %u", k + 1);
    /* OpenSSL 3 defaults: AES-256-CBC/PBKDF2 bags, SHA-256 MAC */
    PKCS12 *p12 =
        PKCS12_create_ex(pass, name, l->kra_key[k], l->kra[k], NULL, 0, 0, 0, 0, 0, NULL, NULL);
    unsigned char *der = NULL;
    int len = p12 ? i2d_PKCS12(p12, &der) : -1;
    PKCS12_free(p12);
    if (len <= 0) {
        lab_err_ssl("%s: cannot build the PKCS#12", rel);
        return -1;
    }
    int rc = lab_write(l, rel, der, (size_t)len, 0600);
    OPENSSL_free(der);
    return rc;
}

int lab_write_kra_files(const lab *l)
{
    char pass[25];
    /* printable ASCII without space */
    char alphabet[95];
    for (int c = 0x21; c <= 0x7e; c++)
        alphabet[c - 0x21] = (char)c;
    alphabet[94] = '\0';
    if (random_text(pass, 24, alphabet) || lab_write_str(l, "kra.pass", pass, 0600))
        goto fail;
    for (unsigned k = 0; k < l->opt.kras; k++) {
        char pem[32], key[32], p12[32];
        snprintf(pem, sizeof pem, "kra%u.pem", k + 1);
        snprintf(key, sizeof key, "kra%u.key", k + 1);
        if (k == 0)
            snprintf(p12, sizeof p12, "kra.p12");
        else
            snprintf(p12, sizeof p12, "kra%u.p12", k + 1);
        if (lab_write_cert_pem(l, pem, l->kra[k]) || lab_write_key_pem(l, key, l->kra_key[k]) ||
            write_p12(l, p12, pass, k))
            goto fail;
    }
    OPENSSL_cleanse(pass, sizeof pass);
    return 0;
fail:
    OPENSSL_cleanse(pass, sizeof pass);
    return -1;
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

int lab_write_connector(const lab *l)
{
    if (lab_write_key_pem(l, "connector.key", l->connector_key))
        return -1;
    int rc = -1;
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long pemlen = 0;
    if (!b || !PEM_write_bio_PUBKEY(b, l->connector_key) ||
        (pemlen = BIO_get_mem_data(b, &pem)) <= 0) {
        BIO_free(b);
        lab_err_ssl("cannot encode the connector public key");
        return -1;
    }
    rc = lab_write(l, "connector-public.pem", pem, (size_t)pemlen, 0644);
    BIO_free(b);
    if (rc)
        return -1;

    /* BCRYPT_RSAPUBLIC_BLOB as Export-IntunePublicKey writes it: BCRYPT_RSAKEY_BLOB { Magic
     * "RSA1", BitLength, cbPublicExp, cbModulus, cbPrime1 0, cbPrime2 0 } (six little-endian
     * ULONGs), then exponent and modulus big-endian, exponent without leading zeros */
    BIGNUM *n = NULL, *e = NULL;
    unsigned char *blob = NULL;
    rc = -1;
    if (EVP_PKEY_get_bn_param(l->connector_key, OSSL_PKEY_PARAM_RSA_N, &n) &&
        EVP_PKEY_get_bn_param(l->connector_key, OSSL_PKEY_PARAM_RSA_E, &e)) {
        int bits = EVP_PKEY_get_bits(l->connector_key);
        size_t elen = (size_t)BN_num_bytes(e), nlen = (size_t)(bits + 7) / 8;
        blob = malloc(24 + elen + nlen);
        if (blob) {
            put_le32(blob, 0x31415352);
            put_le32(blob + 4, (uint32_t)bits);
            put_le32(blob + 8, (uint32_t)elen);
            put_le32(blob + 12, (uint32_t)nlen);
            put_le32(blob + 16, 0);
            put_le32(blob + 20, 0);
            if (BN_bn2binpad(e, blob + 24, (int)elen) == (int)elen &&
                BN_bn2binpad(n, blob + 24 + elen, (int)nlen) == (int)nlen)
                rc = lab_write(l, "connector-public.rsa1blob", blob, 24 + elen + nlen, 0644);
        }
    }
    if (rc && !blob)
        lab_err_ssl("cannot build the connector RSA1 blob");
    free(blob);
    BN_free(n);
    BN_free(e);
    return rc;
}

static X509_NAME *simple_name(const char *cn)
{
    X509_NAME *n = X509_NAME_new();
    if (!n ||
        !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"smimesync lab",
                                    -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0)) {
        X509_NAME_free(n);
        return NULL;
    }
    return n;
}

int lab_write_emulator_files(lab *l)
{
    X509 *ca = NULL, *srv = NULL, *app = NULL;
    int rc = -1;
    X509_NAME *n = simple_name("Lab TLS Test CA");
    ca = n ? lab_cert_new(l->tls_serial[0], 16, n, NULL, l->now - LAB_DAY,
                          l->now + 10 * 365 * LAB_DAY, l->tls_ca_key)
           : NULL;
    X509_NAME_free(n);
    if (!ca || lab_cert_ext(ca, NULL, NID_basic_constraints, "critical,CA:TRUE") ||
        lab_cert_ext(ca, NULL, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        lab_cert_ext(ca, NULL, NID_subject_key_identifier, "hash") ||
        lab_cert_sign(ca, l->tls_ca_key)) {
        lab_err_ssl("cannot create the TLS CA certificate");
        goto done;
    }
    n = simple_name("localhost");
    srv = n ? lab_cert_new(l->tls_serial[1], 16, n, X509_get_subject_name(ca), l->now - LAB_DAY,
                           l->now + 397 * LAB_DAY, l->server_key)
            : NULL;
    X509_NAME_free(n);
    if (!srv || lab_cert_ext(srv, ca, NID_basic_constraints, "critical,CA:FALSE") ||
        lab_cert_ext(srv, ca, NID_key_usage, "critical,digitalSignature") ||
        lab_cert_ext(srv, ca, NID_ext_key_usage, "serverAuth") ||
        lab_cert_ext(srv, ca, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1") ||
        lab_cert_ext(srv, ca, NID_subject_key_identifier, "hash") ||
        lab_cert_ext(srv, ca, NID_authority_key_identifier, "keyid:always") ||
        lab_cert_sign(srv, l->tls_ca_key)) {
        lab_err_ssl("cannot create the TLS server certificate");
        goto done;
    }
    /* the Entra app's client-credential certificate: self-signed, as New-SelfSignedCertificate
     * makes it for app registrations */
    n = simple_name("smimesync lab app");
    app = n ? lab_cert_new(l->tls_serial[2], 16, n, NULL, l->now - LAB_DAY,
                           l->now + 2 * 365 * LAB_DAY, l->app_key)
            : NULL;
    X509_NAME_free(n);
    if (!app || lab_cert_ext(app, NULL, NID_basic_constraints, "critical,CA:FALSE") ||
        lab_cert_ext(app, NULL, NID_key_usage, "critical,digitalSignature") ||
        lab_cert_ext(app, NULL, NID_ext_key_usage, "clientAuth") ||
        lab_cert_ext(app, NULL, NID_subject_key_identifier, "hash") ||
        lab_cert_sign(app, l->app_key)) {
        lab_err_ssl("cannot create the app certificate");
        goto done;
    }
    /* Entra client secrets are 40 characters of this alphabet */
    char secret[41];
    if (lab_write_cert_pem(l, "tls/ca.pem", ca) ||
        lab_write_key_pem(l, "tls/ca.key", l->tls_ca_key) ||
        lab_write_cert_pem(l, "tls/server.pem", srv) ||
        lab_write_key_pem(l, "tls/server.key", l->server_key) ||
        lab_write_cert_pem(l, "app.pem", app) || lab_write_key_pem(l, "app.key", l->app_key) ||
        random_text(secret, 40,
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~._-") ||
        lab_write_str(l, "client-secret", secret, 0600) ||
        lab_write_str(l, "tenant-id", l->tenant_id, 0644) ||
        lab_write_str(l, "client-id", l->client_id, 0644)) {
        OPENSSL_cleanse(secret, sizeof secret);
        goto done;
    }
    OPENSSL_cleanse(secret, sizeof secret);
    rc = 0;
done:
    X509_free(app);
    X509_free(srv);
    X509_free(ca);
    return rc;
}
