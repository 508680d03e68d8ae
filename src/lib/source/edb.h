/* The edb source: the CA database itself ([source] type = edb, path = a copy of
 * CertLog\<CA>.edb). Items are the issued and revoked requests that carry an archived key,
 * joined with their certificates; the key is read again by request id at upload time. */
#ifndef SSYNC_SOURCE_EDB_H
#define SSYNC_SOURCE_EDB_H

#include "sync/config.h"
#include "edb/edb.h"
#include "record/export.h"
#include "journal/journal.h"
#include "sync/plan.h"

/* The journal meta key of the last request id an incremental run has taken in. */
#define SSYNC_EDB_META_LAST_ID "edb.last_request_id"

/* Appends one item (kind SSYNC_ITEM_EDB, with its request id) per matching request: [source]
 * templates and requester are applied in the query, target->request_id seeks the one row, and
 * [source] incremental = yes reads only requests after the journal's last request id. Each
 * archived key is recovered to prove it can be; one that cannot becomes an item with
 * code != SSYNC_OK. A revoked disposition marks the item revoked (as a CRL would). st may be
 * NULL. */
ssync_code ssync_edb_source_scan(const ssync_config *cfg, const ssync_kra_set *kras,
                                 X509_CRL *const *crls, size_t n_crls,
                                 const ssync_plan_target *target, ssync_plan *out,
                                 ssync_edb_stats *st, ssync_error *err);
/* Builds the Graph record of an edb item: its RawArchivedKey and RawCertificate are read
 * again by request id, the key recovered and packed (the certificate must still be the one
 * planned). upn: the user to name. */
ssync_code ssync_edb_source_export(const ssync_exporter *ex, const ssync_config *cfg,
                                   const ssync_plan_item *it, const char *upn,
                                   ssync_export_result *out, ssync_error *err);
/* For `smimesync check`: opens [source] path as a CA database and counts its requests. */
ssync_code ssync_edb_source_check(const ssync_config *cfg, size_t *requests, ssync_error *err);
/* After a sync without failures: remembers the highest request id of the plan's edb items, so
 * the next incremental run starts after it. Does nothing unless [source] incremental. */
ssync_code ssync_edb_source_commit(ssync_journal *j, const ssync_config *cfg, const ssync_plan *p,
                                   ssync_error *err);

#endif
