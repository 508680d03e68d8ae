/* Fuzz target: the CA database reader. The first byte picks what the rest is:
 *   0  a whole ESE file (header, catalog, pages): opened, every row of Requests and
 *      Certificates loaded and every column read (records, separated long values, LZXPRESS);
 *      then opened again as any ESE file (dirty allowed) and every column of every row read
 *      by position (multi-values, code pages, 8-byte long-value ids, compressed chunks)
 *   1  an ESE compressed value (scheme byte: LZXPRESS, 7-bit ASCII or Unicode)
 *   2  one record, decoded against the Requests columns of the lab database
 * Seeds: small lab databases (smimesync-lab --edb, in every --edb-opts form) and values cut
 * from them. */
#define _GNU_SOURCE
#include "edb/edb.h"
#include "edb/file.h"
#include "edb/ese_record.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static ssync_code no_entry(void *ctx, const ssync_edb_entry *e, ssync_error *err)
{
    (void)ctx;
    (void)e;
    (void)err;
    return SSYNC_OK;
}

static void read_table(ssync_edb_table *t)
{
    static const char *const names[] = {"RequestID",
                                        "Disposition",
                                        "RevokedWhen",
                                        "RevokedReason",
                                        "$RequesterName",
                                        "RawArchivedKey",
                                        "NotBefore",
                                        "NotAfter",
                                        "$SerialNumber",
                                        "$CertificateHash2",
                                        "$CertificateTemplate",
                                        "$UPN",
                                        "RawCertificate"};
    ssync_error err;
    size_t n = 0;
    if (t->ops->count(t, &n, &err) != SSYNC_OK)
        return;
    for (size_t i = 0; i < n && i < 64; i++) {
        if (t->ops->load(t, i, &err) != SSYNC_OK)
            return;
        for (size_t c = 0; c < sizeof names / sizeof names[0]; c++) {
            int col = t->ops->column(t, names[c]);
            ssync_edb_value v;
            if (col >= 0 && !t->ops->is_null(t, col) && t->ops->get(t, col, &v, &err) == SSYNC_OK)
                ssync_edb_value_clear(&v);
        }
    }
}

/* every column of every row (at most 64) by position, as `smimesync edb dump` reads */
static void read_any(ssync_edb_table *t)
{
    ssync_error err;
    size_t n = 0;
    if (t->ops->count(t, &n, &err) != SSYNC_OK)
        return;
    for (size_t i = 0; i < n && i < 64; i++) {
        if (t->ops->load(t, i, &err) != SSYNC_OK)
            return;
        for (size_t c = 0; c < ssync_edb_column_count(t) && c < 512; c++) {
            ssync_edb_value v;
            if (t->ops->get(t, (int)c, &v, &err) == SSYNC_OK)
                ssync_edb_value_clear(&v);
        }
    }
}

static void whole_file(const uint8_t *data, size_t len)
{
    int fd = memfd_create("fuzz_edb", MFD_CLOEXEC);
    if (fd < 0)
        return;
    if (write(fd, data, len) == (ssize_t)len) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssync_edb_db *db = NULL;
        ssync_error err;
        if (ssync_edb_open(path, &db, &err) == SSYNC_OK) {
            read_table(ssync_edb_requests(db));
            read_table(ssync_edb_certificates(db));
            /* the CA logic on top: the join and the filters */
            ssync_edb_query q = {0};
            q.archived_only = 1;
            ssync_edb_select(ssync_edb_requests(db), ssync_edb_certificates(db), &q, no_entry, NULL,
                             NULL, &err);
            ssync_edb_close(db);
        }
        static const char *const any[] = {"Requests", "MSysObjects"};
        for (size_t k = 0; k < 2; k++) {
            db = NULL;
            if (ssync_edb_open_tables(path, &any[k], 1, 1, &db, &err) == SSYNC_OK) {
                read_any(ssync_edb_table_at(db, 0));
                ssync_edb_close(db);
            }
        }
    }
    close(fd);
}

static void one_record(const uint8_t *data, size_t len)
{
    static const ssync_edb_coldef cols[] = {
        {1, 4, 4, "RequestID", 0, 0},
        {2, 4, 4, "Disposition", 0, 0},
        {3, 4, 4, "RevokedReason", 0, 0},
        {4, 4, 4, "RequestType", 0, 0},
        {5, 8, 8, "SubmittedWhen", 0, 0},
        {6, 8, 8, "RevokedWhen", 0, 0},
        {128, 10, 255, "$RequesterName", 0, 0},
        {129, 10, 255, "$DispositionMessage", 0, 0},
        {256, 11, 65536, "RawArchivedKey", 0, 0},
        {257, 12, 8192, "$KeyRecoveryHashes", 0, 0},
    };
    static const uint32_t ids[] = {1, 2, 3, 4, 5, 6, 7, 128, 129, 130, 256, 257, 258};
    for (int always = 0; always < 2; always++)
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
            ssync_edb_raw r;
            if (ssync_edb_record_find(data, len, cols, sizeof cols / sizeof cols[0], ids[i], always,
                                      &r) > 0 &&
                r.len) {
                volatile unsigned char sink = r.data[0] ^ r.data[r.len - 1];
                (void)sink;
            }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        whole_file(data + 1, len - 1);
        break;
    case 1: {
        unsigned char *out = NULL;
        size_t n = 0;
        ssync_error err;
        if (ssync_edb_decompress(data + 1, len - 1, &out, &n, &err) == SSYNC_OK)
            free(out);
        break;
    }
    default:
        one_record(data + 1, len - 1);
        break;
    }
    return 0;
}
