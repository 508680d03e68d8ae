/* What the live Graph client tests share (header-only): the lab users, the emulator's URL and
 * scenario from the environment, a configured client, records, and their main.
 *
 * The programs test_graph_{auth,records,directory,hostile,faults} run the Graph client against
 * intune-emu. Skipped unless SSYNC_EMU_URL is set; driven by
 * tests/integration/test_graph_client.sh, which starts emulators with the faults each scenario
 * needs and runs every program with SSYNC_EMU_SCENARIO naming the scenario
 * (SSYNC_LIVE_FILTER, a cmocka test filter, narrows a run by hand).
 *
 * Environment: SSYNC_EMU_URL (https://127.0.0.1:PORT), SSYNC_EMU_LAB (lab directory from
 * smimesync-lab), SSYNC_EMU_CA (TLS CA bundle; default $LAB/tls/ca.pem),
 * SSYNC_EMU_URL_BADNAME (an emulator whose certificate does not name 127.0.0.1). */
#ifndef SSYNC_TEST_GRAPH_LIVE_H
#define SSYNC_TEST_GRAPH_LIVE_H

#include "testutil.h"

#include "graph/graph.h"

#include <curl/curl.h>
#include <openssl/pem.h>
#include <signal.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_USERS 256

typedef struct user {
    char upn[128], id[40], mail[128];
} user;

static user users[MAX_USERS];
static size_t nusers;
static char lab[512];

static inline const char *env_or_skip(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        skip();
    return v;
}

/* Fault scenarios need their own emulator: they run only when SSYNC_EMU_SCENARIO names them. */
static inline const char *scenario_or_skip(const char *name)
{
    const char *s = getenv("SSYNC_EMU_SCENARIO");
    if (!s || strcmp(s, name) != 0)
        skip();
    return env_or_skip("SSYNC_EMU_URL");
}

static inline char *lab_file(const char *rel)
{
    static char slots[4][700];
    static int next;
    char *p = slots[next++ % 4];
    snprintf(p, 700, "%s/%s", lab, rel);
    return p;
}

static inline char *slurp_line(const char *rel)
{
    ssync_buf b = {0};
    ssync_error e;
    if (ssync_read_file(lab_file(rel), 65536, &b, &e) != SSYNC_OK)
        fail_msg("%s", e.msg);
    char *s = (char *)b.data;
    s[strcspn(s, "\r\n")] = '\0';
    return s;
}

static inline void load_users(void)
{
    FILE *f = fopen(lab_file("users.csv"), "r");
    assert_non_null(f);
    char line[512];
    nusers = 0;
    while (fgets(line, sizeof line, f) && nusers < MAX_USERS) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "userPrincipalName", 17) == 0)
            continue;
        char *a = strtok(line, ","), *b = strtok(NULL, ","), *c = strtok(NULL, ",");
        if (!a || !b)
            continue;
        snprintf(users[nusers].upn, sizeof users[nusers].upn, "%s", a);
        snprintf(users[nusers].id, sizeof users[nusers].id, "%s", b);
        snprintf(users[nusers].mail, sizeof users[nusers].mail, "%s", c ? c : "");
        nusers++;
    }
    fclose(f);
    assert_true(nusers >= 5);
}

typedef enum { AUTH_SECRET, AUTH_RS256, AUTH_PS256 } auth_mode;

typedef struct live {
    ssync_graph_config cfg;
    char *secret, *tenant, *client;
    X509 *cert;
    EVP_PKEY *key;
    ssync_graph *g;
} live;

static inline void quiet_log(void *ctx, ssync_log_level lvl, const char *msg)
{
    (void)ctx;
    if (lvl <= SSYNC_LOG_WARN || getenv("SSYNC_LIVE_VERBOSE"))
        fprintf(stderr, "  [graph %d] %s\n", (int)lvl, msg);
}

static inline void live_setup(live *l, auth_mode mode, const char *url)
{
    memset(l, 0, sizeof *l);
    l->tenant = slurp_line("tenant-id");
    l->client = slurp_line("client-id");
    ssync_graph_config *c = &l->cfg;
    c->authority_url = url;
    c->graph_url = url;
    c->tenant_id = l->tenant;
    c->client_id = l->client;
    const char *ca = getenv("SSYNC_EMU_CA");
    c->ca_file = ca && *ca ? ca : lab_file("tls/ca.pem");
    c->backoff_base_s = 0.05; /* keep retries quick against the local emulator */
    c->backoff_cap_s = 0.5;
    c->request_timeout_ms = 10000;
    c->log = quiet_log;
    if (mode == AUTH_SECRET) {
        l->secret = slurp_line("client-secret");
        c->client_secret = l->secret;
    } else {
        FILE *f = fopen(lab_file("app.pem"), "r");
        assert_non_null(f);
        l->cert = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        f = fopen(lab_file("app.key"), "r");
        assert_non_null(f);
        l->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        assert_non_null(l->cert);
        assert_non_null(l->key);
        c->client_cert = l->cert;
        c->client_key = l->key;
        c->assertion_alg = mode == AUTH_PS256 ? SSYNC_ASSERTION_PS256 : SSYNC_ASSERTION_RS256;
    }
}

static inline void live_new(live *l)
{
    ssync_error e;
    if (ssync_graph_new(&l->cfg, &l->g, &e) != SSYNC_OK)
        fail_msg("ssync_graph_new: %s", e.msg);
}

static inline void live_free(live *l)
{
    ssync_graph_free(l->g);
    ssync_secret_free(l->secret);
    free(l->tenant);
    free(l->client);
    X509_free(l->cert);
    EVP_PKEY_free(l->key);
}

static inline void random_thumb(char out[41])
{
    unsigned char b[20];
    assert_int_equal(RAND_bytes(b, sizeof b), 1);
    for (int i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static inline json_t *make_record(const char *upn, const char *thumb)
{
    return json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "thumbprint", thumb, "intendedPurpose",
        "smimeEncryption", "userPrincipalName", upn, "startDateTime", "2024-01-01T00:00:00Z",
        "expirationDateTime", "2027-01-01T00:00:00Z", "providerName",
        "Microsoft Software Key Storage Provider", "keyName", "PFXEncryptionKey", "paddingScheme",
        "oaepSha512", "encryptedPfxBlob", "MIIBAgM=", "encryptedPfxPassword", "c2VjcmV0");
}

static inline int group_setup(void **state)
{
    const char *l = getenv("SSYNC_EMU_LAB");
    if (l && *l) {
        snprintf(lab, sizeof lab, "%s", l);
        load_users();
    }
    return 0;
}

static inline const char *basic_or_skip(void)
{
    const char *s = getenv("SSYNC_EMU_SCENARIO");
    if (s && *s && strcmp(s, "basic") != 0)
        skip();
    return env_or_skip("SSYNC_EMU_URL");
}

static inline size_t count_in(const ssync_pfx_list *l, char thumbs[][41], size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < l->count; i++)
        for (size_t k = 0; k < n; k++)
            if (l->items[i].thumbprint && strcmp(l->items[i].thumbprint, thumbs[k]) == 0)
                c++;
    return c;
}

/* Every program: skipped tests unless SSYNC_EMU_URL is set; SSYNC_LIVE_FILTER is a cmocka test
 * filter. */
#define LIVE_MAIN(tests)                                                                           \
    int main(void)                                                                                 \
    {                                                                                              \
        curl_global_init(CURL_GLOBAL_DEFAULT);                                                     \
        signal(SIGPIPE, SIG_IGN); /* the hostile server writes to clients that gave up */          \
        const char *filter = getenv("SSYNC_LIVE_FILTER");                                          \
        if (filter && *filter)                                                                     \
            cmocka_set_test_filter(filter);                                                        \
        int rc = cmocka_run_group_tests(tests, group_setup, NULL);                                 \
        curl_global_cleanup();                                                                     \
        return rc;                                                                                 \
    }

#endif
