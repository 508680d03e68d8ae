/* Thin wrappers over OpenSSL's base64 and hex codecs with our error convention. */
#ifndef SSYNC_ENCODE_H
#define SSYNC_ENCODE_H

#include "common/errors.h"
#include "common/fileio.h"

/* Standard base64, no line breaks. Returns a NUL-terminated malloc'd string or NULL. */
char *ssync_base64_encode(const unsigned char *data, size_t len);
/* Decodes standard base64; whitespace (CR, LF, space, tab) anywhere is skipped. Strict otherwise.
 */
ssync_code ssync_base64_decode(const char *text, size_t len, ssync_buf *out, ssync_error *err);
/* base64url (RFC 4648 5) without padding (RFC 7515 2). malloc'd, NULL on memory failure. */
char *ssync_base64url_encode(const unsigned char *data, size_t len);
/* Decodes base64url with or without padding (RFC 7515 2); '=' only at the end. */
ssync_code ssync_base64url_decode(const char *text, size_t len, ssync_buf *out, ssync_error *err);
/* Lowercase hex into out (2*len+1 bytes). */
void ssync_hex_lower(const unsigned char *data, size_t len, char *out);

#endif
