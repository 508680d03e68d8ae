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
