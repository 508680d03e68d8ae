/* smimesync-lab: a lab CA that emulates AD CS issuing S/MIME encryption certificates with key
 * archival ([MS-WCCE] 2.2.2.9 for the key blob, [MS-CSRA] 3.1.4.2.9 for the recovery blob). It uses
 * OpenSSL directly and never the project's recovery code, so it is a second implementation the
 * recovery code is checked against. Shared types of the src/lab files. */
#ifndef SSYNC_LAB_H
#define SSYNC_LAB_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LAB_PROG "smimesync-lab"
#define LAB_DAY ((time_t)86400)
#define LAB_CERT_DAYS 730 /* user certificates: two years, the usual S/MIME template period */
#define LAB_SERIAL_LEN 19 /* user certificate serials, as long as AD CS writes them */
#define LAB_KRA_SERIAL_LEN 20
#define LAB_MAX_KRAS 16

/* Exit codes of the tool. */
enum { LAB_EXIT_OK = 0, LAB_EXIT_FAIL = 1, LAB_EXIT_USAGE = 2 };

typedef struct lab_opts {
    const char *out;
    unsigned users;    /* users in users.csv (they exist in Entra ID) */
    unsigned unknown;  /* extra certificate holders that are not in users.csv */
    unsigned kras;     /* key recovery agents */
    unsigned renewals; /* holders with 2-3 generations of certificates */
    unsigned revoked;  /* revoked certificates */
    unsigned expired;  /* holders whose current certificate has lapsed */
    unsigned key_pool; /* distinct RSA user keys, reused across certificates */
    unsigned threads;
    int aes256; /* content cipher of the archived key: 0 = 3DES-CBC, 1 = AES-256-CBC */
    uint64_t seed;
    int groups;           /* write groups.csv and inGroup (--groups) */
    const char *pfx_dir;  /* also write the pfx source there (--pfx-dir); NULL: no */
    const char *edb;      /* also write an AD CS database there (--edb, lab_edb.c); NULL: no */
    const char *edb_opts; /* --edb-opts: fixture variants, see lab_edb.c */
    int from_blobs;       /* --edb-opts from=DIR: only the database of DIR's blobs */
    const char *ca_name;  /* --ca-name: the issuing CA's common name; NULL: "Lab Issuing CA" */
} lab_opts;

/* A small deterministic PRNG (splitmix64) for the structure of the lab: names, ids, serials,
 * dates and who gets what. Keys and secrets come from OpenSSL's CSPRNG instead. */
typedef struct lab_rng {
    uint64_t s;
} lab_rng;

typedef enum lab_enc { LAB_ENC_DER, LAB_ENC_BASE64, LAB_ENC_BASE64HEADER } lab_enc;

typedef struct lab_user {
    char display[64];  /* "Alice Adams" */
    char upn[96];      /* userPrincipalName */
    char mail[96];     /* e-mail address in the certificates */
    char dir_mail[96]; /* mail in Entra ID (users.csv); differs from mail when mismatch */
    char id[37];       /* Entra object id; "" for unknown users */
    int unknown;       /* not in users.csv */
    int mismatch;      /* dir_mail != mail */
    int subject_email; /* emailAddress also in the subject */
    int expired;       /* current certificate has lapsed */
    int in_group;      /* --groups: 0 outside, 1 direct member of the lab group, 2 through the
                          nested group */
    unsigned first_cert, ncerts;
} lab_user;

typedef struct lab_cert {
    unsigned user, generation; /* generation 1 is the oldest */
    unsigned char serial[LAB_SERIAL_LEN];
    time_t not_before, not_after, revoked_at;
    int superseded, revoked, expired;
    int reason;   /* CRL reason code when revoked */
    unsigned key; /* index into the key pool */
    lab_enc enc;
    char file[48]; /* relative path of the recovery blob */
    /* filled in by the worker that issues it */
    char thumbprint[41];
    char serial_hex[2 * LAB_SERIAL_LEN + 3];
} lab_cert;

typedef struct lab {
    lab_opts opt;
    lab_rng rng;
    time_t now;

    lab_user *user;
    unsigned nuser; /* opt.users + opt.unknown */
    lab_cert *cert;
    unsigned ncert;
    unsigned mismatches, superseded, revoked, expired;

    /* issuing CA and key recovery agents */
    EVP_PKEY *ca_key;
    X509 *ca;
    unsigned char ca_serial[16];
    EVP_PKEY *kra_key[LAB_MAX_KRAS];
    X509 *kra[LAB_MAX_KRAS];
    unsigned char kra_serial[LAB_MAX_KRAS][LAB_KRA_SERIAL_LEN];
    STACK_OF(X509) * kra_stack;
    const EVP_CIPHER *cipher;

    /* user key pool and each key as a PRIVATEKEYBLOB */
    EVP_PKEY **pool;
    unsigned char **pool_blob;
    size_t *pool_blob_len;
    unsigned char **pool_pub; /* RSAPublicKey DER, for the certificates' subjectPublicKey */
    size_t *pool_pub_len;

    /* connector, Entra app, TLS for the emulator */
    EVP_PKEY *connector_key, *tls_ca_key, *server_key, *app_key;
    unsigned char tls_serial[3][16];
    char tenant_id[37], client_id[37];
    char group_id[37], subgroup_id[37]; /* --groups */
    /* --pfx-dir: OpenSSL's default and legacy providers, unloaded at the end */
    struct ossl_provider_st *providers[2];
} lab;

/* lab_util.c */
void lab_rng_seed(lab_rng *r, uint64_t seed);
uint64_t lab_rng_next(lab_rng *r);
uint32_t lab_rng_below(lab_rng *r, uint32_t n); /* uniform in [0, n), n > 0 */
void lab_rng_bytes(lab_rng *r, unsigned char *out, size_t n);
void lab_rng_guid(lab_rng *r, char out[37]); /* random (v4) GUID, lowercase, with dashes */
/* k distinct indices out of [0, n) in idx[0..k-1], in random order. Returns 0 or -1 (memory). */
int lab_rng_pick(lab_rng *r, unsigned n, unsigned k, unsigned *idx);

void lab_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* lab_err with the reason from OpenSSL's error queue appended. */
void lab_err_ssl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void lab_iso8601(time_t t, char out[21]);
void lab_hex_upper(const unsigned char *p, size_t n, char *out);
/* Write DIR/rel atomically with mode (0600 for secrets). Returns 0 or -1 (reported). */
int lab_write(const lab *l, const char *rel, const void *data, size_t len, unsigned mode);
int lab_write_str(const lab *l, const char *rel, const char *s, unsigned mode);
int lab_write_cert_pem(const lab *l, const char *rel, X509 *x);
int lab_write_key_pem(const lab *l, const char *rel, EVP_PKEY *k); /* PKCS#8, 0600 */
/* Run fn(ctx, i) for i in [0, n) on up to threads threads; stops early and returns -1 if any
 * call fails. */
int lab_parallel(unsigned threads, size_t n, int (*fn)(void *ctx, size_t i), void *ctx);

/* lab_ca.c */
int lab_make_ca(lab *l);
int lab_make_kras(lab *l);
X509 *lab_issue_user_cert(const lab *l, const lab_cert *c);
int lab_write_crl(const lab *l);
/* Helpers for the other certificates of the lab (TLS, app). */
X509 *lab_cert_new(const unsigned char *serial, size_t serial_len, X509_NAME *subject,
                   const X509_NAME *issuer, time_t nb, time_t na, EVP_PKEY *pub);
/* Set an RSA subject public key from its RSAPublicKey DER (copied). */
int lab_cert_set_rsa_pub(X509 *x, const unsigned char *der, size_t len);
int lab_cert_ext(X509 *x, X509 *issuer, int nid, const char *value);
int lab_cert_sign(X509 *x, EVP_PKEY *key);

/* lab_archive.c */
/* The key as a CryptoAPI PRIVATEKEYBLOB ([MS-WCCE] 2.2.2.9; Win32 docs: Base Provider Key
 * BLOBs). */
int lab_keyblob(EVP_PKEY *k, unsigned char **out, size_t *len);
/* The recovery blob of certutil -getkey for one certificate, DER ([MS-CSRA] 3.1.4.2.9). */
int lab_recovery_blob(const lab *l, X509 *user_cert, const unsigned char *keyblob, size_t bloblen,
                      unsigned char **out, size_t *outlen);
/* DER, CR_OUT_BASE64 or CR_OUT_BASE64HEADER text. */
int lab_encode(lab_enc enc, const unsigned char *der, size_t len, unsigned char **out,
               size_t *outlen);
const char *lab_enc_name(lab_enc enc);

/* lab_users.c */
int lab_plan(lab *l);
int lab_write_users_csv(const lab *l);
int lab_write_manifest(const lab *l);

/* lab_groups.c: a group with most users, some through a nested group. Drawn from its own PRNG
 * (seeded from the seed), so the rest of the lab is the same with or without --groups. */
int lab_plan_groups(lab *l);
int lab_write_groups_csv(const lab *l);

/* lab_pfx.c: the pfx source (--pfx-dir): one PKCS#12 per certificate under its own random
 * password, the password in a 0600 file beside it, and manifest.csv. */
int lab_pfx_prepare(lab *l);
int lab_pfx_write_one(const lab *l, const lab_cert *c, X509 *cert);
int lab_pfx_write_manifest(const lab *l);
/* The file name stem of a certificate's PKCS#12 ("u00001-g1"), into out[32]. */
void lab_pfx_stem(const lab_cert *c, char out[32]);

/* lab_edb.c: the CA database (--edb): Requests and Certificates as AD CS keeps them, read
 * from the recovery blobs already written. */
int lab_edb_check_opts(const char *opts);
int lab_write_edb(const lab *l);
/* --edb FILE --edb-opts from=DIR[,...] without --out: the database of DIR's blobs alone. */
int lab_edb_from_blobs(const char *path, const char *opts);
/* 1 when opts holds from=DIR. */
int lab_edb_from_opt(const char *opts);

/* lab_keys.c */
int lab_generate_keys(lab *l);
int lab_write_kra_files(const lab *l);
int lab_write_connector(const lab *l);
int lab_write_emulator_files(lab *l);

#endif
