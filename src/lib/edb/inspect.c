/* Inspection of any ESE database (edb/inspect.h): the file header as `esentutl /mh` shows it and
 * the whole catalog (every table, its columns with their code pages, its trees). Header layout:
 * libyal's ESE format document, "File header"; Microsoft's ESE source (dev/ese/src/inc/daedef.hxx,
 * DBFILEHDR). Unlike the CA source's header check (edb/file.c), every state is accepted here:
 * inspection reads a dirty copy as it is on disk, as forensic readers do. */
#include "edb/ese_catalog.h"
#include "edb/file.h"
#include "edb/inspect_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint32_t rd16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A JET_LOGTIME (seconds, minutes, hours, day, month, years since 1900, 2 flag bytes), UTC. */
static time_t logtime(const unsigned char *p)
{
    if (!p[3] || !p[4] || p[4] > 12 || p[0] > 60 || p[1] > 59 || p[2] > 23 || p[3] > 31)
        return 0;
    struct tm tm = {0};
    tm.tm_sec = p[0];
    tm.tm_min = p[1];
    tm.tm_hour = p[2];
    tm.tm_mday = p[3];
    tm.tm_mon = p[4] - 1;
    tm.tm_year = p[5];
    return timegm(&tm);
}

ssync_code ssync_edb_info_read(const char *path, ssync_edb_info *info, ssync_error *err)
{
    if (!path || !info)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_edb_info_read");
    memset(info, 0, sizeof *info);
    unsigned char b[SSYNC_EDB_MAX_PAGE];
    int from_shadow = 0;
    ssync_code rc = ssync_edb_header_page(path, b, &from_shadow, err);
    if (rc != SSYNC_OK)
        return rc;
    /* inspection describes the file as it is: a damaged primary header is reported, not
     * papered over by its copy */
    if (from_shadow)
        return ssync_fail(err, SSYNC_ERR_EDB,
                          "%s: damaged ESE file header (checksum mismatch; its shadow copy, the "
                          "second page, is intact)",
                          path);
    uint32_t page = rd32(b + 236);
    info->checksum_whole_page = 1;
    info->format_version = rd32(b + 8);
    info->state = rd32(b + 52);
    info->consistent.offset = rd16(b + 56);
    info->consistent.sector = rd16(b + 58);
    info->consistent.generation = rd32(b + 60);
    info->created = logtime(b + 28); /* in the database signature (random, time, computer) */
    info->attached = logtime(b + 72);
    info->detached = logtime(b + 88);
    info->format_revision = rd32(b + 232);
    info->page_size = page;
    info->required_min = rd32(b + 296);
    info->required_max = rd32(b + 300);
    info->creation_version = rd32(b + 340);
    info->creation_revision = rd32(b + 344);
    struct stat st;
    if (stat(path, &st) == 0 && (uint64_t)st.st_size >= 2ull * page)
        info->pages = (uint64_t)st.st_size / page - 2;
    return SSYNC_OK;
}

const char *ssync_edb_state_name(uint32_t state)
{
    switch (state) {
    case SSYNC_EDB_INFO_STATE_JUST_CREATED:
        return "just created";
    case SSYNC_EDB_INFO_STATE_DIRTY:
        return "dirty";
    case SSYNC_EDB_INFO_STATE_CLEAN:
        return "clean";
    case 4:
        return "being converted";
    case 5:
        return "force detach";
    default:
        return "unknown";
    }
}

const char *ssync_edb_state_advice(uint32_t state)
{
    if (state == SSYNC_EDB_INFO_STATE_CLEAN)
        return NULL;
    if (state == SSYNC_EDB_INFO_STATE_DIRTY)
        return "not shut down cleanly: its newest transactions are in the log files; run "
               "esentutl /r with its logs on Windows (or restore with certutil -restoreDB) and "
               "copy it again before syncing";
    return "not in a clean state: copy it again from a stopped or restored CA before syncing";
}

const char *ssync_edb_coltyp_name(uint32_t type)
{
    static const char *const names[] = {
        "Nil",        "Bit",        "UnsignedByte", "Short",    "Long", "Currency",
        "IEEESingle", "IEEEDouble", "DateTime",     "Binary",   "Text", "LongBinary",
        "LongText",   "SLV",        "UnsignedLong", "LongLong", "GUID", "UnsignedShort"};
    return type < sizeof names / sizeof names[0] ? names[type] : "Unknown";
}

/* ---- the catalog ---- */

#define CAT_DEFAULT_VALUE 131
#define MAX_TABLES 4096
#define MAX_COLUMNS 65536

typedef struct walk {
    ssync_edb_inspect *db;
    int flags_always;
    const char *bad; /* what went wrong, or NULL */
} walk;

static int cat_u32(const unsigned char *rec, size_t len, uint32_t id, uint32_t *v)
{
    ssync_edb_raw r;
    *v = 0;
    int k =
        ssync_edb_record_find(rec, len, ssync_edb_catalog_cols, ssync_edb_catalog_ncols, id, 0, &r);
    for (size_t i = k > 0 ? r.len : 0; i > 0; i--)
        *v = (*v << 8) | r.data[i - 1];
    return k;
}

static ssync_edb_itable *table_of(ssync_edb_inspect *db, uint32_t objid)
{
    /* the catalog is in ObjidTable order: a table's rows follow it */
    if (db->ntables && db->tables[db->ntables - 1].objid == objid)
        return &db->tables[db->ntables - 1];
    for (size_t i = 0; i < db->ntables; i++)
        if (db->tables[i].objid == objid)
            return &db->tables[i];
    return NULL;
}

static int add_table(walk *w, uint32_t objid, uint32_t root, const ssync_edb_raw *name)
{
    ssync_edb_inspect *db = w->db;
    if (db->ntables >= MAX_TABLES) {
        w->bad = "more than 4096 tables";
        return 1;
    }
    ssync_edb_itable *t = realloc(db->tables, (db->ntables + 1) * sizeof *t);
    if (!t) {
        w->bad = "out of memory";
        return 1;
    }
    db->tables = t;
    t = &db->tables[db->ntables++];
    memset(t, 0, sizeof *t);
    t->objid = objid;
    t->root = root;
    size_t n = name->len < sizeof t->name - 1 ? name->len : sizeof t->name - 1;
    if (n)
        memcpy(t->name, name->data, n);
    return 0;
}

static int add_column(walk *w, ssync_edb_itable *t, const unsigned char *rec, size_t len,
                      uint32_t id, uint32_t type, const ssync_edb_raw *name)
{
    uint32_t size = 0, codepage = 0;
    cat_u32(rec, len, 5, &size);
    cat_u32(rec, len, 7, &codepage);
    if (t->ncols >= MAX_COLUMNS) {
        w->bad = "a table with too many columns";
        return 1;
    }
    ssync_edb_column *c = realloc(t->cols, (t->ncols + 1) * sizeof *c);
    if (c)
        t->cols = c;
    ssync_edb_coldef *d = c ? realloc(t->defs, (t->ncols + 1) * sizeof *d) : NULL;
    if (d)
        t->defs = d;
    unsigned char **dv = d ? realloc(t->dflt, (t->ncols + 1) * sizeof *dv) : NULL;
    if (dv)
        t->dflt = dv;
    size_t *dl = dv ? realloc(t->dflt_len, (t->ncols + 1) * sizeof *dl) : NULL;
    if (!dl) {
        w->bad = "out of memory";
        return 1;
    }
    t->dflt_len = dl;
    dv[t->ncols] = NULL;
    dl[t->ncols] = 0;
    ssync_edb_raw def;
    if (ssync_edb_record_find(rec, len, ssync_edb_catalog_cols, ssync_edb_catalog_ncols,
                              CAT_DEFAULT_VALUE, 0, &def) > 0) {
        if (!(dv[t->ncols] = malloc(def.len))) {
            w->bad = "out of memory";
            return 1;
        }
        memcpy(dv[t->ncols], def.data, def.len);
        dl[t->ncols] = def.len;
    }
    c = &t->cols[t->ncols];
    d = &t->defs[t->ncols++];
    memset(c, 0, sizeof *c);
    memset(d, 0, sizeof *d);
    c->id = d->id = id;
    c->type = d->type = type;
    c->size = d->size = size;
    c->codepage = codepage;
    size_t n = name->len < sizeof c->name - 1 ? name->len : sizeof c->name - 1;
    if (n)
        memcpy(c->name, name->data, n);
    memcpy(d->name, c->name, sizeof d->name);
    return 0;
}

static int visit(void *ctx, const ssync_edb_node *n)
{
    walk *w = ctx;
    uint32_t objid = 0, type = 0, id = 0, fdp = 0;
    ssync_edb_raw name = {0};
    if (cat_u32(n->data, n->dlen, 1, &objid) < 0 || cat_u32(n->data, n->dlen, 2, &type) < 0 ||
        cat_u32(n->data, n->dlen, 3, &id) < 0 || cat_u32(n->data, n->dlen, 4, &fdp) < 0 ||
        ssync_edb_record_find(n->data, n->dlen, ssync_edb_catalog_cols, ssync_edb_catalog_ncols,
                              SSYNC_EDB_CAT_NAME, w->flags_always, &name) < 0) {
        w->bad = "a malformed record";
        return 1;
    }
    if (type == SSYNC_EDB_CAT_TABLE)
        return add_table(w, objid, fdp, &name);
    ssync_edb_itable *t = table_of(w->db, objid);
    if (!t)
        return 0;
    if (type == SSYNC_EDB_CAT_COLUMN)
        return add_column(w, t, n->data, n->dlen, id, fdp, &name);
    if (type == SSYNC_EDB_CAT_LONG_VALUE)
        t->lv_root = fdp;
    return 0;
}

/* Sorts a table's columns by id (the catalog lists them so already; an insertion sort keeps the
 * three arrays in step and costs nothing then). */
static void sort_columns(ssync_edb_itable *t)
{
    for (size_t i = 1; i < t->ncols; i++)
        for (size_t j = i; j > 0 && t->cols[j - 1].id > t->cols[j].id; j--) {
            ssync_edb_column c = t->cols[j];
            t->cols[j] = t->cols[j - 1];
            t->cols[j - 1] = c;
            ssync_edb_coldef d = t->defs[j];
            t->defs[j] = t->defs[j - 1];
            t->defs[j - 1] = d;
            unsigned char *v = t->dflt[j];
            t->dflt[j] = t->dflt[j - 1];
            t->dflt[j - 1] = v;
            size_t l = t->dflt_len[j];
            t->dflt_len[j] = t->dflt_len[j - 1];
            t->dflt_len[j - 1] = l;
        }
}

int ssync_edb_inspect_flags_always(const ssync_edb_inspect *db)
{
    return db->pages.header_size > 40;
}

ssync_code ssync_edb_inspect_open(const char *path, ssync_edb_inspect **out, ssync_error *err)
{
    if (!path || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_edb_inspect_open");
    *out = NULL;
    ssync_edb_inspect *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    }
    db->pages.fd = -1;
    ssync_code rc = ssync_edb_info_read(path, &db->info, err);
    if (rc == SSYNC_OK)
        rc = ssync_edb_pages_open(path, db->info.page_size, db->info.format_revision, &db->pages,
                                  err);
    if (rc == SSYNC_OK) {
        walk w = {db, ssync_edb_inspect_flags_always(db), NULL};
        rc = ssync_edb_tree_walk(&db->pages, 4, visit, &w, err);
        if (rc != SSYNC_OK)
            ssync_error_prefix(err, "%s: catalog: ", path);
        else if (w.bad)
            rc = ssync_fail(err, SSYNC_ERR_EDB, "%s: catalog: %s", path, w.bad);
    }
    if (rc != SSYNC_OK) {
        ssync_edb_inspect_close(db);
        return rc;
    }
    for (size_t i = 0; i < db->ntables; i++)
        sort_columns(&db->tables[i]);
    *out = db;
    return SSYNC_OK;
}

void ssync_edb_inspect_close(ssync_edb_inspect *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->ntables; i++) {
        ssync_edb_itable *t = &db->tables[i];
        for (size_t k = 0; k < t->ncols; k++)
            free(t->dflt[k]);
        free(t->dflt);
        free(t->dflt_len);
        free(t->cols);
        free(t->defs);
    }
    free(db->tables);
    ssync_edb_pages_close(&db->pages);
    free(db->path);
    free(db);
}

const ssync_edb_info *ssync_edb_inspect_info(const ssync_edb_inspect *db)
{
    return db ? &db->info : NULL;
}

size_t ssync_edb_inspect_ntables(const ssync_edb_inspect *db)
{
    return db ? db->ntables : 0;
}

const char *ssync_edb_inspect_table_name(const ssync_edb_inspect *db, size_t i)
{
    return db && i < db->ntables ? db->tables[i].name : NULL;
}

int ssync_edb_inspect_find_table(const ssync_edb_inspect *db, const char *name)
{
    for (size_t i = 0; db && name && i < db->ntables; i++)
        if (!strcmp(db->tables[i].name, name))
            return (int)i;
    return -1;
}

const ssync_edb_column *ssync_edb_inspect_columns(const ssync_edb_inspect *db, size_t i,
                                                  size_t *ncols)
{
    if (!db || i >= db->ntables) {
        if (ncols)
            *ncols = 0;
        return NULL;
    }
    if (ncols)
        *ncols = db->tables[i].ncols;
    return db->tables[i].cols;
}

ssync_code ssync_edb_inspect_count(ssync_edb_inspect *db, size_t i, size_t *rows, ssync_error *err)
{
    if (!db || !rows || i >= db->ntables)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_edb_inspect_count");
    *rows = 0;
    const ssync_edb_itable *t = &db->tables[i];
    unsigned char *buf = malloc(db->pages.page_size);
    if (!buf)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    ssync_edb_page pg;
    ssync_code rc = ssync_edb_tree_first_leaf(&db->pages, t->root, buf, &pg, err);
    for (uint64_t visits = 0; rc == SSYNC_OK; visits++) {
        if (visits >= db->pages.npages) {
            rc = ssync_fail(err, SSYNC_ERR_EDB, "its leaf pages loop");
            break;
        }
        if (!(pg.flags & (SSYNC_EDB_PAGE_LEAF | SSYNC_EDB_PAGE_EMPTY))) {
            rc = ssync_fail(err, SSYNC_ERR_EDB, "page %u is not a leaf page", pg.pgno);
            break;
        }
        for (uint32_t k = 1; k < pg.ntags && !(pg.flags & SSYNC_EDB_PAGE_EMPTY); k++) {
            ssync_edb_node n;
            int r = ssync_edb_page_node(&pg, k, &n);
            if (r < 0) {
                rc = ssync_fail(err, SSYNC_ERR_EDB, "page %u: malformed entry %u", pg.pgno, k);
                break;
            }
            *rows += (size_t)r;
        }
        if (rc != SSYNC_OK || !pg.next)
            break;
        rc = ssync_edb_page_read(&db->pages, pg.next, buf, &pg, err);
    }
    free(buf);
    return rc == SSYNC_OK ? rc : ssync_error_prefix(err, "%s: table %s: ", db->path, t->name);
}
