/* The CA logic on the row interface: the targeted query over Requests joined with
 * Certificates on RequestID. Both tables are walked once in RequestID order (a merge join);
 * seeks and gaps are crossed by binary search, so memory stays constant and a run for one
 * request reads only a few rows. */
#include "edb/edb.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct req_cols {
    int id, disp, revoked_when, reason, requester, key;
} req_cols;

typedef struct crt_cols {
    int id, nb, na, serial, hash, tmpl, upn, cert;
} crt_cols;

static ssync_code need(ssync_edb_table *t, const char *col, int *out, ssync_error *err)
{
    *out = t->ops->column(t, col);
    if (*out < 0)
        return ssync_fail(err, SSYNC_ERR_EDB, "table %s has no column %s (not an AD CS database?)",
                          t->name, col);
    return SSYNC_OK;
}

static ssync_code get_int(ssync_edb_table *t, int col, long long *v, ssync_error *err)
{
    *v = 0;
    if (col < 0 || t->ops->is_null(t, col))
        return SSYNC_OK;
    ssync_edb_value x;
    ssync_code rc = t->ops->get(t, col, &x, err);
    if (rc == SSYNC_OK)
        *v = x.i;
    ssync_edb_value_clear(&x);
    return rc;
}

/* A text column as a new string ("" when NULL or absent). */
static ssync_code get_text(ssync_edb_table *t, int col, char **s, ssync_error *err)
{
    *s = NULL;
    ssync_edb_value x = {0};
    ssync_code rc = SSYNC_OK;
    if (col >= 0 && !t->ops->is_null(t, col))
        rc = t->ops->get(t, col, &x, err);
    if (rc == SSYNC_OK) {
        *s = x.text ? x.text : strdup("");
        x.text = NULL;
        if (!*s)
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    }
    ssync_edb_value_clear(&x);
    return rc;
}

/* A date column: DateTime (decoded by the table) or a 64-bit FILETIME; 0 when NULL. */
static ssync_code get_date(ssync_edb_table *t, int col, time_t *v, ssync_error *err)
{
    *v = 0;
    if (col < 0 || t->ops->is_null(t, col))
        return SSYNC_OK;
    ssync_edb_value x;
    ssync_code rc = t->ops->get(t, col, &x, err);
    if (rc == SSYNC_OK && x.kind == SSYNC_EDB_DATE)
        *v = x.t;
    else if (rc == SSYNC_OK && x.kind == SSYNC_EDB_INT &&
             ssync_edb_filetime_to_time((uint64_t)x.i, v))
        *v = 0;
    ssync_edb_value_clear(&x);
    return rc;
}

static ssync_code row_id(ssync_edb_table *t, int col, size_t i, long long *id, ssync_error *err)
{
    ssync_code rc = t->ops->load(t, i, err);
    return rc == SSYNC_OK ? get_int(t, col, id, err) : rc;
}

/* The first row in [lo, hi) whose RequestID is >= want (hi when none). */
static ssync_code lower_bound(ssync_edb_table *t, int col, size_t lo, size_t hi, long long want,
                              size_t *pos, size_t *probes, ssync_error *err)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        long long id;
        ssync_code rc = row_id(t, col, mid, &id, err);
        if (rc != SSYNC_OK)
            return rc;
        (*probes)++;
        if (id < want)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return SSYNC_OK;
}

static int template_match(const ssync_edb_query *q, const char *tmpl)
{
    if (!q->n_templates)
        return 1;
    for (size_t i = 0; i < q->n_templates; i++)
        if (!strcasecmp(q->templates[i], tmpl))
            return 1;
    return 0;
}

typedef struct cursor {
    ssync_edb_table *t;
    crt_cols c;
    size_t n, at;  /* the next row to look at */
    size_t loaded; /* the row whose id is in id; SIZE_MAX: none */
    long long id, prev;
} cursor;

/* Moves the Certificates cursor to the row of request id; 1 when found. Short steps are read
 * row by row, long gaps crossed by binary search. */
static ssync_code seek_cert(cursor *cu, long long id, int *found, ssync_edb_stats *st,
                            ssync_error *err)
{
    *found = 0;
    for (int steps = 0; cu->at < cu->n; steps++) {
        if (cu->loaded != cu->at) {
            ssync_code rc = row_id(cu->t, cu->c.id, cu->at, &cu->id, err);
            if (rc != SSYNC_OK)
                return rc;
            st->certificates++;
            if (cu->id <= cu->prev && cu->prev != LLONG_MIN)
                return ssync_fail(err, SSYNC_ERR_EDB,
                                  "table %s: RequestID %lld after %lld: not in RequestID order",
                                  cu->t->name, cu->id, cu->prev);
            cu->prev = cu->id;
            cu->loaded = cu->at;
        }
        if (cu->id > id)
            return SSYNC_OK;
        if (cu->id == id) {
            *found = 1;
            return SSYNC_OK;
        }
        if (steps >= 4) {
            size_t pos;
            ssync_code rc =
                lower_bound(cu->t, cu->c.id, cu->at + 1, cu->n, id, &pos, &st->probes, err);
            if (rc != SSYNC_OK)
                return rc;
            cu->at = pos;
            cu->loaded = SIZE_MAX;
            cu->prev = LLONG_MIN;
            steps = 0;
            continue;
        }
        cu->at++;
    }
    return SSYNC_OK;
}

typedef struct row_strings {
    char *requester, *tmpl, *upn, *serial, *hash;
} row_strings;

static void strings_free(row_strings *s)
{
    free(s->requester);
    free(s->tmpl);
    free(s->upn);
    free(s->serial);
    free(s->hash);
    memset(s, 0, sizeof *s);
}

/* Reads the certificate side of one selected request and calls fn. */
static ssync_code emit(ssync_edb_table *req, const req_cols *r, cursor *cu,
                       const ssync_edb_query *q, ssync_edb_entry *e, row_strings *s,
                       ssync_edb_entry_fn fn, void *ctx, ssync_error *err)
{
    ssync_edb_table *crt = cu->t;
    ssync_edb_value cert = {0};
    long long v = 0;
    ssync_code rc = get_text(crt, cu->c.tmpl, &s->tmpl, err);
    if (rc != SSYNC_OK || !template_match(q, s->tmpl))
        return rc;
    if ((rc = get_int(req, r->reason, &v, err)) != SSYNC_OK ||
        (rc = get_date(req, r->revoked_when, &e->revoked_when, err)) != SSYNC_OK ||
        (rc = get_date(crt, cu->c.nb, &e->not_before, err)) != SSYNC_OK ||
        (rc = get_date(crt, cu->c.na, &e->not_after, err)) != SSYNC_OK ||
        (rc = get_text(crt, cu->c.upn, &s->upn, err)) != SSYNC_OK ||
        (rc = get_text(crt, cu->c.serial, &s->serial, err)) != SSYNC_OK ||
        (rc = get_text(crt, cu->c.hash, &s->hash, err)) != SSYNC_OK)
        return rc;
    e->revoked_reason = (int)v;
    if (e->disposition != SSYNC_EDB_DISP_REVOKED)
        e->revoked_when = 0;
    if (!crt->ops->is_null(crt, cu->c.cert) &&
        (rc = crt->ops->get(crt, cu->c.cert, &cert, err)) != SSYNC_OK)
        return rc;
    e->template_name = s->tmpl;
    e->upn = s->upn;
    e->serial = s->serial;
    e->cert_hash = s->hash;
    e->cert = cert.data;
    e->cert_len = cert.len;
    rc = fn(ctx, e, err);
    ssync_edb_value_clear(&cert);
    return rc;
}

ssync_code ssync_edb_select(ssync_edb_table *req, ssync_edb_table *crt, const ssync_edb_query *q,
                            ssync_edb_entry_fn fn, void *ctx, ssync_edb_stats *st_out,
                            ssync_error *err)
{
    if (!req || !crt || !q || !fn)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_edb_select");
    ssync_edb_stats st_local = {0}, *st = st_out ? st_out : &st_local;
    memset(st, 0, sizeof *st);
    req_cols r;
    cursor cu = {crt, {0}, 0, 0, SIZE_MAX, 0, LLONG_MIN};
    size_t nreq = 0, i = 0;
    ssync_code rc;
    if ((rc = need(req, "RequestID", &r.id, err)) != SSYNC_OK ||
        (rc = need(req, "Disposition", &r.disp, err)) != SSYNC_OK ||
        (rc = need(crt, "RequestID", &cu.c.id, err)) != SSYNC_OK ||
        (rc = need(crt, "RawCertificate", &cu.c.cert, err)) != SSYNC_OK)
        return rc;
    r.revoked_when = req->ops->column(req, "RevokedWhen");
    r.reason = req->ops->column(req, "RevokedReason");
    r.requester = req->ops->column(req, "$RequesterName");
    r.key = req->ops->column(req, "RawArchivedKey");
    cu.c.nb = crt->ops->column(crt, "NotBefore");
    cu.c.na = crt->ops->column(crt, "NotAfter");
    cu.c.serial = crt->ops->column(crt, "$SerialNumber");
    /* the column was renamed across Windows versions */
    cu.c.hash = crt->ops->column(crt, "$CertificateHash2");
    if (cu.c.hash < 0)
        cu.c.hash = crt->ops->column(crt, "$CertificateHash");
    cu.c.tmpl = crt->ops->column(crt, "$CertificateTemplate");
    cu.c.upn = crt->ops->column(crt, "$UPN");
    if (q->archived_only && r.key < 0)
        return ssync_fail(err, SSYNC_ERR_EDB, "table %s has no column RawArchivedKey", req->name);
    if ((rc = req->ops->count(req, &nreq, err)) != SSYNC_OK ||
        (rc = crt->ops->count(crt, &cu.n, err)) != SSYNC_OK)
        return rc;
    long long first = q->request_id > 0 ? q->request_id : q->after_id > 0 ? q->after_id + 1 : 0;
    if (first > 0 &&
        (rc = lower_bound(req, r.id, 0, nreq, first, &i, &st->probes, err)) != SSYNC_OK)
        return rc;
    long long prev = LLONG_MIN;
    for (; i < nreq; i++) {
        long long id = 0, disp = 0;
        if ((rc = row_id(req, r.id, i, &id, err)) != SSYNC_OK)
            return rc;
        st->requests++;
        if (prev != LLONG_MIN && id <= prev)
            return ssync_fail(err, SSYNC_ERR_EDB,
                              "table %s: RequestID %lld after %lld: not in RequestID order",
                              req->name, id, prev);
        prev = id;
        if (q->request_id > 0 && id != q->request_id)
            break;
        if (id > st->max_request_id)
            st->max_request_id = id;
        if ((rc = get_int(req, r.disp, &disp, err)) != SSYNC_OK)
            return rc;
        if (disp != SSYNC_EDB_DISP_ISSUED && disp != SSYNC_EDB_DISP_REVOKED)
            continue;
        ssync_edb_entry e = {0};
        e.request_id = id;
        e.disposition = (int)disp;
        e.has_archived_key = r.key >= 0 && !req->ops->is_null(req, r.key);
        if (q->archived_only && !e.has_archived_key)
            continue;
        row_strings s = {0};
        if ((rc = get_text(req, r.requester, &s.requester, err)) != SSYNC_OK)
            return rc;
        e.requester = s.requester;
        int found = 0;
        if ((!q->requester || !strcasecmp(q->requester, s.requester)) &&
            (rc = seek_cert(&cu, id, &found, st, err)) == SSYNC_OK && found)
            rc = emit(req, &r, &cu, q, &e, &s, fn, ctx, err);
        strings_free(&s);
        if (rc != SSYNC_OK)
            return rc;
    }
    return SSYNC_OK;
}
