#include "common/encode.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

char *ssync_base64_encode(const unsigned char *data, size_t len)
{
    if (len > (size_t)1 << 30)
        return NULL;
    size_t cap = 4 * ((len + 2) / 3) + 1;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    /* EVP_EncodeBlock writes standard base64 without line breaks (and the NUL) */
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

ssync_code ssync_base64_decode(const char *text, size_t len, ssync_buf *out, ssync_error *err)
{
    out->data = NULL;
    out->len = 0;
    char *clean = malloc(len + 1);
    if (!clean)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "base64");
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
            continue;
        clean[n++] = c;
    }
    if (n == 0 || n % 4 != 0) {
        free(clean);
        return ssync_fail(err, SSYNC_ERR_BLOB_BASE64, "length %zu is not a multiple of 4", n);
    }
    size_t pad = 0;
    if (clean[n - 1] == '=')
        pad++;
    if (clean[n - 2] == '=')
        pad++;
    unsigned char *bin = malloc(n / 4 * 3 + 1);
    if (!bin) {
        free(clean);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "base64");
    }
    /* EVP_DecodeBlock is strict about the alphabet and counts padding as zero bytes */
    int got = EVP_DecodeBlock(bin, (const unsigned char *)clean, (int)n);
    free(clean);
    if (got < 0 || (size_t)got < pad) {
        free(bin);
        return ssync_fail(err, SSYNC_ERR_BLOB_BASE64, "invalid character");
    }
    out->data = bin;
    out->len = (size_t)got - pad;
    return SSYNC_OK;
}

void ssync_hex_lower(const unsigned char *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

char *ssync_base64url_encode(const unsigned char *data, size_t len)
{
    char *s = ssync_base64_encode(data, len);
    if (!s)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        if (c == '=')
            break;
        s[o++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    s[o] = '\0';
    return s;
}

ssync_code ssync_base64url_decode(const char *text, size_t len, ssync_buf *out, ssync_error *err)
{
    if (!text || !out || len > 64u * 1024u * 1024u)
        return ssync_fail(err, SSYNC_ERR_ARG, "base64url: bad input");
    char *tmp = malloc(len + 4);
    if (!tmp)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "base64url");
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '=') { /* padding: only as the last one or two characters */
            if (len - i > 2 || (i + 1 < len && text[i + 1] != '=')) {
                free(tmp);
                return ssync_fail(err, SSYNC_ERR_BLOB_BASE64, "not base64url");
            }
            break;
        }
        if (c == '+' || c == '/') { /* standard alphabet is not base64url */
            free(tmp);
            return ssync_fail(err, SSYNC_ERR_BLOB_BASE64, "not base64url");
        }
        tmp[o++] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    while (o % 4)
        tmp[o++] = '=';
    ssync_code rc = ssync_base64_decode(tmp, o, out, err);
    free(tmp);
    return rc;
}
