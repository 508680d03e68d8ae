/* One table of every error the library can return (X-macro, after libest's est.h).
 * The enum and the message table are generated from the same list, so they cannot drift.
 * Append new codes at the end of their group; never reorder. The names are stable: JSON reports
 * carry them ("code" of a failed item, ssync_code_name) for scripts. */
#ifndef SSYNC_ERRORS_H
#define SSYNC_ERRORS_H

#include <stddef.h>

#define SSYNC_FOREACH_ERROR(E)                                                              \
    E(SSYNC_OK, "success")                                                                  \
    /* arguments and resources */                                                          \
    E(SSYNC_ERR_ARG, "invalid argument")                                                    \
    E(SSYNC_ERR_NOMEM, "out of memory")                                                     \
    E(SSYNC_ERR_INTERNAL, "internal error")                                                 \
    /* files */                                                                             \
    E(SSYNC_ERR_FILE_OPEN, "cannot open file")                                              \
    E(SSYNC_ERR_FILE_READ, "cannot read file")                                              \
    E(SSYNC_ERR_FILE_WRITE, "cannot write file")                                            \
    E(SSYNC_ERR_FILE_TOO_LARGE, "file too large")                                           \
    E(SSYNC_ERR_FILE_EMPTY, "file is empty")                                                \
    E(SSYNC_ERR_FILE_PERMS, "file permissions are unsafe")                                  \
    /* recovery blob and archived key */                                                    \
    E(SSYNC_ERR_BLOB_ENCODING, "not a recovery blob (unknown encoding)")                    \
    E(SSYNC_ERR_BLOB_BASE64, "invalid base64 in recovery blob")                             \
    E(SSYNC_ERR_BLOB_ASN1, "recovery blob is not valid ASN.1/CMS")                          \
    E(SSYNC_ERR_BLOB_TYPE, "unexpected CMS content type in recovery blob")                  \
    E(SSYNC_ERR_BLOB_NO_CONTENT, "recovery blob carries no archived key")                   \
    E(SSYNC_ERR_BLOB_NO_CERT, "no certificate matches the recovered key")                   \
    E(SSYNC_ERR_BLOB_SIGNATURE, "blob not signed by the CA")                                \
    /* KRA */                                                                               \
    E(SSYNC_ERR_KRA_LOAD, "cannot load KRA key")                                            \
    E(SSYNC_ERR_KRA_PASSWORD, "wrong KRA password")                                         \
    E(SSYNC_ERR_KRA_NO_KEY, "KRA file holds no private key")                                \
    E(SSYNC_ERR_KRA_NO_CERT, "KRA file holds no certificate matching its key")              \
    E(SSYNC_ERR_KRA_NOT_HELD, "no held KRA key can open this archived key")                 \
    E(SSYNC_ERR_KRA_DECRYPT, "decryption with the KRA key failed")                          \
    /* key blobs */                                                                         \
    E(SSYNC_ERR_KEYBLOB_MAGIC, "unsupported key blob")                                      \
    E(SSYNC_ERR_KEYBLOB_FORMAT, "malformed key blob")                                       \
    E(SSYNC_ERR_KEY_MISMATCH, "private key does not match the certificate")                 \
    /* certificates */                                                                      \
    E(SSYNC_ERR_CERT_PARSE, "cannot parse certificate")                                     \
    E(SSYNC_ERR_CERT_NO_USER, "certificate names no user (no SAN UPN or e-mail)")           \
    E(SSYNC_ERR_CERT_BAD_NAME, "certificate names a user that is not local@domain")         \
    E(SSYNC_ERR_CERT_UNTRUSTED, "not issued by a trusted CA")                               \
    E(SSYNC_ERR_CRL_SIGNATURE, "CRL signature invalid")                                     \
    /* PKCS#12 */                                                                           \
    E(SSYNC_ERR_PFX_BUILD, "cannot build PKCS#12")                                          \
    E(SSYNC_ERR_PFX_PROFILE, "unknown PKCS#12 profile")                                     \
    E(SSYNC_ERR_RANDOM, "random number generator failed")                                   \
    /* connector key and password encryption */                                             \
    E(SSYNC_ERR_CONNECTOR_FORMAT, "connector key is not PEM, a certificate or an RSA1 blob") \
    E(SSYNC_ERR_CONNECTOR_NOT_RSA, "connector key is not RSA")                              \
    E(SSYNC_ERR_CONNECTOR_WEAK, "connector key is shorter than 2048 bits")                  \
    E(SSYNC_ERR_PADDING, "unknown padding scheme")                                          \
    E(SSYNC_ERR_ENCRYPT, "password encryption failed")                                      \
    /* records */                                                                           \
    E(SSYNC_ERR_RECORD, "cannot build the Graph record")                                    \
    /* HTTP / Graph / auth (graph/) */                                                      \
    E(SSYNC_ERR_HTTP, "HTTP transport error")                                               \
    E(SSYNC_ERR_TLS, "TLS error")                                                           \
    E(SSYNC_ERR_AUTH, "authentication failed")                                              \
    E(SSYNC_ERR_GRAPH, "Graph request failed")                                              \
    E(SSYNC_ERR_GRAPH_RESPONSE, "malformed Graph response")                                 \
    E(SSYNC_ERR_THROTTLED, "throttled by Graph")                                            \
    /* NOT_FOUND: a Graph 404, a manifest entry no longer listed, a CA request gone (the      \
     * message tells which) */                                                              \
    E(SSYNC_ERR_NOT_FOUND, "not found")                                                     \
    E(SSYNC_ERR_DELETE_NOT_EFFECTIVE, "delete answered success but the record remains")      \
    E(SSYNC_ERR_USER_AMBIGUOUS, "several directory users match")                            \
    E(SSYNC_ERR_CANCELLED, "cancelled")                                                     \
    /* config, state (sync/) */                                                             \
    E(SSYNC_ERR_CONFIG, "configuration error")                                              \
    E(SSYNC_ERR_STATE, "state journal error")                                               \
    E(SSYNC_ERR_UNSUPPORTED, "not supported")                                               \
    E(SSYNC_ERR_PFX_OPEN, "cannot open the PKCS#12 file")                                   \
    E(SSYNC_ERR_EDB, "cannot read the CA database")                                         \
    E(SSYNC_ERR_BUSY, "another run holds the state lock")                                   \
    E(SSYNC_ERR_CAP, "the plan exceeds a change cap")                                       \
    E(SSYNC_ERR_AUDIT, "audit trail")

#define SSYNC_ERROR_ENUM(name, msg) name,
typedef enum ssync_code { SSYNC_FOREACH_ERROR(SSYNC_ERROR_ENUM) SSYNC_ERR__COUNT } ssync_code;
#undef SSYNC_ERROR_ENUM

/* An error as the library reports it: a code from the table and one line of detail that names
 * the item and the reason. The detail never contains a secret. */
typedef struct ssync_error {
    ssync_code code;
    char msg[512];
} ssync_error;

/* The table's message for a code ("unknown error" outside the table). */
const char *ssync_strerror(ssync_code code);
/* The enum name of a code, e.g. "SSYNC_ERR_KRA_NOT_HELD" (stable, used in JSON output). */
const char *ssync_code_name(ssync_code code);

/* Record an error: err->msg becomes "<table message>: <formatted detail>" (or just the table
 * message when fmt is NULL). Returns code so callers can `return ssync_fail(...)`. err may be NULL. */
ssync_code ssync_fail(ssync_error *err, ssync_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like ssync_fail, and appends the reason from OpenSSL's error queue (which it then clears). */
ssync_code ssync_fail_ssl(ssync_error *err, ssync_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix an existing error's message with context ("file.der: "), keeping its code. */
ssync_code ssync_error_prefix(ssync_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ssync_error_clear(ssync_error *err);

#endif
