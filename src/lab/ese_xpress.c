/* The lab's LZXPRESS compressor (MS-XCA section 2.3, "plain LZ77"): greedy matching over a
 * hash of 3 bytes, 8 KiB window. Only for the compressed long-value fixture, so simple beats
 * small output. */
#include "ese_xpress.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 8192
#define HASH_BITS 12

typedef struct out {
    unsigned char *p;
    size_t n, cap;
    size_t flag_pos; /* where the current 32-bit flag word goes */
    uint32_t flags;
    int nflags;
    size_t nibble_pos; /* a length byte whose high half is free; SIZE_MAX: none */
} out;

static int room(out *o, size_t k)
{
    return o->n + k <= o->cap;
}

static void put_flag(out *o, int bit)
{
    if (o->nflags == 32) {
        for (int i = 0; i < 4; i++)
            o->p[o->flag_pos + (size_t)i] = (unsigned char)(o->flags >> (8 * i));
        o->flag_pos = o->n;
        o->n += 4;
        o->flags = 0;
        o->nflags = 0;
    }
    o->flags = (o->flags << 1) | (uint32_t)bit;
    o->nflags++;
}

static void put_match(out *o, size_t off, size_t len)
{
    size_t ml = len - 3;
    uint32_t token = (uint32_t)((off - 1) << 3) | (uint32_t)(ml < 7 ? ml : 7);
    o->p[o->n++] = (unsigned char)token;
    o->p[o->n++] = (unsigned char)(token >> 8);
    if (ml < 7)
        return;
    ml -= 7;
    unsigned nib = ml < 15 ? (unsigned)ml : 15;
    if (o->nibble_pos == SIZE_MAX) {
        o->nibble_pos = o->n;
        o->p[o->n++] = (unsigned char)nib;
    } else {
        o->p[o->nibble_pos] |= (unsigned char)(nib << 4);
        o->nibble_pos = SIZE_MAX;
    }
    if (ml < 15)
        return;
    ml -= 15;
    if (ml < 255) {
        o->p[o->n++] = (unsigned char)ml;
        return;
    }
    o->p[o->n++] = 255;
    size_t total = len - 3;
    o->p[o->n++] = (unsigned char)total;
    o->p[o->n++] = (unsigned char)(total >> 8);
}

size_t lab_xpress_compress(const unsigned char *in, size_t len, unsigned char *dst, size_t cap)
{
    if (len > 65535)
        return 0;
    out o = {dst, 4, cap, 0, 0, 0, SIZE_MAX};
    int32_t *head = malloc(sizeof *head << HASH_BITS);
    if (!head || cap < 8) {
        free(head);
        return 0;
    }
    for (size_t i = 0; i < (1u << HASH_BITS); i++)
        head[i] = -1;
    size_t i = 0;
    while (i < len) {
        if (!room(&o, 12)) {
            free(head);
            return 0;
        }
        size_t best = 0, boff = 0;
        if (i + 3 <= len) {
            uint32_t h =
                ((uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2]) * 2654435761u >>
                (32 - HASH_BITS);
            int32_t c = head[h];
            head[h] = (int32_t)i;
            if (c >= 0 && i - (size_t)c <= WINDOW) {
                size_t n = 0;
                while (i + n < len && n < 65000 && in[(size_t)c + n] == in[i + n])
                    n++;
                if (n >= 3)
                    best = n, boff = i - (size_t)c;
            }
        }
        if (best) {
            put_flag(&o, 1);
            put_match(&o, boff, best);
            i += best;
        } else {
            put_flag(&o, 0);
            o.p[o.n++] = in[i++];
        }
    }
    free(head);
    /* the unused flag bits are ones: the reader stops at the end of the input */
    int pad = 32 - o.nflags;
    uint32_t f = pad == 32 ? 0xffffffffu : (o.flags << pad) | ((1u << pad) - 1);
    if (o.nflags == 0)
        f = 0xffffffffu;
    for (int k = 0; k < 4; k++)
        o.p[o.flag_pos + (size_t)k] = (unsigned char)(f >> (8 * k));
    return o.n;
}
