/* Pacing and retry timing for the Graph client: pure logic over an injected clock (seconds as
 * double, any origin) so every rule is unit-testable without a network or real time.
 *
  * Intune allows 100 writes and 1000 requests per 20 s per app per tenant (Graph docs: Microsoft
 * Graph service-specific throttling limits, "Intune service limits"). A plain token bucket of
 * capacity B and rate N/W lets B + N requests through in one window, so each bucket also keeps the
 * times of its last N grants and never grants more than N within any window of W seconds
 * (sliding-window guard). */
#ifndef SSYNC_THROTTLE_H
#define SSYNC_THROTTLE_H

#include "common/errors.h"

#include <time.h>

typedef struct ssync_bucket {
    unsigned limit; /* at most this many grants in any window */
    double window;  /* seconds */
    double rate;    /* refill, tokens per second (limit / window) */
    double burst;   /* capacity */
    double tokens;
    double last;             /* clock of the last refill */
    double *ring;            /* grant times (SSYNC_PENDING: not settled yet), any order */
    unsigned long long *seq; /* the ticket of each grant */
    unsigned count;          /* grants held (at most limit) */
    unsigned long long next_seq;
} ssync_bucket;

/* A grant whose place in the window is not known yet (ssync_bucket_take_pending). */
#define SSYNC_PENDING 1e300
/* How long to wait when only a pending grant's settling can free the window. */
#define SSYNC_PENDING_POLL 0.005

/* limit grants per window_s seconds; burst 0 picks limit/10 (at least 1). The bucket starts full
 * at time now. */
ssync_code ssync_bucket_init(ssync_bucket *b, unsigned limit, double window_s, unsigned burst,
                             double now, ssync_error *err);
void ssync_bucket_free(ssync_bucket *b);
/* Seconds to wait before n tokens may be taken (0 when they may be taken now). n above the limit
 * is treated as the limit. */
double ssync_bucket_wait(ssync_bucket *b, double now, unsigned n);
/* Takes n tokens at time now (call when ssync_bucket_wait returned 0); returns the ticket of
 * the last grant. */
unsigned long long ssync_bucket_take(ssync_bucket *b, double now, unsigned n);
/* Takes one token whose grant counts as inside the window until ssync_bucket_settle gives
 * its time (e.g. when the answer came). Returns its ticket. */
unsigned long long ssync_bucket_take_pending(ssync_bucket *b, double now);
void ssync_bucket_settle(ssync_bucket *b, unsigned long long ticket, double when);

/* The whole pipe: a write bucket, a request bucket, and a pause that a throttled response sets
 * so that every request waits, not only the one that was refused. */
typedef struct ssync_throttle {
    ssync_bucket writes;
    ssync_bucket requests;
    double paused_until;
} ssync_throttle;

/* Writes: up to write_limit at once, then never more than write_limit per window_s counted from
 * each write's answer (ssync_throttle_write_done); requests: a bucket of burst
 * request_limit / 10. */
ssync_code ssync_throttle_init(ssync_throttle *t, unsigned write_limit, unsigned request_limit,
                               double window_s, double now, ssync_error *err);
void ssync_throttle_free(ssync_throttle *t);
/* Seconds until a request of `cost` request tokens (and one write token when is_write) may go. */
double ssync_throttle_wait(ssync_throttle *t, double now, int is_write, unsigned cost);
/* Returns the write's ticket (0 for a read): pass it to ssync_throttle_write_done when the
 * write's answer came or it was abandoned. */
unsigned long long ssync_throttle_take(ssync_throttle *t, double now, int is_write, unsigned cost);
void ssync_throttle_write_done(ssync_throttle *t, unsigned long long ticket, double now);
/* Pause the pipe for `seconds` from now (extends, never shortens, a running pause). */
void ssync_throttle_pause(ssync_throttle *t, double now, double seconds);

/* Retry-After (RFC 9110 10.2.3): delta-seconds, fractional accepted because Graph sends e.g.
 * "2.128" (the sample 429 of Graph docs: Throttling), or an HTTP date relative to now_wall. The
 * result is clamped to [0, cap]. Returns 1 when value parsed, 0 for garbage (out untouched). */
int ssync_retry_after_parse(const char *value, time_t now_wall, double cap, double *out);
/* x-ms-retry-after-ms: milliseconds (decimal), clamped to [0, cap] seconds. Returns 1 if parsed. */
int ssync_retry_after_ms_parse(const char *value, double cap, double *out);
/* Exponential backoff with full jitter: u01 * min(cap, base * 2^attempt), u01 in [0, 1]. */
double ssync_backoff(unsigned attempt, double base, double cap, double u01);

typedef struct ssync_retry_policy {
    double backoff_base, backoff_cap; /* ssync_backoff */
    double retry_after_cap;           /* the longest Retry-After honoured */
} ssync_retry_policy;
/* How long to wait before sending again after a throttled or failed answer: the larger of
 * Retry-After and x-ms-retry-after-ms when either parses (each clamped to [0, retry_after_cap]),
 * else ssync_backoff(attempt, ...) with u01. Either header may be NULL. *given (may be NULL) is 1
 * when the server named the delay, 0 when it is our backoff. */
double ssync_retry_delay(const ssync_retry_policy *p, const char *retry_after,
                         const char *retry_after_ms, time_t now_wall, unsigned attempt, double u01,
                         int *given);

#endif
