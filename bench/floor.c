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
 * can reach here, e.g. below THREADS when the virtual CPUs share physical cores). */
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ITER 2048
#define MAX_THREADS 64

struct floor_run {
    EVP_PKEY *kra, *connector;
    const unsigned char *wrapped;
    size_t wlen;
    long count;
    double t_priv, t_kdf, t_pub;
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
        r->t_priv += t1 - t0;
        r->t_kdf += t2 - t1;
        r->t_pub += t3 - t2;
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

    struct floor_run one = {kra, connector, wrapped, wlen, count, 0, 0, 0};
    floor_loop(&one);
    double per = (one.t_priv + one.t_kdf + one.t_pub) / (double)count * 1000;
    printf("floor_ms_per_cert %.4f\n", per);
    printf("kra_rsa_private_ms %.4f\npkcs12_kdf_ms %.4f\nconnector_oaep_ms %.4f\ncount %ld\n",
           one.t_priv / (double)count * 1000, one.t_kdf / (double)count * 1000,
           one.t_pub / (double)count * 1000, count);
    if (threads > 1) {
        struct floor_run runs[MAX_THREADS];
        pthread_t tid[MAX_THREADS];
        double t0 = now();
        for (long t = 0; t < threads; t++) {
            runs[t] = (struct floor_run){kra, connector, wrapped, wlen, count, 0, 0, 0};
            if (pthread_create(&tid[t], NULL, floor_loop, &runs[t]) != 0)
                die("thread start");
        }
        for (long t = 0; t < threads; t++)
            pthread_join(tid[t], NULL);
        double par = (now() - t0) / (double)(threads * count) * 1000;
        printf("parallel_threads %ld\nparallel_ms_per_cert %.4f\nparallel_scaling %.3f\n", threads,
               par, per / par);
    }
    EVP_PKEY_free(kra);
    EVP_PKEY_free(connector);
    return 0;
}
