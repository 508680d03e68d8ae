/* smimesync-lab helpers: structure PRNG, messages, file output, a tiny thread pool. */
#include "lab.h"

#include "common/fileio.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lab_rng_seed(lab_rng *r, uint64_t seed)
{
    r->s = seed;
}

uint64_t lab_rng_next(lab_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint32_t lab_rng_below(lab_rng *r, uint32_t n)
{
    /* rejection sampling: no modulo bias */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do
        v = lab_rng_next(r);
    while (v >= limit);
    return (uint32_t)(v % n);
}

void lab_rng_bytes(lab_rng *r, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = lab_rng_next(r);
        for (size_t j = 0; j < 8 && i + j < n; j++)
            out[i + j] = (unsigned char)(v >> (8 * j));
    }
}

void lab_rng_guid(lab_rng *r, char out[37])
{
    unsigned char b[16];
    lab_rng_bytes(r, b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

int lab_rng_pick(lab_rng *r, unsigned n, unsigned k, unsigned *idx)
{
    if (k > n)
        return -1;
    unsigned *all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        return -1;
    for (unsigned i = 0; i < n; i++)
        all[i] = i;
    /* partial Fisher-Yates */
    for (unsigned i = 0; i < k; i++) {
        unsigned j = i + lab_rng_below(r, n - i);
        unsigned t = all[i];
        all[i] = all[j];
        all[j] = t;
        idx[i] = all[i];
    }
    free(all);
    return 0;
}

static void lab_verr(int with_ssl, const char *fmt, va_list ap)
{
    char msg[768];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (with_ssl) {
        unsigned long e = ERR_peek_last_error();
        char reason[256] = "unknown OpenSSL error";
        if (e)
            ERR_error_string_n(e, reason, sizeof reason);
        ERR_clear_error();
        fprintf(stderr, "%s: %s: %s\n", LAB_PROG, msg, reason);
    } else {
        fprintf(stderr, "%s: %s\n", LAB_PROG, msg);
    }
}

void lab_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lab_verr(0, fmt, ap);
    va_end(ap);
}

void lab_err_ssl(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lab_verr(1, fmt, ap);
    va_end(ap);
}

void lab_iso8601(time_t t, char out[21])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void lab_hex_upper(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int lab_write(const lab *l, const char *rel, const void *data, size_t len, unsigned mode)
{
    size_t n = strlen(l->opt.out) + strlen(rel) + 2;
    char *path = malloc(n);
    if (!path) {
        lab_err("out of memory");
        return -1;
    }
    snprintf(path, n, "%s/%s", l->opt.out, rel);
    ssync_error err = {0};
    ssync_code rc = ssync_write_file_atomic(path, data, len, mode, &err);
    free(path);
    if (rc != SSYNC_OK) {
        lab_err("%s", err.msg);
        return -1;
    }
    return 0;
}

int lab_write_str(const lab *l, const char *rel, const char *s, unsigned mode)
{
    return lab_write(l, rel, s, strlen(s), mode);
}

/* Write what a PEM writer put into a memory BIO; cleanse it afterwards (it may be a key). */
static int write_mem_bio(const lab *l, const char *rel, BIO *b, unsigned mode)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    int rc = n > 0 ? lab_write(l, rel, p, (size_t)n, mode) : -1;
    if (n > 0)
        OPENSSL_cleanse(p, (size_t)n);
    return rc;
}

int lab_write_cert_pem(const lab *l, const char *rel, X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b || !PEM_write_bio_X509(b, x)) {
        BIO_free(b);
        lab_err_ssl("%s: cannot encode certificate", rel);
        return -1;
    }
    int rc = write_mem_bio(l, rel, b, 0644);
    BIO_free(b);
    return rc;
}

int lab_write_key_pem(const lab *l, const char *rel, EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_secmem());
    if (!b || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) {
        BIO_free(b);
        lab_err_ssl("%s: cannot encode private key", rel);
        return -1;
    }
    int rc = write_mem_bio(l, rel, b, 0600);
    BIO_free(b);
    return rc;
}

struct pool_ctx {
    int (*fn)(void *ctx, size_t i);
    void *ctx;
    size_t n;
    atomic_size_t next;
    atomic_int failed;
};

static void *pool_worker(void *arg)
{
    struct pool_ctx *p = arg;
    for (;;) {
        if (atomic_load(&p->failed))
            break;
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n)
            break;
        if (p->fn(p->ctx, i) != 0)
            atomic_store(&p->failed, 1);
    }
    /* OpenSSL keeps per-thread state (error queue, DRBGs); release it before the thread ends */
    OPENSSL_thread_stop();
    return NULL;
}

int lab_parallel(unsigned threads, size_t n, int (*fn)(void *ctx, size_t i), void *ctx)
{
    struct pool_ctx p = {.fn = fn, .ctx = ctx, .n = n};
    atomic_init(&p.next, 0);
    atomic_init(&p.failed, 0);
    if (threads < 1)
        threads = 1;
    if (threads > n)
        threads = n ? (unsigned)n : 1;
    pthread_t *tid = calloc(threads, sizeof *tid);
    if (!tid) {
        lab_err("out of memory");
        return -1;
    }
    unsigned started = 0;
    for (unsigned t = 1; t < threads; t++) {
        if (pthread_create(&tid[t], NULL, pool_worker, &p) != 0)
            break;
        started = t;
    }
    /* the calling thread works too, so a failed pthread_create only costs speed */
    for (;;) {
        if (atomic_load(&p.failed))
            break;
        size_t i = atomic_fetch_add(&p.next, 1);
        if (i >= p.n)
            break;
        if (fn(ctx, i) != 0)
            atomic_store(&p.failed, 1);
    }
    for (unsigned t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
    free(tid);
    return atomic_load(&p.failed) ? -1 : 0;
}
