/* The CA's requests (edb/ca_requests.h): Requests and Certificates walked together in RequestID
 * order by two cursors of edb/inspect.h. Column names: the AD CS schema as ca.c reads it
 * ($CertificateHash2 was $CertificateHash before Windows Server 2008). Dispositions: MS-CSRA
 * 3.1.1.4.3 (Disposition property) and certsrv.h's DB_DISP_* values. */
#include "edb/ca_requests.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { R_ID, R_DISP, R_REQUESTER, R_SUBMITTED, R_REVOKED_WHEN, R_REASON, R_KEY, R_N };
enum { C_ID, C_SERIAL, C_HASH, C_TEMPLATE, C_NB, C_NA, C_UPN, C_N };

static const char *const req_names[R_N] = {"RequestID",     "Disposition", "$RequesterName",
                                           "SubmittedWhen", "RevokedWhen", "RevokedReason",
                                           "RawArchivedKey"};
static const char *const crt_names[C_N] = {
    "RequestID", "$SerialNumber", "$CertificateHash2", "$CertificateTemplate", "NotBefore",
    "NotAfter",  "$UPN"};

const char *ssync_ca_disposition_name(int d)
{
    switch (d) {
    case 8:
        return "active";
    case 9:
        return "pending";
    case 15:
        return "CA certificate";
    case 16:
        return "CA chain";
    case 17:
        return "KRA certificate";
    case 20:
        return "issued";
    case 21:
        return "revoked";
    case 30:
        return "failed";
    case 31:
        return "denied";
    default:
        return "other";
    }
}

/* The present columns of names in table t: idx[] holds their column indexes, map[k] the
 * position of names[k] in idx (-1 when the table lacks it). */
static size_t pick(ssync_edb_inspect *db, size_t t, const char *const *names, size_t n, size_t *idx,
                   int *map)
{
    size_t ncols = 0, used = 0;
    const ssync_edb_column *cols = ssync_edb_inspect_columns(db, t, &ncols);
    for (size_t k = 0; k < n; k++) {
        map[k] = -1;
        const char *name = names[k];
        for (int pass = 0; pass < 2 && map[k] < 0; pass++) {
            for (size_t i = 0; i < ncols; i++)
                if (!strcmp(cols[i].name, name)) {
                    map[k] = (int)used;
                    idx[used++] = i;
                    break;
                }
            if (strcmp(name, "$CertificateHash2"))
                break;
            name = "$CertificateHash";
        }
    }
    return used;
}

static const ssync_edb_cell *cell(const ssync_edb_field *f, const int *map, int k)
{
    if (map[k] < 0 || !f[map[k]].ncells)
        return NULL;
    return &f[map[k]].cells[0];
}

static long long num(const ssync_edb_field *f, const int *map, int k)
{
    const ssync_edb_cell *c = cell(f, map, k);
    return c && (c->kind == SSYNC_EDB_CELL_INT || c->kind == SSYNC_EDB_CELL_UINT) ? c->i : 0;
}

static const char *text(const ssync_edb_field *f, const int *map, int k)
{
    const ssync_edb_cell *c = cell(f, map, k);
    return c && c->kind == SSYNC_EDB_CELL_TEXT ? (const char *)c->data : "";
}

/* A date column: DateTime, or a FILETIME in a 64-bit integer column; 0 when NULL. */
static time_t date(const ssync_edb_field *f, const int *map, int k)
{
    const ssync_edb_cell *c = cell(f, map, k);
    if (c && c->kind == SSYNC_EDB_CELL_DATE)
        return c->t;
    if (c && c->kind == SSYNC_EDB_CELL_INT && c->i > 0)
        return (time_t)(c->i / 10000000LL - 11644473600LL);
    return 0;
}

/* "45 a0 22 ..." as AD CS stores the hash: lowercase hex without blanks, into out. */
static void compact_hex(const char *in, char *out, size_t size)
{
    size_t o = 0;
    for (; *in && o + 1 < size; in++)
        if (isxdigit((unsigned char)*in))
            out[o++] = (char)tolower((unsigned char)*in);
    out[o] = '\0';
}

typedef struct join {
    ssync_edb_cursor *req, *crt;
    int rmap[R_N], cmap[C_N];
    const ssync_edb_field *cf; /* the Certificates cursor's current row; NULL at its end */
    long long cid;
    int cdone;
} join;

/* Moves the Certificates cursor to the first row with RequestID >= id. */
/* A row that cannot be decoded: reported through fn (its request id when that column was read),
 * and the walk goes on. */
static ssync_code bad_row(long long id, ssync_ca_request_fn fn, void *ctx, ssync_error *err)
{
    ssync_ca_request q = {0};
    q.request_id = id;
    q.requester = q.template_name = q.serial = q.thumbprint = q.upn = "";
    q.error = err;
    return fn(ctx, &q, err);
}

/* Moves the Certificates cursor to the first row with RequestID >= id; a Certificates row that
 * cannot be decoded is reported and passed. */
static ssync_code seek(join *j, long long id, ssync_ca_request_fn fn, void *ctx, ssync_error *err)
{
    while (!j->cdone && (!j->cf || j->cid < id)) {
        int r = ssync_edb_cursor_next(j->crt, &j->cf, NULL, err);
        if (r < 0 && !ssync_edb_cursor_row_error(j->crt))
            return err ? err->code : SSYNC_ERR_EDB;
        if (r < 0) {
            ssync_code rc = bad_row(num(j->cf, j->cmap, C_ID), fn, ctx, err);
            j->cf = NULL;
            if (rc != SSYNC_OK)
                return rc;
            continue;
        }
        if (r == 0) {
            j->cdone = 1;
            j->cf = NULL;
            break;
        }
        j->cid = num(j->cf, j->cmap, C_ID);
    }
    return SSYNC_OK;
}

static ssync_code walk(join *j, const ssync_ca_request_filter *f, ssync_ca_request_fn fn, void *ctx,
                       ssync_error *err)
{
    const ssync_edb_field *rf;
    long long prev = LLONG_MIN;
    int r;
    while ((r = ssync_edb_cursor_next(j->req, &rf, NULL, err)) != 0) {
        ssync_ca_request q = {0};
        if (r < 0) {
            if (!ssync_edb_cursor_row_error(j->req))
                return err ? err->code : SSYNC_ERR_EDB;
            ssync_code rc = bad_row(num(rf, j->rmap, R_ID), fn, ctx, err);
            if (rc != SSYNC_OK)
                return rc;
            continue;
        }
        q.request_id = num(rf, j->rmap, R_ID);
        if (q.request_id <= prev)
            return ssync_fail(err, SSYNC_ERR_EDB,
                              "table Requests: RequestID %lld after %lld: not in RequestID order",
                              q.request_id, prev);
        prev = q.request_id;
        const ssync_edb_cell *key = cell(rf, j->rmap, R_KEY);
        if (key && key->kind == SSYNC_EDB_CELL_BINARY && key->len) {
            q.archived_key = key->data;
            q.archived_key_len = key->len;
        }
        if (f && f->archived_only && !q.archived_key)
            continue;
        q.requester = text(rf, j->rmap, R_REQUESTER);
        if (f && f->requester && strcasecmp(f->requester, q.requester))
            continue;
        ssync_code rc = seek(j, q.request_id, fn, ctx, err);
        if (rc != SSYNC_OK)
            return rc;
        char thumb[129] = "";
        q.template_name = q.serial = q.upn = "";
        if (j->cf && j->cid == q.request_id) {
            q.has_certificate = 1;
            q.template_name = text(j->cf, j->cmap, C_TEMPLATE);
            q.serial = text(j->cf, j->cmap, C_SERIAL);
            q.upn = text(j->cf, j->cmap, C_UPN);
            compact_hex(text(j->cf, j->cmap, C_HASH), thumb, sizeof thumb);
            q.not_before = date(j->cf, j->cmap, C_NB);
            q.not_after = date(j->cf, j->cmap, C_NA);
        }
        q.thumbprint = thumb;
        if (f && f->template_name && strcasecmp(f->template_name, q.template_name))
            continue;
        q.disposition = (int)num(rf, j->rmap, R_DISP);
        q.submitted = date(rf, j->rmap, R_SUBMITTED);
        if (q.disposition == 21) {
            q.revoked_when = date(rf, j->rmap, R_REVOKED_WHEN);
            q.revoked_reason = (int)num(rf, j->rmap, R_REASON);
        }
        if ((rc = fn(ctx, &q, err)) != SSYNC_OK)
            return rc;
    }
    return SSYNC_OK;
}

ssync_code ssync_ca_requests(ssync_edb_inspect *db, const ssync_ca_request_filter *f,
                             ssync_ca_request_fn fn, void *ctx, ssync_error *err)
{
    if (!db || !fn)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_ca_requests");
    int rt = ssync_edb_inspect_find_table(db, "Requests");
    int ct = ssync_edb_inspect_find_table(db, "Certificates");
    if (rt < 0)
        return ssync_fail(err, SSYNC_ERR_EDB, "no table Requests (not an AD CS database?)");
    join j = {0};
    size_t ridx[R_N], cidx[C_N];
    size_t nr = pick(db, (size_t)rt, req_names, R_N, ridx, j.rmap);
    if (j.rmap[R_ID] < 0 || j.rmap[R_DISP] < 0)
        return ssync_fail(err, SSYNC_ERR_EDB,
                          "table Requests has no column %s (not an AD CS "
                          "database?)",
                          j.rmap[R_ID] < 0 ? "RequestID" : "Disposition");
    size_t nc = ct >= 0 ? pick(db, (size_t)ct, crt_names, C_N, cidx, j.cmap) : 0;
    if (ct < 0 || j.cmap[C_ID] < 0)
        j.cdone = 1;
    ssync_code rc = ssync_edb_cursor_open(db, (size_t)rt, ridx, nr, &j.req, err);
    if (rc == SSYNC_OK && !j.cdone)
        rc = ssync_edb_cursor_open(db, (size_t)ct, cidx, nc, &j.crt, err);
    if (rc == SSYNC_OK)
        rc = walk(&j, f, fn, ctx, err);
    ssync_edb_cursor_close(j.req);
    ssync_edb_cursor_close(j.crt);
    return rc;
}
