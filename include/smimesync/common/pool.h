/* An ordered, bounded parallel map: worker threads run fn(ctx, i) for i = 0..n-1, at most
 * `window` items ahead of the consumer, and the calling thread takes the results in index order
 * (ssync_pool_wait, then ssync_pool_release). Memory stays bounded by the window however large n
 * is: the caller keeps result slots indexed by i % window. No global state. */
#ifndef SSYNC_POOL_H
#define SSYNC_POOL_H

#include "common/errors.h"

#include <stddef.h>

typedef struct ssync_pool ssync_pool;

/* fn runs on a worker thread; it must only touch the slot of its item (and thread-safe state).
 * on_ready (may be NULL) is called from the worker after each item, e.g. to wake a poll loop. */
typedef void (*ssync_pool_fn)(void *ctx, size_t i);

/* workers 0: one per online CPU. window 0: 4 per worker. Starts the threads. */
ssync_code ssync_pool_start(unsigned workers, size_t n, size_t window, ssync_pool_fn fn, void *ctx,
                            void (*on_ready)(void *ctx), ssync_pool **out, ssync_error *err);
/* Blocks until item i (the next one to consume) is done: 1, or 0 when the pool was stopped
 * before the item started (it never will). */
int ssync_pool_wait(ssync_pool *p, size_t i);
/* 1 when item i is done (never blocks). */
int ssync_pool_ready(ssync_pool *p, size_t i);
/* The consumer is finished with item i (in order): its slot may be reused. */
void ssync_pool_release(ssync_pool *p, size_t i);
/* Items not claimed yet are never started (e.g. after Ctrl-C); running ones finish. */
void ssync_pool_stop(ssync_pool *p);
/* Stops, joins the threads and frees the pool. */
void ssync_pool_free(ssync_pool *p);
unsigned ssync_pool_workers(const ssync_pool *p);
/* The number of online CPUs (at least 1). */
unsigned ssync_cpu_count(void);

#endif
