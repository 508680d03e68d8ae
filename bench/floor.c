/* smimesync-bench-floor: the crypto floor per certificate, single-threaded. The unavoidable
 * OpenSSL primitives of one export at the compat profile's settings: one RSA-2048 private-key
 * operation with the KRA key (PKCS#1 v1.5 key transport of the content key), the five PKCS#12
 * key derivations (key bag and certificate bag: key + IV each; MAC key; SHA-1, 2048 iterations)
 * and one RSA-OAEP-SHA-512 public-key operation to the connector key. Prints
 * "floor_ms_per_cert <ms>" and the breakdown. Usage: smimesync-bench-floor [COUNT] */
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ITER 2048

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static EVP_PKEY *rsa2048(void)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    if (!k) {
        fprintf(stderr, "smimesync-bench-floor: RSA key generation failed\n");
        exit(1);
    }
    return k;
}

static void die(const char *what)
{
    fprintf(stderr, "smimesync-bench-floor: %s failed\n", what);
    exit(1);
}

int main(int argc, char **argv)
{
    long count = argc > 1 ? strtol(argv[1], NULL, 10) : 300;
    if (count < 1 || count > 1000000) {
        fprintf(stderr, "usage: smimesync-bench-floor [COUNT 1-1000000]\n");
        return 2;
    }
    EVP_PKEY *kra = rsa2048(), *connector = rsa2048();
    /* a wrapped 3DES content key, as the archived key's recipient info holds it */
    unsigned char cek[24], wrapped[256], out[256], password[33] = {0}, salt[8], derived[24];
    size_t wlen = sizeof wrapped, olen;
    RAND_bytes(cek, sizeof cek);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(kra, NULL);
    if (!c || EVP_PKEY_encrypt_init(c) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_encrypt(c, wrapped, &wlen, cek, sizeof cek) <= 0)
        die("wrap");
    EVP_PKEY_CTX_free(c);
    for (int i = 0; i < 32; i++)
        password[i] = (unsigned char)('A' + i % 26);
    RAND_bytes(salt, sizeof salt);
    double t_priv = 0, t_kdf = 0, t_pub = 0;
    for (long n = 0; n < count; n++) {
        double t0 = now();
        c = EVP_PKEY_CTX_new(kra, NULL);
        olen = sizeof out;
        if (!c || EVP_PKEY_decrypt_init(c) <= 0 ||
            EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) <= 0 ||
            EVP_PKEY_decrypt(c, out, &olen, wrapped, wlen) <= 0)
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
        c = EVP_PKEY_CTX_new(connector, NULL);
        olen = sizeof out;
        if (!c || EVP_PKEY_encrypt_init(c) <= 0 ||
            EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha512()) <= 0 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha512()) <= 0 ||
            EVP_PKEY_encrypt(c, out, &olen, password, 32) <= 0)
            die("connector encryption");
        EVP_PKEY_CTX_free(c);
        double t3 = now();
        t_priv += t1 - t0;
        t_kdf += t2 - t1;
        t_pub += t3 - t2;
    }
    double per = (t_priv + t_kdf + t_pub) / (double)count * 1000;
    printf("floor_ms_per_cert %.4f\n", per);
    printf("kra_rsa_private_ms %.4f\npkcs12_kdf_ms %.4f\nconnector_oaep_ms %.4f\ncount %ld\n",
           t_priv / (double)count * 1000, t_kdf / (double)count * 1000,
           t_pub / (double)count * 1000, count);
    EVP_PKEY_free(kra);
    EVP_PKEY_free(connector);
    return 0;
}
