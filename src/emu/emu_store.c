/* The records Intune holds (full JSON, blob and password included), in creation order, with a
 * hash index by id; and --state persistence. Paging uses the creation sequence as skip token, so
 * deletes between pages never make a listing skip a record. */
#include "emu.h"

#include <errno.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct slot {
    uint64_t seq;
    json_t *rec; /* NULL once deleted */
} slot;

typedef struct hnode {
    char *id;
    uint64_t seq;
    struct hnode *next;
} hnode;

struct emu_store {
    slot *slots;
    size_t n, cap, live;
    uint64_t next_seq;
    hnode **buckets;
    size_t nbuckets;
};

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

emu_store *emu_store_new(void)
{
    emu_store *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->nbuckets = 1024;
    s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
    s->next_seq = 1;
    if (!s->buckets) {
        free(s);
        return NULL;
    }
    return s;
}

void emu_store_free(emu_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        json_decref(s->slots[i].rec);
    for (size_t b = 0; b < s->nbuckets; b++) {
        hnode *h = s->buckets[b];
        while (h) {
            hnode *nx = h->next;
            free(h->id);
            free(h);
            h = nx;
        }
    }
    free(s->buckets);
    free(s->slots);
    free(s);
}

size_t emu_store_count(const emu_store *s)
{
    return s->live;
}

static hnode **find(emu_store *s, const char *id)
{
    hnode **pp = &s->buckets[hash(id) % s->nbuckets];
    while (*pp && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* Slots are in increasing seq order: binary search. */
static size_t slot_index(const emu_store *s, uint64_t seq)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->slots[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

json_t *emu_store_get(emu_store *s, const char *id)
{
    hnode *h = *find(s, id);
    if (!h)
        return NULL;
    size_t i = slot_index(s, h->seq);
    return i < s->n && s->slots[i].seq == h->seq ? s->slots[i].rec : NULL;
}

static void rehash(emu_store *s)
{
    size_t nb = s->nbuckets * 4;
    hnode **b = calloc(nb, sizeof(*b));
    if (!b)
        return; /* keep the old table: slower, still correct */
    for (size_t i = 0; i < s->nbuckets; i++) {
        hnode *h = s->buckets[i];
        while (h) {
            hnode *nx = h->next;
            size_t k = hash(h->id) % nb;
            h->next = b[k];
            b[k] = h;
            h = nx;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
}

static void compact(emu_store *s)
{
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->slots[i].rec)
            s->slots[w++] = s->slots[i];
    s->n = w;
}

int emu_store_put(emu_store *s, const char *id, json_t *rec)
{
    hnode **pp = find(s, id);
    if (*pp) {
        json_decref(rec);
        return -1;
    }
    if (s->n == s->cap) {
        if (s->n > 2 * s->live + 64) {
            compact(s);
        } else {
            size_t cap = s->cap ? s->cap * 2 : 256;
            slot *sl = realloc(s->slots, cap * sizeof(*sl));
            if (!sl) {
                json_decref(rec);
                return -2;
            }
            s->slots = sl;
            s->cap = cap;
        }
    }
    hnode *h = calloc(1, sizeof(*h));
    if (!h || !(h->id = strdup(id))) {
        free(h);
        json_decref(rec);
        return -2;
    }
    h->seq = s->next_seq++;
    *pp = h;
    s->slots[s->n].seq = h->seq;
    s->slots[s->n].rec = rec;
    s->n++;
    s->live++;
    if (s->live > s->nbuckets * 2)
        rehash(s);
    return 0;
}

int emu_store_delete(emu_store *s, const char *id)
{
    hnode **pp = find(s, id);
    hnode *h = *pp;
    if (!h)
        return -1;
    size_t i = slot_index(s, h->seq);
    if (i < s->n && s->slots[i].seq == h->seq) {
        json_decref(s->slots[i].rec);
        s->slots[i].rec = NULL;
    }
    *pp = h->next;
    free(h->id);
    free(h);
    s->live--;
    return 0;
}

json_t *emu_store_next(emu_store *s, uint64_t after, uint64_t *seq)
{
    for (size_t i = slot_index(s, after + 1); i < s->n; i++) {
        if (s->slots[i].rec) {
            *seq = s->slots[i].seq;
            return s->slots[i].rec;
        }
    }
    return NULL;
}

/* ---- --state ---- */

int emu_state_load(emu_ctx *ctx, const char *path, ssync_error *err)
{
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return 0; /* first run: start empty */
    ssync_buf b;
    if (ssync_read_file(path, (size_t)1 << 30, &b, err) != SSYNC_OK)
        return -1;
    json_error_t je;
    json_t *root = json_loadb((const char *)b.data, b.len, 0, &je);
    ssync_buf_free(&b);
    if (!root || !json_is_object(root) || !json_is_array(json_object_get(root, "records"))) {
        json_decref(root);
        ssync_fail(err, SSYNC_ERR_STATE, "%s: not an intune-emu state file (%s)", path,
                   root ? "no records" : je.text);
        return -1;
    }
    const char *pem = json_string_value(json_object_get(root, "tokenSigningKey"));
    if (pem) {
        BIO *bio = BIO_new_mem_buf(pem, -1);
        EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (k) {
            EVP_PKEY_free(ctx->token_key);
            ctx->token_key = k;
        }
    }
    size_t i;
    json_t *rec;
    json_array_foreach(json_object_get(root, "records"), i, rec)
    {
        const char *id = json_string_value(json_object_get(rec, "id"));
        if (!id || !json_is_object(rec)) {
            json_decref(root);
            ssync_fail(err, SSYNC_ERR_STATE, "%s: record %zu has no id", path, i);
            return -1;
        }
        (void)emu_store_put(ctx->store, id, json_deep_copy(rec));
    }
    /* the devices' certificate states (--tenant-config) survive a restart like the records */
    json_t *states = json_object_get(root, "certificateStates");
    if (json_is_array(states)) {
        json_decref(ctx->cert_states);
        ctx->cert_states = json_deep_copy(states);
    }
    json_decref(root);
    return 0;
}

int emu_state_save(emu_ctx *ctx, const char *path, ssync_error *err)
{
    json_t *records = json_array();
    pthread_mutex_lock(&ctx->lock);
    uint64_t seq = 0;
    json_t *rec;
    while ((rec = emu_store_next(ctx->store, seq, &seq)) != NULL)
        json_array_append(records, rec);
    json_t *states = ctx->cert_states ? json_deep_copy(ctx->cert_states) : json_array();
    pthread_mutex_unlock(&ctx->lock);
    char *pem = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio && PEM_write_bio_PrivateKey(bio, ctx->token_key, NULL, NULL, 0, NULL, NULL) == 1) {
        char *p;
        long n = BIO_get_mem_data(bio, &p);
        pem = strndup(p, (size_t)n);
    }
    BIO_free(bio);
    json_t *root = json_pack("{s:i, s:s, s:s, s:o, s:o}", "version", 1, "tenantId", ctx->tenant_id,
                             "tokenSigningKey", pem ? pem : "", "records", records,
                             "certificateStates", states);
    if (pem) {
        OPENSSL_cleanse(pem, strlen(pem));
        free(pem);
    }
    char *text = root ? json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (!text)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "state"), -1;
    int rc = ssync_write_file_atomic(path, text, strlen(text), 0600, err) == SSYNC_OK ? 0 : -1;
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    return rc;
}
