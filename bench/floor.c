/* smimesync-bench-floor: the crypto floor per certificate. The unavoidable OpenSSL primitives of
 * one export at the compat profile's settings: one RSA-2048 private-key operation with the KRA
 * key (PKCS#1 v1.5 key transport of the content key), the five PKCS#12 key derivations (key bag
 * and certificate bag: key + IV each; MAC key; SHA-1, 2048 iterations) and one
 * RSA-OAEP-SHA-512 public-key operation to the connector key.
 *
 * Usage: smimesync-bench-floor [COUNT [THREADS]]. Prints "floor_ms_per_cert <ms>" (one thread)
 * and the breakdown; with THREADS > 1 it then runs the same loop on THREADS threads at once and
 * prints "parallel_ms_per_cert" (wall time / all certificates) and "parallel_scaling" (how many
 * single-thread floors the machine delivers on THREADS threads: the ceiling any parallel code
 * can reach here, e.g. below THREADS when the virtual CPUs share physical cores).
 *
 * It also measures the format floor: the floor plus what the record format itself asks of
 * OpenSSL 3.0 per certificate, whoever writes the code: decoding the user certificate (an X509
 * for the certificate bag; OpenSSL 3.0 decodes its public key with a provider decoder), 3DES-CBC
 * decryption of the archived key (the RawArchivedKey's content encryption), encoding the key as
 * PKCS#8, 3DES-CBC encryption of the key bag and the certificate bag (compat profile), and the
 * HMAC-SHA1 over the authenticated safe. "format_floor_ms_per_cert" and
 * "format_ceiling_ratio" (the best export ÷ single-thread floor any implementation can reach on
 * THREADS threads here: parallel_scaling × floor ÷ format floor) are printed. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ITER 2048
#define MAX_THREADS 64

/* What the format floor works on: the user's key and certificate, as a lab record has them. */
struct format_input {
    EVP_PKEY *user;
    const unsigned char *cert_der;
    size_t cert_len;
    int with_format; /* 0: the crypto floor only (the parallel run) */
};

struct floor_run {
    EVP_PKEY *kra, *connector;
    const unsigned char *wrapped;
    size_t wlen;
    long count;
    const struct format_input *fmt;
    double t_priv, t_kdf, t_pub, t_fmt;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "smimesync-bench-floor: %s failed\n", what);
    exit(1);
}

static EVP_PKEY *rsa2048(void)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    if (!k)
        die("RSA key generation");
    return k;
}

/* 3DES-CBC over len bytes of in (encrypt or decrypt), as the bags and the archived key use it. */
static void des3(int enc, const unsigned char *in, size_t len)
{
    static const unsigned char key[24] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
                                          13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24};
    static const unsigned char iv[8] = {0};
    unsigned char out[8192];
    int n = 0, f = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (len > sizeof out - 16 || !c ||
        EVP_CipherInit_ex(c, EVP_des_ede3_cbc(), NULL, key, iv, enc) != 1 ||
        EVP_CIPHER_CTX_set_padding(c, 0) != 1 ||
        EVP_CipherUpdate(c, out, &n, in, (int)(len - len % 8)) != 1 ||
        EVP_CipherFinal_ex(c, out + n, &f) != 1)
        die("3DES");
    EVP_CIPHER_CTX_free(c);
}

/* The format's own OpenSSL work for one certificate (see the header comment). */
static void format_work(const struct format_input *in)
{
    const unsigned char *q = in->cert_der;
    X509 *x = d2i_X509(NULL, &q, (long)in->cert_len);
    if (!x || !X509_get0_pubkey(x))
        die("certificate decoding");
    X509_free(x);
    unsigned char archived[1172] = {0}; /* a 2048-bit PRIVATEKEYBLOB's size */
    des3(0, archived, sizeof archived);
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(in->user);
    unsigned char *der = NULL;
    int n = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
    if (n <= 0)
        die("PKCS#8 encoding");
    des3(1, der, (size_t)n);
    des3(1, in->cert_der, in->cert_len);
    unsigned char mac[20], safe[4096] = {0};
    unsigned int mlen = sizeof mac;
    size_t slen = (size_t)n + in->cert_len + 200;
    if (!HMAC(EVP_sha1(), der, 20, safe, slen < sizeof safe ? slen : sizeof safe, mac, &mlen))
        die("HMAC");
    OPENSSL_clear_free(der, (size_t)n);
    PKCS8_PRIV_KEY_INFO_free(p8);
}

static void *floor_loop(void *arg)
{
    struct floor_run *r = arg;
    unsigned char out[256], password[33] = {0}, salt[8], derived[24];
    size_t olen;
    for (int i = 0; i < 32; i++)
        password[i] = (unsigned char)('A' + i % 26);
    RAND_bytes(salt, sizeof salt);
    for (long n = 0; n < r->count; n++) {
        double t0 = now();
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(r->kra, NULL);
        olen = sizeof out;
        if (!c || EVP_PKEY_decrypt_init(c) <= 0 ||
            EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) <= 0 ||
            EVP_PKEY_decrypt(c, out, &olen, r->wrapped, r->wlen) <= 0)
            die("KRA decryption");
        EVP_PKEY_CTX_free(c);
        double t1 = now();
        /* key bag key + IV, certificate bag key + IV, MAC key */
        static const int ids[5] = {PKCS12_KEY_ID, PKCS12_IV_ID, PKCS12_KEY_ID, PKCS12_IV_ID,
                                   PKCS12_MAC_ID};
        static const int lens[5] = {24, 8, 24, 8, 20};
        for (int k = 0; k < 5; k++)
            if (!PKCS12_key_gen_utf8((const char *)password, 32, salt, sizeof salt, ids[k], ITER,
                                     lens[k], derived, EVP_sha1()))
                die("PKCS#12 key derivation");
        double t2 = now();
        c = EVP_PKEY_CTX_new(r->connector, NULL);
        olen = sizeof out;
        if (!c || EVP_PKEY_encrypt_init(c) <= 0 ||
            EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha512()) <= 0 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha512()) <= 0 ||
            EVP_PKEY_encrypt(c, out, &olen, password, 32) <= 0)
            die("connector encryption");
        EVP_PKEY_CTX_free(c);
        double t3 = now();
        if (r->fmt->with_format)
            format_work(r->fmt);
        double t4 = now();
        r->t_priv += t1 - t0;
        r->t_kdf += t2 - t1;
        r->t_pub += t3 - t2;
        r->t_fmt += t4 - t3;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long count = argc > 1 ? strtol(argv[1], NULL, 10) : 300;
    long threads = argc > 2 ? strtol(argv[2], NULL, 10) : 1;
    if (count < 1 || count > 1000000 || threads < 1 || threads > MAX_THREADS) {
        fprintf(stderr, "usage: smimesync-bench-floor [COUNT 1-1000000 [THREADS 1-64]]\n");
        return 2;
    }
    EVP_PKEY *kra = rsa2048(), *connector = rsa2048();
    /* a wrapped 3DES content key, as the archived key's recipient info holds it */
    unsigned char cek[24], wrapped[256];
    size_t wlen = sizeof wrapped;
    RAND_bytes(cek, sizeof cek);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(kra, NULL);
    if (!c || EVP_PKEY_encrypt_init(c) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_encrypt(c, wrapped, &wlen, cek, sizeof cek) <= 0)
        die("wrap");
    EVP_PKEY_CTX_free(c);

    /* the user's key and a certificate for it, signed by the KRA key (what matters is its size
     * and shape: RSA-2048 SubjectPublicKeyInfo, a few extensions) */
    EVP_PKEY *user = rsa2048();
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();
    if (!cert || !name || !X509_set_version(cert, X509_VERSION_3) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(cert), 4711) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"Lab User", -1,
                                    -1, 0) ||
        !X509_set_subject_name(cert, name) || !X509_set_issuer_name(cert, name) ||
        !X509_gmtime_adj(X509_getm_notBefore(cert), 0) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * 365) || !X509_set_pubkey(cert, user) ||
        !X509_sign(cert, kra, EVP_sha256()))
        die("certificate");
    unsigned char *cert_der = NULL;
    int cert_len = i2d_X509(cert, &cert_der);
    if (cert_len <= 0)
        die("certificate encoding");
    struct format_input fmt = {user, cert_der, (size_t)cert_len, 1};
    struct format_input crypto_only = {user, cert_der, (size_t)cert_len, 0};

    struct floor_run one = {kra, connector, wrapped, wlen, count, &fmt, 0, 0, 0, 0};
    floor_loop(&one);
    double per = (one.t_priv + one.t_kdf + one.t_pub) / (double)count * 1000;
    double fmt_per = per + one.t_fmt / (double)count * 1000;
    printf("floor_ms_per_cert %.4f\n", per);
    printf("kra_rsa_private_ms %.4f\npkcs12_kdf_ms %.4f\nconnector_oaep_ms %.4f\ncount %ld\n",
           one.t_priv / (double)count * 1000, one.t_kdf / (double)count * 1000,
           one.t_pub / (double)count * 1000, count);
    printf("format_work_ms %.4f\nformat_floor_ms_per_cert %.4f\n", fmt_per - per, fmt_per);
    if (threads > 1) {
        struct floor_run runs[MAX_THREADS];
        pthread_t tid[MAX_THREADS];
        double t0 = now();
        for (long t = 0; t < threads; t++) {
            runs[t] =
                (struct floor_run){kra, connector, wrapped, wlen, count, &crypto_only, 0, 0, 0, 0};
            if (pthread_create(&tid[t], NULL, floor_loop, &runs[t]) != 0)
                die("thread start");
        }
        for (long t = 0; t < threads; t++)
            pthread_join(tid[t], NULL);
        double par = (now() - t0) / (double)(threads * count) * 1000;
        printf("parallel_threads %ld\nparallel_ms_per_cert %.4f\nparallel_scaling %.3f\n", threads,
               par, per / par);
        printf("format_ceiling_ratio %.3f\n", per / par * per / fmt_per);
    }
    OPENSSL_free(cert_der);
    X509_free(cert);
    X509_NAME_free(name);
    EVP_PKEY_free(user);
    EVP_PKEY_free(kra);
    EVP_PKEY_free(connector);
    return 0;
}
