/* Loading a certificate or a private key that the operator names by path (the user certificate
 * of a bare archived key, the Entra app's certificate and key). Bounded reads through fileio. */
#ifndef SSYNC_KEYFILE_H
#define SSYNC_KEYFILE_H

#include "common/errors.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

/* An X.509 certificate, DER or PEM. Errors name the file. */
ssync_code ssync_load_cert(const char *path, X509 **out, ssync_error *err);
/* An unencrypted private key, PEM or DER. The file's bytes are cleansed after parsing. */
ssync_code ssync_load_private_key(const char *path, EVP_PKEY **out, ssync_error *err);

#endif
