/* What the trail's writer and reader share: the hash of a line, the anchor of a new chain. */
#ifndef SSYNC_AUDIT_INT_H
#define SSYNC_AUDIT_INT_H

#include "audit/audit.h"

#include <stddef.h>

/* prev of a "start" line: a chain that continues no other */
#define SSYNC_AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* The SHA-256 of a line's bytes (without its "\n"), lowercase hex. */
void ssync_audit_hash(const char *line, size_t len, char out[SSYNC_AUDIT_HASH_HEX + 1]);
/* 1 when s is 64 lowercase hex digits. */
int ssync_audit_hash_valid(const char *s);

#endif
