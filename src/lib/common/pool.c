/* Ordered bounded parallel map (see pool.h). One mutex and two condition variables: workers
 * wait for room in the window, the consumer waits for its next item. */
#include "common/pool.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define SSYNC_POOL_MAX_WORKERS 256u

struct ssync_pool {
    pthread_mutex_t lock;
    pthread_cond_t room;  /* a slot was released, or stop */
    pthread_cond_t ready; /* an item finished */
    size_t n, window;
    size_t next;     /* next item to claim */
    size_t released; /* items before this one are consumed */
    unsigned char *done;
    int stopping;
    ssync_pool_fn fn;
    void *ctx;
    void (*on_ready)(void *ctx);
    pthread_t *threads;
    unsigned n_threads;
};

unsigned ssync_cpu_count(void)
{
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (unsigned)(c < (long)SSYNC_POOL_MAX_WORKERS ? c : SSYNC_POOL_MAX_WORKERS) : 1;
}

static void *worker(void *arg)
{
    ssync_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stopping && p->next < p->n && p->next >= p->released + p->window)
            pthread_cond_wait(&p->room, &p->lock);
        if (p->stopping || p->next >= p->n)
            break;
        size_t i = p->next++;
        pthread_mutex_unlock(&p->lock);
        p->fn(p->ctx, i);
        pthread_mutex_lock(&p->lock);
        p->done[i % p->window] = 1;
        pthread_cond_broadcast(&p->ready);
        if (p->on_ready) {
            pthread_mutex_unlock(&p->lock);
            p->on_ready(p->ctx);
            pthread_mutex_lock(&p->lock);
        }
    }
    pthread_mutex_unlock(&p->lock);
    /* OpenSSL keeps per-thread state (error queue, DRBGs): release it before the thread ends */
    OPENSSL_thread_stop();
    return NULL;
}

ssync_code ssync_pool_start(unsigned workers, size_t n, size_t window, ssync_pool_fn fn, void *ctx,
                            void (*on_ready)(void *ctx), ssync_pool **out, ssync_error *err)
{
    *out = NULL;
    if (!fn)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_pool_start");
    if (workers == 0)
        workers = ssync_cpu_count();
    if (workers > SSYNC_POOL_MAX_WORKERS)
        workers = SSYNC_POOL_MAX_WORKERS;
    if (window == 0)
        window = 4 * (size_t)workers;
    ssync_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->done = calloc(window, 1)) ||
        !(p->threads = calloc(workers, sizeof *p->threads))) {
        if (p)
            free(p->done);
        free(p);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "worker pool");
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->room, NULL);
    pthread_cond_init(&p->ready, NULL);
    p->n = n;
    p->window = window;
    p->fn = fn;
    p->ctx = ctx;
    p->on_ready = on_ready;
    for (unsigned t = 0; t < workers; t++) {
        if (pthread_create(&p->threads[t], NULL, worker, p) != 0)
            break;
        p->n_threads++;
    }
    if (p->n_threads == 0) {
        ssync_pool_free(p);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "cannot start a worker thread");
    }
    *out = p;
    return SSYNC_OK;
}

int ssync_pool_ready(ssync_pool *p, size_t i)
{
    pthread_mutex_lock(&p->lock);
    int r = i < p->n && i >= p->released && i < p->next && p->done[i % p->window];
    pthread_mutex_unlock(&p->lock);
    return r;
}

int ssync_pool_wait(ssync_pool *p, size_t i)
{
    pthread_mutex_lock(&p->lock);
    while (!(i < p->next && p->done[i % p->window]) && !(p->stopping && i >= p->next))
        pthread_cond_wait(&p->ready, &p->lock);
    int r = i < p->next && p->done[i % p->window];
    pthread_mutex_unlock(&p->lock);
    return r;
}

void ssync_pool_release(ssync_pool *p, size_t i)
{
    pthread_mutex_lock(&p->lock);
    if (i == p->released && i < p->next) {
        p->done[i % p->window] = 0;
        p->released++;
        pthread_cond_broadcast(&p->room);
    }
    pthread_mutex_unlock(&p->lock);
}

void ssync_pool_stop(ssync_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->room);
    pthread_cond_broadcast(&p->ready);
    pthread_mutex_unlock(&p->lock);
}

void ssync_pool_free(ssync_pool *p)
{
    if (!p)
        return;
    ssync_pool_stop(p);
    for (unsigned t = 0; t < p->n_threads; t++)
        pthread_join(p->threads[t], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->room);
    pthread_cond_destroy(&p->ready);
    free(p->threads);
    free(p->done);
    free(p);
}

unsigned ssync_pool_workers(const ssync_pool *p)
{
    return p->n_threads;
}
