/* JWT compact serialization: sign (RS256/PS256) and parse/verify, with OpenSSL's
 * EVP_DigestSign/EVP_DigestVerify. PS256 uses a salt as long as the digest (RFC 7518 3.5). */
#include "emu.h"

#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

static int setup_padding(EVP_PKEY_CTX *pctx, const char *alg)
{
    if (strcmp(alg, "PS256") == 0)
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
               EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0;
    if (strcmp(alg, "RS256") == 0)
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
    return 0;
}

char *emu_jwt_sign(EVP_PKEY *key, const char *alg, json_t *header, json_t *claims)
{
    char *h = json_dumps(header, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *c = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *hb = h ? ssync_base64url_encode((const unsigned char *)h, strlen(h)) : NULL;
    char *cb = c ? ssync_base64url_encode((const unsigned char *)c, strlen(c)) : NULL;
    char *out = NULL, *input = NULL, *sb = NULL;
    unsigned char *sig = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    if (!hb || !cb || !md)
        goto done;
    size_t ilen = strlen(hb) + 1 + strlen(cb);
    input = malloc(ilen + 1);
    if (!input)
        goto done;
    strcpy(input, hb);
    strcat(input, ".");
    strcat(input, cb);
    size_t siglen = 0;
    if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) != 1 || !setup_padding(pctx, alg) ||
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, ilen) != 1)
        goto done;
    sig = malloc(siglen);
    if (!sig || EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, ilen) != 1)
        goto done;
    sb = ssync_base64url_encode(sig, siglen);
    if (!sb)
        goto done;
    out = malloc(ilen + 1 + strlen(sb) + 1);
    if (out) {
        strcpy(out, input);
        strcat(out, ".");
        strcat(out, sb);
    }
done:
    EVP_MD_CTX_free(md);
    free(h);
    free(c);
    free(hb);
    free(cb);
    free(input);
    free(sig);
    free(sb);
    return out;
}

static json_t *decode_part(const char *s, size_t len)
{
    ssync_buf b;
    if (len == 0 || ssync_base64url_decode(s, len, &b, NULL) != SSYNC_OK)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, &je);
    ssync_buf_free(&b);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int emu_jwt_parse(const char *token, emu_jwt *out)
{
    memset(out, 0, sizeof(*out));
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.'))
        return -1;
    out->header = decode_part(token, (size_t)(d1 - token));
    out->claims = decode_part(d1 + 1, (size_t)(d2 - d1 - 1));
    if (!out->header || !out->claims || strlen(d2 + 1) == 0 ||
        ssync_base64url_decode(d2 + 1, strlen(d2 + 1), &out->sig, NULL) != SSYNC_OK)
        goto fail;
    out->signing_input = strndup(token, (size_t)(d2 - token));
    if (!out->signing_input)
        goto fail;
    return 0;
fail:
    emu_jwt_free(out);
    return -1;
}

int emu_jwt_verify(const emu_jwt *jwt, EVP_PKEY *pub, const char *alg)
{
    if (!pub || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA)
        return 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok =
        md && EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pub) == 1 &&
        setup_padding(pctx, alg) &&
        EVP_DigestVerify(md, jwt->sig.data, jwt->sig.len, (const unsigned char *)jwt->signing_input,
                         strlen(jwt->signing_input)) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

void emu_jwt_free(emu_jwt *jwt)
{
    json_decref(jwt->header);
    json_decref(jwt->claims);
    free(jwt->signing_input);
    ssync_buf_free(&jwt->sig);
    memset(jwt, 0, sizeof(*jwt));
}
