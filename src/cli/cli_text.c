/* The CLI's output filter (cli_text.h). */
#include "cli_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The code point of the UTF-8 sequence at p (*len bytes), or -1 when it is not well-formed
 * (overlong, surrogate, beyond U+10FFFF, cut short): then *len is 1. */
static long utf8_decode(const unsigned char *p, size_t *len)
{
    *len = 1;
    unsigned c = p[0];
    int n = c >= 0xc2 && c <= 0xdf   ? 2
            : c >= 0xe0 && c <= 0xef ? 3
            : c >= 0xf0 && c <= 0xf4 ? 4
                                     : 0;
    if (!n)
        return -1;
    long cp = (long)(c & (0x7f >> n));
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return -1;
    *len = (size_t)n;
    return cp;
}

static int hidden_code_point(long cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* Appends len bytes of s at *pos when they fit whole (and a NUL after them). */
static void put(char *out, size_t size, size_t *pos, int *full, const char *s, size_t len)
{
    if (!*full && out && *pos + len < size)
        memcpy(out + *pos, s, len);
    else
        *full = 1;
    *pos += len;
}

size_t cli_text_safe(char *out, size_t size, const char *in)
{
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    size_t pos = 0, done = 0;
    int full = size == 0;
    char esc[24];
    while (*p) {
        size_t len = 1;
        long cp = *p < 0x80 ? *p : utf8_decode(p, &len);
        if (cp < 0 || cp < 0x20 || cp == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", *p);
            put(out, size, &pos, &full, esc, 4);
        } else if (hidden_code_point(cp)) {
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
            put(out, size, &pos, &full, esc, 6);
        } else {
            put(out, size, &pos, &full, (const char *)p, len);
        }
        if (!full)
            done = pos;
        p += len;
    }
    if (size)
        out[done] = '\0';
    return pos;
}

char *cli_text_safe_dup(const char *in)
{
    size_t n = cli_text_safe(NULL, 0, in);
    char *s = malloc(n + 1);
    if (s)
        cli_text_safe(s, n + 1, in);
    return s;
}

int cli_text_is_safe(const char *in)
{
    return cli_text_safe(NULL, 0, in) == strlen(in ? in : "");
}
