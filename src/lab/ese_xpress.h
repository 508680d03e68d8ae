/* LZXPRESS plain LZ77 (MS-XCA 2.3) compression for the lab's compressed long values. */
#ifndef SSYNC_LAB_ESE_XPRESS_H
#define SSYNC_LAB_ESE_XPRESS_H

#include <stddef.h>

/* Compresses in (at most 65535 bytes) into dst; returns the compressed size, 0 if it does not
 * fit cap (give cap >= len + len / 8 + 16) or on memory failure. */
size_t lab_xpress_compress(const unsigned char *in, size_t len, unsigned char *dst, size_t cap);

#endif
