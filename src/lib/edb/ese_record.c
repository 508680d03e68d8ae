/* ESE records (see ese_record.h). Every offset is checked against the record's size. */
#include "edb/ese_record.h"

#define FIXED_LAST 127
#define VAR_FIRST 128
#define VAR_LAST 255
#define TAG_HAS_FLAGS 0x4000u

static uint32_t rd16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static int fixed(const unsigned char *rec, size_t len, const ssync_edb_coldef *cols, size_t ncols,
                 uint32_t id, size_t var_off, ssync_edb_raw *out)
{
    uint32_t last = rec[0];
    if (id > last)
        return 0; /* added after the row was written: NULL */
    /* the value's place: the sizes of the fixed columns before it */
    size_t off = 4, size = 0;
    for (uint32_t f = 1; f <= id; f++) {
        size_t s = 0;
        for (size_t c = 0; c < ncols && !s; c++)
            if (cols[c].id == f)
                s = cols[c].size;
        if (!s || s > 255)
            return -1; /* a fixed column the catalog does not describe */
        if (f < id)
            off += s;
        else
            size = s;
    }
    /* the NULL bitmap (a set bit = NULL) sits just before the variable offsets */
    size_t bitmap = (last + 7) / 8;
    if (var_off < 4 + bitmap || off + size > var_off - bitmap)
        return -1;
    if (rec[var_off - bitmap + (id - 1) / 8] & (1u << ((id - 1) % 8)))
        return 0;
    out->data = rec + off;
    out->len = size;
    (void)len;
    return 1;
}

static int variable(const unsigned char *rec, size_t len, uint32_t id, size_t var_off,
                    ssync_edb_raw *out)
{
    uint32_t last = rec[1];
    if (id > last || last < VAR_FIRST)
        return 0;
    size_t n = last - FIXED_LAST, base = var_off + 2 * n;
    if (base > len)
        return -1;
    size_t i = id - VAR_FIRST;
    uint32_t end = rd16(rec + var_off + 2 * i);
    if (end & 0x8000u)
        return 0;
    size_t start = i ? rd16(rec + var_off + 2 * (i - 1)) & 0x7fffu : 0;
    if (end < start || base + end > len)
        return -1;
    out->data = rec + base + start;
    out->len = end - start;
    return out->len > 0;
}

static int tagged(const unsigned char *rec, size_t len, uint32_t id, size_t var_off,
                  int flags_always, ssync_edb_raw *out)
{
    uint32_t last = rec[1];
    size_t n = last >= VAR_FIRST ? last - FIXED_LAST : 0, base = var_off + 2 * n;
    if (base > len)
        return -1;
    if (n)
        base += rd16(rec + var_off + 2 * (n - 1)) & 0x7fffu;
    if (base >= len)
        return base == len ? 0 : -1; /* no tagged columns */
    size_t area = len - base;
    uint32_t mask = flags_always ? 0x7fffu : 0x3fffu;
    if (area < 4)
        return -1;
    size_t count = (rd16(rec + base + 2) & mask) / 4;
    if (count == 0 || 4 * count > area)
        return -1;
    for (size_t j = 0; j < count; j++) {
        const unsigned char *e = rec + base + 4 * j;
        if (rd16(e) != id)
            continue;
        uint32_t raw = rd16(e + 2);
        size_t off = raw & mask;
        size_t next = j + 1 < count ? (rd16(e + 6) & mask) : area;
        if (off < 4 * count || next < off || next > area)
            return -1;
        out->data = rec + base + off;
        out->len = next - off;
        out->flags = 0;
        if (flags_always || (raw & TAG_HAS_FLAGS)) {
            if (out->len == 0)
                return -1;
            out->flags = out->data[0];
            out->data++;
            out->len--;
        }
        return 1;
    }
    return 0;
}

int ssync_edb_record_find(const unsigned char *rec, size_t len, const ssync_edb_coldef *cols,
                          size_t ncols, uint32_t id, int tag_flags_always, ssync_edb_raw *out)
{
    out->data = NULL;
    out->len = 0;
    out->flags = 0;
    if (len < 4 || id == 0)
        return -1;
    size_t var_off = rd16(rec + 2);
    if (var_off < 4 || var_off > len ||
        (rec[1] >= VAR_FIRST && var_off + 2u * (rec[1] - FIXED_LAST) > len))
        return -1;
    if (id <= FIXED_LAST)
        return fixed(rec, len, cols, ncols, id, var_off, out);
    if (id <= VAR_LAST)
        return variable(rec, len, id, var_off, out);
    return tagged(rec, len, id, var_off, tag_flags_always, out);
}
