/* The client assertion of the certificate credential (Microsoft identity platform: "certificate
 * credentials", RFC 7523): signature by the registered certificate (RS256 with x5t, PS256 with
 * x5t#S256), audience, issuer and subject, lifetime, replay. */
#include "emu.h"

#include <ctype.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void fmt_assertion_time(double t, char out[40])
{
    emu_fmt_datetime_frac(t, out);
}

static int claim_time(json_t *claims, const char *name, double *out)
{
    json_t *v = json_object_get(claims, name);
    if (!v)
        return 0;
    if (!json_is_number(v))
        return -1;
    *out = json_number_value(v);
    return 1;
}

static int aud_ok(emu_ctx *ctx, json_t *aud, const char *tenant)
{
    char a[512], b[512];
    snprintf(a, sizeof(a), "%s/%s/oauth2/v2.0/token", EMU_LOGIN_HOST, tenant);
    snprintf(b, sizeof(b), "%s/%s/oauth2/v2.0/token", ctx->base_url, tenant);
    if (json_is_string(aud)) {
        const char *s = json_string_value(aud);
        return emu_strcaseeq(s, a) || emu_strcaseeq(s, b);
    }
    if (json_is_array(aud)) {
        size_t i;
        json_t *v;
        json_array_foreach(aud, i, v)
        {
            if (aud_ok(ctx, v, tenant))
                return 1;
        }
    }
    return 0;
}

int emu_check_assertion(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *assertion,
                        const char *client_id, const char *tenant)
{
    emu_jwt jwt;
    if (emu_jwt_parse(assertion, &jwt) != 0) {
        emu_entra_error(req, resp, 401, "invalid_client", 50027,
                        "JWT token is invalid or malformed.");
        return -1;
    }
    int rc = -1;
    const char *alg = json_string_value(json_object_get(jwt.header, "alg"));
    const char *x5t = json_string_value(json_object_get(jwt.header, "x5t"));
    const char *x5t256 = json_string_value(json_object_get(jwt.header, "x5t#S256"));
    char shown[80] = "";
    if (!alg || (strcmp(alg, "RS256") != 0 && strcmp(alg, "PS256") != 0)) {
        emu_entra_error(req, resp, 401, "invalid_client", 50027,
                        "JWT token is invalid or malformed. The client assertion must be signed "
                        "with RS256 or PS256 (alg '%s').",
                        alg ? alg : "");
        goto done;
    }
    if (!x5t && !x5t256) {
        emu_entra_error(req, resp, 401, "invalid_client", 700027,
                        "Client assertion contains an invalid signature. [Reason - The key was "
                        "not found., The assertion header carries neither 'x5t' nor 'x5t#S256'.]");
        goto done;
    }
    /* x5t must be a 20-byte SHA-1 digest, x5t#S256 a 32-byte SHA-256 digest (RFC 7515 4.1.7,
     * 4.1.8) */
    int key_ok = ctx->client_cert != NULL;
    const char *which[2] = {x5t, x5t256};
    const unsigned char *want[2] = {ctx->client_x5t, ctx->client_x5t256};
    const size_t wlen[2] = {20, 32};
    for (int i = 0; i < 2; i++) {
        if (!which[i])
            continue;
        ssync_buf d;
        if (ssync_base64url_decode(which[i], strlen(which[i]), &d, NULL) != SSYNC_OK ||
            d.len != wlen[i]) {
            key_ok = 0;
            snprintf(shown, sizeof(shown), "%.64s", which[i]);
        } else {
            for (size_t k = 0; k < d.len && 2 * k + 2 < sizeof(shown); k++)
                snprintf(shown + 2 * k, 3, "%02X", d.data[k]);
            if (memcmp(d.data, want[i], wlen[i]) != 0)
                key_ok = 0;
        }
        ssync_buf_free(&d);
    }
    if (!key_ok) {
        emu_entra_error(req, resp, 401, "invalid_client", 700027,
                        "Client assertion contains an invalid signature. [Reason - The key was "
                        "not found., Thumbprint of key used by client: '%s', Please visit the "
                        "Azure Portal, Graph Explorer or directly use MS Graph to see configured "
                        "keys for app Id '%s'.]",
                        shown, ctx->client_id);
        goto done;
    }
    EVP_PKEY *pub = X509_get0_pubkey(ctx->client_cert);
    if (!emu_jwt_verify(&jwt, pub, alg)) {
        emu_entra_error(req, resp, 401, "invalid_client", 700027,
                        "Client assertion contains an invalid signature. [Reason - The provided "
                        "signature value did not match the expected signature value., Thumbprint "
                        "of key used by client: '%s']",
                        shown);
        goto done;
    }
    json_t *c = jwt.claims;
    const char *iss = json_string_value(json_object_get(c, "iss"));
    const char *sub = json_string_value(json_object_get(c, "sub"));
    if (!iss || !sub || !emu_strcaseeq(iss, sub) || !emu_strcaseeq(iss, client_id)) {
        emu_entra_error(req, resp, 401, "invalid_client", 700021,
                        "Client assertion application identifier doesn't match 'client_id' "
                        "parameter. The 'iss' and 'sub' claims must both be the client id '%s'.",
                        client_id);
        goto done;
    }
    if (!aud_ok(ctx, json_object_get(c, "aud"), tenant)) {
        emu_entra_error(req, resp, 401, "invalid_client", 50027,
                        "JWT token is invalid or malformed. The 'aud' claim must be the token "
                        "endpoint URL %s/%s/oauth2/v2.0/token.",
                        EMU_LOGIN_HOST, tenant);
        goto done;
    }
    double exp = 0, nbf = 0, now = emu_now();
    int has_exp = claim_time(c, "exp", &exp), has_nbf = claim_time(c, "nbf", &nbf);
    if (has_exp != 1 || has_nbf < 0) {
        emu_entra_error(req, resp, 401, "invalid_client", 50027,
                        "JWT token is invalid or malformed. The assertion needs a numeric 'exp' "
                        "claim.");
        goto done;
    }
    if (now > exp + EMU_ASSERTION_SKEW || (has_nbf == 1 && now < nbf - EMU_ASSERTION_SKEW)) {
        char cur[40], from[40], to[40];
        fmt_assertion_time(now, cur);
        fmt_assertion_time(has_nbf == 1 ? nbf : 0, from);
        fmt_assertion_time(exp, to);
        emu_entra_error(
            req, resp, 401, "invalid_client", 700024,
            "Client assertion is not within its valid time range. Current time: %s, "
            "assertion valid from %s, expiry time of assertion %s. Review the "
            "documentation at "
            "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"
            " .",
            cur, from, to);
        goto done;
    }
    const char *jti = json_string_value(json_object_get(c, "jti"));
    if (!jti || !*jti) {
        emu_entra_error(req, resp, 401, "invalid_client", 50027,
                        "JWT token is invalid or malformed. The assertion needs a 'jti' claim.");
        goto done;
    }
    /* replay: remember each jti until its assertion expires */
    int replay = 0;
    pthread_mutex_lock(&ctx->lock);
    time_t tnow = (time_t)now;
    size_t w = 0;
    for (size_t i = 0; i < ctx->njtis; i++) {
        if (ctx->jtis[i].exp < tnow) {
            free(ctx->jtis[i].jti);
            continue;
        }
        if (strcmp(ctx->jtis[i].jti, jti) == 0)
            replay = 1;
        ctx->jtis[w++] = ctx->jtis[i];
    }
    ctx->njtis = w;
    if (!replay) {
        if (ctx->njtis == ctx->capjtis) {
            size_t cap = ctx->capjtis ? ctx->capjtis * 2 : 64;
            emu_jti *j = realloc(ctx->jtis, cap * sizeof(*j));
            if (j) {
                ctx->jtis = j;
                ctx->capjtis = cap;
            }
        }
        if (ctx->njtis < ctx->capjtis) {
            ctx->jtis[ctx->njtis].jti = strdup(jti);
            ctx->jtis[ctx->njtis].exp = (time_t)exp + EMU_ASSERTION_SKEW;
            if (ctx->jtis[ctx->njtis].jti)
                ctx->njtis++;
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    if (replay) {
        emu_entra_error(req, resp, 401, "invalid_client", AADSTS_EMU_REPLAY,
                        "The client assertion with jti '%.80s' has already been used. Sign a new "
                        "assertion with a fresh jti for every token request.",
                        jti);
        goto done;
    }
    rc = 0;
done:
    emu_jwt_free(&jwt);
    return rc;
}
