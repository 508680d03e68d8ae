/* Entra ID v2.0 client-credentials pieces that need no network: the signed client assertion
 * (certificate credential), the token request form, the token response
 * (identity platform docs: "OAuth 2.0 client credentials flow" and "certificate credentials";
 * RFC 7523). The request itself is made by graph/token.c. */
#ifndef SSYNC_AUTH_H
#define SSYNC_AUTH_H

#include "common/errors.h"
#include "common/fileio.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <time.h>

typedef enum ssync_assertion_alg {
    SSYNC_ASSERTION_RS256, /* RS256 (PKCS#1 v1.5) with "x5t" = base64url SHA-1: the default; the
                            * older form of the "certificate credentials" page, RFC 7515 4.1.7 */
    SSYNC_ASSERTION_PS256, /* PS256 (PSS, salt = 32) with "x5t#S256" = base64url SHA-256 */
} ssync_assertion_alg;

/* "RS256" / "PS256"; parse accepts those names in any case. */
const char *ssync_assertion_alg_name(ssync_assertion_alg alg);
ssync_code ssync_assertion_alg_parse(const char *name, ssync_assertion_alg *out, ssync_error *err);

typedef struct ssync_assertion_params {
    X509 *cert;    /* the app's certificate (its thumbprint goes into the header) */
    EVP_PKEY *key; /* its RSA private key */
    ssync_assertion_alg alg;
    const char *audience;  /* the token endpoint URL */
    const char *client_id; /* iss and sub */
    const char *jti;       /* NULL: a fresh random GUID */
    time_t now;            /* nbf and iat */
    long lifetime_s;       /* exp = now + lifetime_s; 0: 300 (keep it short:
                            * the "certificate credentials" page) */
} ssync_assertion_params;

/* The compact JWS "header.claims.signature" (base64url, no padding). malloc'd into *out. */
ssync_code ssync_jwt_assertion(const ssync_assertion_params *p, char **out, ssync_error *err);

/* "x5t" (SHA-1) or "x5t#S256" (SHA-256) of the certificate's DER, base64url. malloc'd. */
char *ssync_cert_x5t(X509 *cert, int sha256);

/* What authenticates the app: a secret, or a certificate and its key. */
typedef struct ssync_client_cred {
    const char *client_id;
    const char *client_secret; /* either this ... */
    X509 *cert;                /* ... or these two */
    EVP_PKEY *key;
    ssync_assertion_alg alg;
} ssync_client_cred;

/* The application/x-www-form-urlencoded body of a client-credentials token request for
 * scope "<graph>/.default" (identity platform docs: OAuth 2.0 client credentials flow). It
 * holds the secret or assertion: free it with ssync_secret_free. token_url is the assertion's
 * audience. */
ssync_code ssync_token_form(const ssync_client_cred *cred, const char *token_url,
                            const char *graph_url, time_t now, char **out, ssync_error *err);

/* Cleanses a NUL-terminated secret and frees it. NULL is fine. */
void ssync_secret_free(char *s);

typedef struct ssync_token {
    char *access_token; /* secret: never logged, cleansed by ssync_token_clear */
    double expires_in;  /* seconds, as the response said */
} ssync_token;

/* A token response {"token_type":"Bearer","expires_in":3599,"access_token":"..."} (client
 * credentials flow docs; RFC 6749 5.1). expires_in may be a number or a numeric string (v1
 * endpoints); unknown fields are ignored. Rejects a missing or non-Bearer token type, a token with
 * characters not allowed in an Authorization header, and expires_in outside 1..86400 s. */
ssync_code ssync_token_parse(const char *body, size_t len, ssync_token *out, ssync_error *err);
void ssync_token_clear(ssync_token *t);
/* Seconds after issue at which a cached token should be replaced: lifetime minus a margin of
 * 10% of the lifetime, at most 5 minutes. */
double ssync_token_refresh_after(double lifetime_s);

#endif
