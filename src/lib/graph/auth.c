#include "graph/auth.h"

#include "common/encode.h"
#include "common/uuid.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

const char *ssync_assertion_alg_name(ssync_assertion_alg alg)
{
    return alg == SSYNC_ASSERTION_PS256 ? "PS256" : "RS256";
}

ssync_code ssync_assertion_alg_parse(const char *name, ssync_assertion_alg *out, ssync_error *err)
{
    if (name && out && strcasecmp(name, "RS256") == 0)
        *out = SSYNC_ASSERTION_RS256;
    else if (name && out && strcasecmp(name, "PS256") == 0)
        *out = SSYNC_ASSERTION_PS256;
    else
        return ssync_fail(err, SSYNC_ERR_ARG, "unknown assertion algorithm '%s' (RS256, PS256)",
                          name ? name : "");
    return SSYNC_OK;
}

char *ssync_cert_x5t(X509 *cert, int sha256)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!cert || X509_digest(cert, sha256 ? EVP_sha256() : EVP_sha1(), md, &n) != 1)
        return NULL;
    return ssync_base64url_encode(md, n);
}

static char *b64url_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (!s)
        return NULL;
    char *out = ssync_base64url_encode((const unsigned char *)s, strlen(s));
    free(s);
    return out;
}

ssync_code ssync_jwt_assertion(const ssync_assertion_params *p, char **out, ssync_error *err)
{
    if (!p || !out || !p->cert || !p->key || !p->audience || !p->client_id || !*p->client_id)
        return ssync_fail(err, SSYNC_ERR_ARG,
                          "client assertion: certificate, key, audience and "
                          "client id are required");
    *out = NULL;
    if (EVP_PKEY_get_base_id(p->key) != EVP_PKEY_RSA)
        return ssync_fail(err, SSYNC_ERR_AUTH,
                          "client assertion: the app key must be RSA "
                          "(RS256/PS256)");
    char jti[SSYNC_UUID_LEN + 1];
    if (!p->jti && ssync_uuid4(jti, err) != SSYNC_OK)
        return err ? err->code : SSYNC_ERR_RANDOM;
    int ps = p->alg == SSYNC_ASSERTION_PS256;
    char *x5t = ssync_cert_x5t(p->cert, ps);
    long life = p->lifetime_s > 0 ? p->lifetime_s : 300;
    json_t *hdr = json_pack("{s:s, s:s, s:s}", "alg", ps ? "PS256" : "RS256", "typ", "JWT",
                            ps ? "x5t#S256" : "x5t", x5t ? x5t : "");
    json_t *claims =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud", p->audience, "iss", p->client_id,
                  "sub", p->client_id, "jti", p->jti ? p->jti : jti, "nbf", (json_int_t)p->now,
                  "iat", (json_int_t)p->now, "exp", (json_int_t)(p->now + life));
    char *h64 = hdr ? b64url_json(hdr) : NULL;
    char *c64 = claims ? b64url_json(claims) : NULL;
    json_decref(hdr);
    json_decref(claims);
    free(x5t);
    char *input = NULL, *sig64 = NULL;
    unsigned char *sig = NULL;
    EVP_MD_CTX *md = NULL;
    ssync_code rc = SSYNC_ERR_NOMEM;
    if (!h64 || !c64)
        goto done;
    size_t inlen = strlen(h64) + 1 + strlen(c64);
    input = malloc(inlen + 1);
    if (!input)
        goto done;
    snprintf(input, inlen + 1, "%s.%s", h64, c64);
    EVP_PKEY_CTX *pctx = NULL;
    size_t siglen = 0;
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit_ex(md, &pctx, "SHA256", NULL, NULL, p->key, NULL) != 1 ||
        (ps && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                /* RFC 7518 3.5: salt as long as the hash, MGF1 with the same hash */
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) != 1)) ||
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, inlen) != 1 ||
        !(sig = malloc(siglen)) ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, inlen) != 1) {
        rc = ssync_fail_ssl(err, SSYNC_ERR_AUTH, "cannot sign the client assertion (%s)",
                            ssync_assertion_alg_name(p->alg));
        goto done;
    }
    sig64 = ssync_base64url_encode(sig, siglen);
    if (!sig64)
        goto done;
    size_t total = inlen + 1 + strlen(sig64) + 1;
    *out = malloc(total);
    if (!*out)
        goto done;
    snprintf(*out, total, "%s.%s", input, sig64);
    rc = SSYNC_OK;
done:
    if (rc == SSYNC_ERR_NOMEM)
        ssync_fail(err, rc, "client assertion");
    EVP_MD_CTX_free(md);
    free(h64);
    free(c64);
    free(input);
    free(sig);
    free(sig64);
    return rc;
}

void ssync_secret_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* Appends "&name=escape(value)" (no '&' first) to a growing buffer; the old buffer is cleansed
 * because it may hold the secret. */
static int form_add(char **buf, const char *name, const char *value)
{
    char *esc = curl_easy_escape(NULL, value, (int)strlen(value));
    if (!esc)
        return 0;
    size_t old = *buf ? strlen(*buf) : 0;
    size_t n = old + 1 + strlen(name) + 1 + strlen(esc) + 1;
    char *nb = malloc(n);
    if (nb)
        snprintf(nb, n, "%s%s%s=%s", *buf ? *buf : "", old ? "&" : "", name, esc);
    OPENSSL_cleanse(esc, strlen(esc));
    curl_free(esc);
    ssync_secret_free(*buf);
    *buf = nb;
    return nb != NULL;
}

ssync_code ssync_token_form(const ssync_client_cred *cred, const char *token_url,
                            const char *graph_url, time_t now, char **out, ssync_error *err)
{
    if (!cred || !token_url || !graph_url || !out || !cred->client_id)
        return ssync_fail(err, SSYNC_ERR_ARG, "token request: missing parameters");
    *out = NULL;
    int use_secret = cred->client_secret != NULL;
    if (use_secret == (cred->cert != NULL || cred->key != NULL))
        return ssync_fail(err, SSYNC_ERR_ARG,
                          "token request: give either a client secret or a certificate and key");
    char scope[1024];
    size_t gl = strlen(graph_url);
    while (gl > 0 && graph_url[gl - 1] == '/')
        gl--;
    if (gl + sizeof "/.default" > sizeof scope)
        return ssync_fail(err, SSYNC_ERR_ARG, "graph URL too long");
    snprintf(scope, sizeof scope, "%.*s/.default", (int)gl, graph_url);
    char *buf = NULL;
    int ok = form_add(&buf, "grant_type", "client_credentials") &&
             form_add(&buf, "client_id", cred->client_id) && form_add(&buf, "scope", scope);
    if (ok && use_secret) {
        ok = form_add(&buf, "client_secret", cred->client_secret);
    } else if (ok) {
        ssync_assertion_params p = {.cert = cred->cert,
                                    .key = cred->key,
                                    .alg = cred->alg,
                                    .audience = token_url,
                                    .client_id = cred->client_id,
                                    .now = now};
        char *jwt = NULL;
        ssync_code rc = ssync_jwt_assertion(&p, &jwt, err);
        if (rc != SSYNC_OK) {
            ssync_secret_free(buf);
            return rc;
        }
        ok = form_add(&buf, "client_assertion_type", JWT_BEARER) &&
             form_add(&buf, "client_assertion", jwt);
        ssync_secret_free(jwt);
    }
    if (!ok) {
        ssync_secret_free(buf);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "token request");
    }
    *out = buf;
    return SSYNC_OK;
}

void ssync_token_clear(ssync_token *t)
{
    if (t) {
        ssync_secret_free(t->access_token);
        t->access_token = NULL;
        t->expires_in = 0;
    }
}

ssync_code ssync_token_parse(const char *body, size_t len, ssync_token *out, ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "token: no output");
    memset(out, 0, sizeof *out);
    json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    ssync_code rc = SSYNC_ERR_AUTH;
    if (!json_is_object(root)) {
        ssync_fail(err, rc, "token response is not a JSON object");
        goto done;
    }
    json_t *type = json_object_get(root, "token_type");
    json_t *tok = json_object_get(root, "access_token");
    json_t *exp = json_object_get(root, "expires_in");
    if (!json_is_string(type) || strcasecmp(json_string_value(type), "Bearer") != 0) {
        ssync_fail(err, rc, "token response: token_type is not Bearer");
        goto done;
    }
    if (!json_is_string(tok) || json_string_length(tok) == 0 || json_string_length(tok) > 65536) {
        ssync_fail(err, rc, "token response has no access_token");
        goto done;
    }
    const char *t = json_string_value(tok);
    for (size_t i = 0; i < json_string_length(tok); i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c >= 0x7f) { /* goes into an Authorization header */
            ssync_fail(err, rc, "token response: access_token has invalid characters");
            goto done;
        }
    }
    double e = -1;
    if (json_is_number(exp)) {
        e = json_number_value(exp);
    } else if (json_is_string(exp)) { /* "3599" (v1 endpoint, 1.3) */
        char *end = NULL;
        const char *s = json_string_value(exp);
        e = strtod(s, &end);
        if (end == s || *end)
            e = -1;
    }
    if (!(e >= 1 && e <= 86400)) {
        ssync_fail(err, rc, "token response: expires_in missing or out of range");
        goto done;
    }
    out->access_token = strdup(t);
    if (!out->access_token) {
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, "token");
        goto done;
    }
    out->expires_in = e;
    rc = SSYNC_OK;
done:
    json_decref(root); /* jansson frees without cleansing; the token is short-lived anyway */
    return rc;
}

double ssync_token_refresh_after(double lifetime_s)
{
    if (!(lifetime_s > 0))
        return 0;
    double margin = lifetime_s / 10;
    if (margin > 300)
        margin = 300;
    return lifetime_s - margin;
}
