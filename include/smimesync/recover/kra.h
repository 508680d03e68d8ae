/* Key Recovery Agent keys: the master keys to every archived user key. Loaded from PKCS#12 files
 * (including Windows exports with legacy 3DES/RC2 encryption, for which OpenSSL's legacy provider
 * is loaded on demand) or from PEM (key and certificate in one file, or the certificate
 * separately). */
#ifndef SSYNC_KRA_H
#define SSYNC_KRA_H

#include "common/errors.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

typedef struct ssync_kra_set ssync_kra_set;

/* Borrowed paths: a configuration list or a repeated command-line option's values. */
typedef struct ssync_kra_paths {
    const char *const *v;
    size_t n;
} ssync_kra_paths;

/* Which KRA keys to load and how to open them: the configuration's [kra] section, or the --kra
 * options of export and recover. The strings are borrowed. */
typedef struct ssync_kra_cfg {
    ssync_kra_paths key;           /* PKCS#12 or PEM files (or pkcs11: URIs) */
    ssync_kra_paths cert;          /* certificates of PEM keys, by position (at most one per key) */
    ssync_kra_paths password_file; /* none, one for every key, or one per key */
    const char *password_env;      /* without a password file: the variable holding the password */
} ssync_kra_cfg;

typedef enum ssync_kra_step {
    SSYNC_KRA_STEP_PASSWORD_FILE, /* a password file could not be read */
    SSYNC_KRA_STEP_KEY,           /* a key loaded, or failed */
} ssync_kra_step;

/* One step of ssync_kra_set_load, for a caller that reports each key on its own line. */
typedef struct ssync_kra_event {
    ssync_kra_step step;
    size_t index;           /* of the key, or of the password file */
    const char *path;       /* its file */
    X509 *cert;             /* the key's certificate when it loaded (borrowed), else NULL */
    const ssync_error *err; /* NULL when the key loaded */
} ssync_kra_event;

/* Called after each key and for a password file that cannot be read. For a failed key, nonzero
 * goes on with the next one (the failed key is left out); 0 stops the load with its error. */
typedef int (*ssync_kra_each_fn)(void *ctx, const ssync_kra_event *ev);

ssync_code ssync_kra_set_new(ssync_kra_set **out, ssync_error *err);
/* Add one KRA. path: a PKCS#12 (password may be NULL for an empty password) or a PEM file holding
 * the private key (encrypted PEM uses password) and, unless cert_path is given, its certificate.
 * The certificate must match the key. */
ssync_code ssync_kra_set_add_file(ssync_kra_set *set, const char *path, const char *password,
                                  const char *cert_path, ssync_error *err);
/* Add a key + certificate already in memory (takes its own references). */
ssync_code ssync_kra_set_add(ssync_kra_set *set, EVP_PKEY *key, X509 *cert, ssync_error *err);
size_t ssync_kra_set_count(const ssync_kra_set *set);
/* The i-th KRA (borrowed pointers), or 0 when out of range. */
int ssync_kra_set_get(const ssync_kra_set *set, size_t i, EVP_PKEY **key, X509 **cert);
void ssync_kra_set_free(ssync_kra_set *set);

/* Loads every key of cfg into a new set (*out; NULL on failure). Each key's password is read from
 * its password file (the only one, or the one at its position), else from the environment
 * variable cfg->password_env, else it is empty; secrets are wiped after use. Fails with
 * SSYNC_ERR_CONFIG, before opening anything, when cfg names no key, more certificates than keys,
 * or several password files but not one per key. A password file's error is prefixed with
 * "<password_file_name>: " (NULL: "KRA password file"). each (optional) sees every step; without
 * it, or when it returns 0, the first failure ends the load. */
ssync_code ssync_kra_set_load(const ssync_kra_cfg *cfg, const char *password_file_name,
                              ssync_kra_each_fn each, void *each_ctx, ssync_kra_set **out,
                              ssync_error *err);

#endif
