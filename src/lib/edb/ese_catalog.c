/* The catalog (see ese_catalog.h): one walk of MSysObjects. Its primary key is (ObjidTable,
 * Type, Id), so a table's own record comes before its columns and its long-value tree. */
#include "edb/ese_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ssync_edb_coldef ssync_edb_catalog_cols[] = {
    {1, 4, 4, "ObjidTable", 0, 0},      {2, 3, 2, "Type", 0, 0},       {3, 4, 4, "Id", 0, 0},
    {4, 4, 4, "ColtypOrPgnoFDP", 0, 0}, {5, 4, 4, "SpaceUsage", 0, 0}, {6, 4, 4, "Flags", 0, 0},
    {7, 4, 4, "PagesOrLocale", 0, 0},
};
const size_t ssync_edb_catalog_ncols =
    sizeof ssync_edb_catalog_cols / sizeof ssync_edb_catalog_cols[0];

typedef struct cat_walk {
    ssync_edb_tabledef *tabs;
    size_t ntabs;
    int tag_flags_always;
    int bad; /* 1: a malformed record; 2: out of memory; 3: too many columns */
} cat_walk;

static int u32(const unsigned char *rec, size_t len, uint32_t id, uint32_t *v)
{
    ssync_edb_raw r;
    int k =
        ssync_edb_record_find(rec, len, ssync_edb_catalog_cols, ssync_edb_catalog_ncols, id, 0, &r);
    if (k <= 0)
        return k;
    *v = 0;
    for (size_t i = r.len; i > 0; i--)
        *v = (*v << 8) | r.data[i - 1];
    return 1;
}

static ssync_edb_tabledef *owner(cat_walk *w, uint32_t objid)
{
    for (size_t i = 0; i < w->ntabs; i++)
        if (w->tabs[i].found && w->tabs[i].objid == objid)
            return &w->tabs[i];
    return NULL;
}

static int add_column(cat_walk *w, ssync_edb_tabledef *t, const ssync_edb_coldef *def,
                      const ssync_edb_raw *name)
{
    if (t->ncols >= SSYNC_EDB_MAX_COLUMNS) {
        w->bad = 3;
        return 1;
    }
    if ((t->ncols & (t->ncols - 1)) == 0) { /* grows by doubling: 0, 1, 2, 4, ... */
        ssync_edb_coldef *c = realloc(t->cols, (t->ncols ? 2 * t->ncols : 1) * sizeof *c);
        if (!c) {
            w->bad = 2;
            return 1;
        }
        t->cols = c;
    }
    ssync_edb_coldef *c = &t->cols[t->ncols++];
    *c = *def;
    memset(c->name, 0, sizeof c->name);
    size_t n = name->len < sizeof c->name - 1 ? name->len : sizeof c->name - 1;
    if (n) /* a NULL Name (data NULL) leaves the name empty */
        memcpy(c->name, name->data, n);
    return 0;
}

static int visit(void *ctx, const ssync_edb_node *n)
{
    cat_walk *w = ctx;
    uint32_t objid = 0, type = 0, id = 0, fdp = 0, size = 0, flags = 0, cp = 0;
    ssync_edb_raw name;
    if (u32(n->data, n->dlen, 1, &objid) < 0 || u32(n->data, n->dlen, 2, &type) < 0 ||
        u32(n->data, n->dlen, 3, &id) < 0 || u32(n->data, n->dlen, 4, &fdp) < 0 ||
        u32(n->data, n->dlen, 5, &size) < 0 || u32(n->data, n->dlen, 6, &flags) < 0 ||
        u32(n->data, n->dlen, 7, &cp) < 0 ||
        ssync_edb_record_find(n->data, n->dlen, ssync_edb_catalog_cols, ssync_edb_catalog_ncols,
                              SSYNC_EDB_CAT_NAME, w->tag_flags_always, &name) < 0) {
        w->bad = 1;
        return 1;
    }
    if (type == SSYNC_EDB_CAT_TABLE) {
        for (size_t i = 0; i < w->ntabs; i++) {
            ssync_edb_tabledef *t = &w->tabs[i];
            if (!t->found && name.len == strlen(t->name) && !memcmp(name.data, t->name, name.len)) {
                t->found = 1;
                t->objid = objid;
                t->root = fdp;
            }
        }
        return 0;
    }
    ssync_edb_tabledef *t = owner(w, objid);
    if (!t)
        return 0;
    if (type == SSYNC_EDB_CAT_COLUMN) {
        ssync_edb_coldef def = {
            .id = id, .type = fdp, .size = size, .codepage = cp, .flags = flags};
        return add_column(w, t, &def, &name);
    }
    if (type == SSYNC_EDB_CAT_LONG_VALUE)
        t->lv_root = fdp;
    return 0;
}

ssync_code ssync_edb_catalog_read(ssync_edb_pages *p, ssync_edb_tabledef *tabs, size_t ntabs,
                                  ssync_error *err)
{
    cat_walk w = {tabs, ntabs, p->header_size > 40, 0};
    ssync_code rc = ssync_edb_tree_walk(p, SSYNC_EDB_CATALOG_PAGE, visit, &w, err);
    if (rc != SSYNC_OK)
        return ssync_error_prefix(err, "catalog: ");
    if (w.bad == 2)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    if (w.bad)
        return ssync_fail(err, SSYNC_ERR_EDB, "catalog: %s",
                          w.bad == 3 ? "a table with too many columns" : "a malformed record");
    return SSYNC_OK;
}

void ssync_edb_tabledef_free(ssync_edb_tabledef *t)
{
    if (!t)
        return;
    free(t->cols);
    t->cols = NULL;
    t->ncols = 0;
}
