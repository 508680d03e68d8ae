/* Fuzz target: inspection of any ESE database (edb info, edb dump, ca requests). The input is a
 * whole ESE file: its header read in any state, the whole catalog (every table, its columns and
 * their defaults), every table counted and streamed through the typed-cell cursor (records,
 * multi-valued and two-valued columns, separated long values, compressed values, dates, text in
 * either code page), the AD CS summary and the requests view joined with Certificates.
 * Seeds: the real files of tests/data/ese-real (unpacked) and small lab databases. */
#define _GNU_SOURCE
#include "edb/ca_requests.h"
#include "edb/inspect.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static ssync_code on_request(void *ctx, const ssync_ca_request *r, ssync_error *err)
{
    (void)err;
    size_t *n = ctx;
    *n += r->archived_key_len + (size_t)r->request_id;
    return SSYNC_OK;
}

static void walk(ssync_edb_inspect *db)
{
    ssync_error err;
    for (size_t t = 0; t < ssync_edb_inspect_ntables(db) && t < 64; t++) {
        size_t rows = 0;
        if (ssync_edb_inspect_count(db, t, &rows, &err) != SSYNC_OK)
            continue;
        ssync_edb_cursor *c = NULL;
        if (ssync_edb_cursor_open(db, t, NULL, 0, &c, &err) != SSYNC_OK)
            continue;
        const ssync_edb_field *f;
        size_t nf;
        for (int i = 0; i < 256 && ssync_edb_cursor_next(c, &f, &nf, &err) == 1; i++)
            for (size_t k = 0; k < nf; k++)
                for (size_t v = 0; v < f[k].ncells; v++)
                    if (f[k].cells[v].len) {
                        volatile unsigned char sink = f[k].cells[v].data[f[k].cells[v].len - 1];
                        (void)sink;
                    }
        ssync_edb_cursor_close(c);
    }
    ssync_edb_ca_summary s;
    ssync_edb_inspect_ca(db, &s, &err);
    size_t n = 0;
    ssync_ca_requests(db, NULL, on_request, &n, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    int fd = memfd_create("fuzz_edb_inspect", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, len) == (ssize_t)len) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssync_edb_inspect *db = NULL;
        ssync_error err;
        if (ssync_edb_inspect_open(path, &db, &err) == SSYNC_OK) {
            walk(db);
            ssync_edb_inspect_close(db);
        }
    }
    close(fd);
    return 0;
}
