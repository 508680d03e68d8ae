/* KRA coverage of one archived key: the recipients its EnvelopedData is encrypted to (issuer +
 * serial of each KRA, or a subject key identifier) and whether a KRA key we hold opens it. A blob
 * is encrypted to the KRAs the CA had when the key was archived: a KRA added later cannot open
 * older blobs, and a KRA removed from our set leaves its blobs unopened. */
#ifndef SSYNC_RECOVER_COVERAGE_H
#define SSYNC_RECOVER_COVERAGE_H

#include "common/errors.h"
#include "recover/kra.h"

#include <stddef.h>

#define SSYNC_COVERAGE_MAX_RECIPIENTS 16

typedef struct ssync_kra_recipient {
    char serial[80];  /* uppercase hex; "" for a key-identifier recipient */
    char issuer[256]; /* RFC 2253; or "subject key identifier <HEX>" */
    int held;         /* one of our KRA certificates is this recipient */
} ssync_kra_recipient;

typedef struct ssync_kra_coverage {
    size_t n;     /* recipients listed (at most SSYNC_COVERAGE_MAX_RECIPIENTS) */
    size_t total; /* recipients in the envelope */
    ssync_kra_recipient r[SSYNC_COVERAGE_MAX_RECIPIENTS];
    int held;        /* a recipient is one of ours */
    int opens;       /* a held key decrypted it (only tried when held) */
    ssync_error why; /* when held but it did not open: the reason */
} ssync_kra_coverage;

/* Reads the recipients of raw (a RawArchivedKey: CMS EnvelopedData, or a recovery blob around
 * it) and, with kras (may be NULL or empty: nothing is tried), tries to open it with the held
 * key. The decrypted key is wiped at once. Fails only when raw is not an envelope. */
ssync_code ssync_kra_coverage_check(const ssync_kra_set *kras, const unsigned char *raw, size_t len,
                                    ssync_kra_coverage *out, ssync_error *err);

#endif
