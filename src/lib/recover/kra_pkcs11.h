/* A KRA private key that stays on a PKCS#11 token (an HSM in production, SoftHSM2 in tests),
 * reached through OpenSSL's pkcs11 engine (libp11, Debian: libengine-pkcs11-openssl). */
#ifndef SSYNC_KRA_PKCS11_H
#define SSYNC_KRA_PKCS11_H
#include "common/errors.h"
#include <openssl/evp.h>
#include <openssl/x509.h>

/* 1 when path is a PKCS#11 URI ("pkcs11:..."). */
int ssync_is_pkcs11_uri(const char *path);

/* Opens the engine (once per set: *engine keeps it) and loads the key named by uri, logging in
 * with pin (the KRA password; NULL: none). The key never leaves the token: decryption runs there.
 * The RFC 7512 query attribute module-path=... selects the PKCS#11 module; without it the engine's
 * default (the p11-kit proxy, which loads every registered module) is used. When certs is not
 * NULL, the certificate with the same URI (id/object) is read from the token into *certs (an
 * empty stack when the token holds none). */
ssync_code ssync_kra_pkcs11_load(void **engine, const char *uri, const char *pin, EVP_PKEY **key,
                                 STACK_OF(X509) * *certs, ssync_error *err);

/* The URI for messages: a pin-value attribute's value is replaced by "***". */
void ssync_pkcs11_uri_display(const char *uri, char *out, size_t n);

/* Releases the engine handle from ssync_kra_pkcs11_load (after every key it loaded is freed). */
void ssync_kra_pkcs11_release(void *engine);
#endif
