#include "cli_wipe.h"

#include <curl/curl.h>
#include <jansson.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* malloc_usable_size: the whole block, so the wipe covers any byte the library could have
 * written (under valgrind and ASan it is exactly the size asked for). explicit_bzero, not
 * OPENSSL_cleanse: the same guarantee (never optimised away) at memset's speed, and OpenSSL 3.0
 * frees a small block per digest in each PKCS#12 key derivation round (some 17,000 per record). */
static void wipe_free(void *p)
{
    if (p)
        explicit_bzero(p, malloc_usable_size(p));
    free(p);
}

/* Never realloc(): it may move the block and free the old one uncleared. */
static void *wipe_realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    if (n == 0) {
        wipe_free(p);
        return NULL;
    }
    size_t have = malloc_usable_size(p);
    if (n <= have)
        return p;
    void *q = malloc(n);
    if (!q)
        return NULL;
    memcpy(q, p, have);
    wipe_free(p);
    return q;
}

static char *wipe_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    return malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    return wipe_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    wipe_free(p);
}

int cli_wipe_install(void)
{
    json_set_alloc_funcs(malloc, wipe_free);
    int ok = CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free);
    if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, wipe_free, wipe_realloc, wipe_strdup,
                             calloc) != CURLE_OK)
        ok = 0;
    return ok;
}

void cli_wipe_end(void)
{
    curl_global_cleanup();
}
