#include "graph/throttle.h"

#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Grants closer than this are "now": keeps float rounding from producing 1e-16 s waits. */
#define EPS 1e-9

ssync_code ssync_bucket_init(ssync_bucket *b, unsigned limit, double window_s, unsigned burst,
                             double now, ssync_error *err)
{
    if (!b || limit == 0 || !(window_s > 0) || limit > 10000000u)
        return ssync_fail(err, SSYNC_ERR_ARG, "rate limit must be at least 1 per positive window");
    memset(b, 0, sizeof *b);
    b->ring = calloc(limit, sizeof *b->ring);
    b->seq = calloc(limit, sizeof *b->seq);
    if (!b->ring || !b->seq) {
        ssync_bucket_free(b);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "rate limiter");
    }
    if (burst == 0)
        burst = limit / 10 ? limit / 10 : 1;
    if (burst > limit)
        burst = limit;
    b->limit = limit;
    b->window = window_s;
    b->rate = limit / window_s;
    b->burst = burst;
    b->tokens = burst;
    b->last = now;
    return SSYNC_OK;
}

void ssync_bucket_free(ssync_bucket *b)
{
    if (b) {
        free(b->ring);
        free(b->seq);
        b->ring = NULL;
        b->seq = NULL;
    }
}

static void refill(ssync_bucket *b, double now)
{
    if (now > b->last) {
        b->tokens += (now - b->last) * b->rate;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last = now;
    }
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return a < b ? -1 : a > b;
}

double ssync_bucket_wait(ssync_bucket *b, double now, unsigned n)
{
    if (!b || !b->ring || n == 0)
        return 0;
    if (n > b->limit)
        n = b->limit;
    refill(b, now);
    double need = n < b->burst ? n : b->burst;
    double wait = 0;
    if (b->tokens + EPS < need)
        wait = (need - b->tokens) / b->rate;
    /* Sliding window: the grants still inside it (a pending one, SSYNC_PENDING, is inside until
     * it is settled); the k oldest must age out before n more fit. Times need not be in grant
     * order once grants are settled, hence the sort (at most `limit` values). */
    unsigned inside = 0;
    for (unsigned i = 0; i < b->count; i++)
        inside += b->ring[i] > now - b->window + EPS;
    if (inside + n > b->limit) {
        unsigned k = inside + n - b->limit;
        double *t = malloc(b->count * sizeof *t);
        double w = b->window; /* no memory: a whole window is always safe */
        if (t) {
            unsigned m = 0;
            for (unsigned i = 0; i < b->count; i++)
                if (b->ring[i] > now - b->window + EPS)
                    t[m++] = b->ring[i];
            qsort(t, m, sizeof *t, cmp_double);
            w = t[k - 1] >= SSYNC_PENDING ? SSYNC_PENDING_POLL : t[k - 1] + b->window - now;
            free(t);
        }
        if (w > wait)
            wait = w;
    }
    return wait > EPS ? wait : 0;
}

unsigned long long ssync_bucket_take(ssync_bucket *b, double now, unsigned n)
{
    if (!b || !b->ring)
        return 0;
    if (n > b->limit)
        n = b->limit;
    refill(b, now);
    b->tokens -= n; /* may go below zero for n > burst: a debt that refill pays back */
    for (unsigned i = 0; i < n; i++) {
        unsigned slot = b->count;
        if (b->count == b->limit) { /* reuse the oldest settled grant's slot */
            slot = 0;
            for (unsigned s = 1; s < b->count; s++)
                if (b->ring[s] < b->ring[slot])
                    slot = s;
        } else {
            b->count++;
        }
        b->ring[slot] = now;
        b->seq[slot] = ++b->next_seq;
    }
    return b->next_seq;
}

unsigned long long ssync_bucket_take_pending(ssync_bucket *b, double now)
{
    unsigned long long ticket = ssync_bucket_take(b, now, 1);
    for (unsigned i = 0; ticket && i < b->count; i++)
        if (b->seq[i] == ticket)
            b->ring[i] = SSYNC_PENDING;
    return ticket;
}

void ssync_bucket_settle(ssync_bucket *b, unsigned long long ticket, double when)
{
    for (unsigned i = 0; b && b->ring && ticket && i < b->count; i++)
        if (b->seq[i] == ticket && b->ring[i] >= SSYNC_PENDING)
            b->ring[i] = when;
}

ssync_code ssync_throttle_init(ssync_throttle *t, unsigned write_limit, unsigned request_limit,
                               double window_s, double now, ssync_error *err)
{
    if (!t)
        return ssync_fail(err, SSYNC_ERR_ARG, "no throttle");
    memset(t, 0, sizeof *t);
    /* Writes: the whole window at once (the sliding window is what the service counts, so a
     * smaller burst only leaves budget unused). Each write's place in the window is the time
     * its answer came (ssync_throttle_write_done), not the time it was sent: the service
     * admitted it in between, so however long the connection and the handshake took, the
     * write that follows a window later can never be the (limit+1)-th of the service's window.
     * No 429, whose Retry-After would cost whole seconds. */
    ssync_code rc = ssync_bucket_init(&t->writes, write_limit, window_s, write_limit, now, err);
    if (rc == SSYNC_OK)
        rc = ssync_bucket_init(&t->requests, request_limit, window_s, 0, now, err);
    if (rc != SSYNC_OK)
        ssync_throttle_free(t);
    t->paused_until = now;
    return rc;
}

void ssync_throttle_free(ssync_throttle *t)
{
    if (t) {
        ssync_bucket_free(&t->writes);
        ssync_bucket_free(&t->requests);
    }
}

double ssync_throttle_wait(ssync_throttle *t, double now, int is_write, unsigned cost)
{
    double w = t->paused_until - now;
    double r = ssync_bucket_wait(&t->requests, now, cost);
    if (r > w)
        w = r;
    if (is_write) {
        double x = ssync_bucket_wait(&t->writes, now, 1);
        if (x > w)
            w = x;
    }
    return w > EPS ? w : 0;
}

unsigned long long ssync_throttle_take(ssync_throttle *t, double now, int is_write, unsigned cost)
{
    ssync_bucket_take(&t->requests, now, cost);
    return is_write ? ssync_bucket_take_pending(&t->writes, now) : 0;
}

void ssync_throttle_write_done(ssync_throttle *t, unsigned long long ticket, double now)
{
    if (t)
        ssync_bucket_settle(&t->writes, ticket, now);
}

void ssync_throttle_pause(ssync_throttle *t, double now, double seconds)
{
    if (t && seconds > 0 && now + seconds > t->paused_until)
        t->paused_until = now + seconds;
}

static double clampd(double v, double cap)
{
    if (!(v > 0)) /* also NaN */
        return 0;
    return v > cap ? cap : v;
}

/* Strict decimal: digits, optionally "." and digits; surrounding blanks allowed. */
static int parse_decimal(const char *s, double *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    const char *p = s;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9') {
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            digits++;
        }
    }
    const char *end = p;
    while (*p == ' ' || *p == '\t')
        p++;
    if (digits == 0 || *p != '\0' || end - s > 64)
        return 0;
    char tmp[72];
    memcpy(tmp, s, (size_t)(end - s));
    tmp[end - s] = '\0';
    *out = strtod(tmp, NULL); /* huge values become large doubles or HUGE_VAL; clamped later */
    return 1;
}

int ssync_retry_after_parse(const char *value, time_t now_wall, double cap, double *out)
{
    double v;
    if (!value || !out || strlen(value) > 128)
        return 0;
    if (parse_decimal(value, &v)) {
        *out = clampd(v, cap);
        return 1;
    }
    /* HTTP date; curl_getdate understands IMF-fixdate, RFC 850 and asctime forms. It needs at
     * least a letter (a month or weekday name): plain garbage numbers were rejected above. */
    int alpha = 0;
    for (const char *p = value; *p; p++)
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
            alpha = 1;
    if (!alpha)
        return 0;
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return 0;
    *out = clampd(difftime(t, now_wall), cap);
    return 1;
}

int ssync_retry_after_ms_parse(const char *value, double cap, double *out)
{
    double v;
    if (!value || !out || !parse_decimal(value, &v))
        return 0;
    *out = clampd(v / 1000.0, cap);
    return 1;
}

double ssync_backoff(unsigned attempt, double base, double cap, double u01)
{
    if (!(base > 0) || !(cap > 0))
        return 0;
    double d = base;
    for (unsigned i = 0; i < attempt && d < cap; i++)
        d *= 2;
    if (d > cap)
        d = cap;
    if (!(u01 >= 0))
        u01 = 0;
    if (u01 > 1)
        u01 = 1;
    return u01 * d;
}

double ssync_retry_delay(const ssync_retry_policy *p, const char *retry_after,
                         const char *retry_after_ms, time_t now_wall, unsigned attempt, double u01,
                         int *given)
{
    double ra = -1, ms = -1;
    int a = ssync_retry_after_parse(retry_after, now_wall, p->retry_after_cap, &ra);
    int b = ssync_retry_after_ms_parse(retry_after_ms, p->retry_after_cap, &ms);
    if (given)
        *given = a || b;
    if (a || b)
        return ra > ms ? ra : ms;
    return ssync_backoff(attempt, p->backoff_base, p->backoff_cap, u01);
}
