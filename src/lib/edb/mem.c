/* In-memory tables for the CA logic's tests (see mem.h). */
#include "edb/mem.h"

#include <stdlib.h>
#include <string.h>

typedef struct mem_table {
    ssync_edb_table base; /* first: the interface */
    char *name;
    char **cols;
    size_t ncols;
    ssync_edb_value *cells; /* nrows * ncols */
    size_t nrows, cap;
    size_t cur;
    int have_cur;
} mem_table;

static ssync_code mem_count(ssync_edb_table *t, size_t *n, ssync_error *err)
{
    (void)err;
    *n = ((mem_table *)t)->nrows;
    return SSYNC_OK;
}

static ssync_code mem_load(ssync_edb_table *t, size_t i, ssync_error *err)
{
    mem_table *m = (mem_table *)t;
    if (i >= m->nrows)
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: no row %zu", m->name, i);
    m->cur = i;
    m->have_cur = 1;
    t->loads++;
    return SSYNC_OK;
}

static int mem_column(ssync_edb_table *t, const char *name)
{
    mem_table *m = (mem_table *)t;
    for (size_t i = 0; i < m->ncols; i++)
        if (!strcmp(m->cols[i], name))
            return (int)i;
    return -1;
}

static const ssync_edb_value *cell(mem_table *m, int col)
{
    if (!m->have_cur || col < 0 || (size_t)col >= m->ncols)
        return NULL;
    return &m->cells[m->cur * m->ncols + (size_t)col];
}

static int mem_is_null(ssync_edb_table *t, int col)
{
    const ssync_edb_value *v = cell((mem_table *)t, col);
    return !v || v->kind == SSYNC_EDB_NULL;
}

static ssync_code copy_value(ssync_edb_value *dst, const ssync_edb_value *src)
{
    *dst = *src;
    dst->text = NULL;
    dst->data = NULL;
    if (src->text && !(dst->text = strdup(src->text)))
        return SSYNC_ERR_NOMEM;
    if (src->data) {
        if (!(dst->data = malloc(src->len ? src->len : 1))) {
            free(dst->text);
            dst->text = NULL;
            return SSYNC_ERR_NOMEM;
        }
        memcpy(dst->data, src->data, src->len);
    }
    return SSYNC_OK;
}

static ssync_code mem_get(ssync_edb_table *t, int col, ssync_edb_value *out, ssync_error *err)
{
    memset(out, 0, sizeof *out);
    const ssync_edb_value *v = cell((mem_table *)t, col);
    if (!v)
        return ssync_fail(err, SSYNC_ERR_ARG, "no current row or column");
    return copy_value(out, v) == SSYNC_OK ? SSYNC_OK : ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
}

static const ssync_edb_table_ops mem_ops = {mem_count, mem_load, mem_column, mem_is_null, mem_get};

ssync_edb_table *ssync_edb_mem_new(const char *name, const char *const *cols, size_t ncols)
{
    mem_table *m = calloc(1, sizeof *m);
    if (!m || !(m->name = strdup(name)) ||
        !(m->cols = calloc(ncols ? ncols : 1, sizeof *m->cols))) {
        ssync_edb_mem_free(m ? &m->base : NULL);
        return NULL;
    }
    m->base.ops = &mem_ops;
    m->base.name = m->name;
    for (size_t i = 0; i < ncols; i++, m->ncols++)
        if (!(m->cols[i] = strdup(cols[i]))) {
            ssync_edb_mem_free(&m->base);
            return NULL;
        }
    return &m->base;
}

ssync_code ssync_edb_mem_add(ssync_edb_table *t, const ssync_edb_value *vals, ssync_error *err)
{
    mem_table *m = (mem_table *)t;
    if (m->nrows == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        ssync_edb_value *c = realloc(m->cells, cap * m->ncols * sizeof *c);
        if (!c)
            return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
        m->cells = c;
        m->cap = cap;
    }
    ssync_edb_value *row = &m->cells[m->nrows * m->ncols];
    memset(row, 0, m->ncols * sizeof *row);
    for (size_t i = 0; i < m->ncols; i++)
        if (copy_value(&row[i], &vals[i]) != SSYNC_OK) {
            for (size_t k = 0; k < i; k++)
                ssync_edb_value_clear(&row[k]);
            return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
        }
    m->nrows++;
    return SSYNC_OK;
}

void ssync_edb_mem_free(ssync_edb_table *t)
{
    mem_table *m = (mem_table *)t;
    if (!m)
        return;
    for (size_t i = 0; i < m->nrows * m->ncols; i++)
        ssync_edb_value_clear(&m->cells[i]);
    for (size_t i = 0; i < m->ncols; i++)
        free(m->cols[i]);
    free(m->cols);
    free(m->cells);
    free(m->name);
    free(m);
}
