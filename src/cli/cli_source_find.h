/* Whether certificates are still in the [source] and wanted there, found cheaply for remove's
 * warning "the next sync will upload it again": the certificates the recovery blobs carry are
 * read without decrypting anything (no KRA operation, no directory lookup). */
#ifndef SSYNC_CLI_SOURCE_FIND_H
#define SSYNC_CLI_SOURCE_FIND_H

#include "sync/config.h"

#include <stddef.h>

/* For each of the n lowercase thumbprints, files[i] becomes the blob (malloc'd) that carries
 * that certificate when it is neither revoked by a [source] crl nor expired while
 * include_expired is off; else NULL. Returns 1 when the source was searched, 0 when it cannot
 * be searched this way (not a blob source, unreadable directory or CRL): then files are NULL.
 * Filters ([source] users_deny, templates, ...) and keep_newest are not applied. */
int cli_source_find(const ssync_config *cfg, const char *const *thumbprints, size_t n,
                    char **files);

#endif
