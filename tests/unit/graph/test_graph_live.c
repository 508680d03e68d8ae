/* The Graph client against intune-emu. Skipped unless SSYNC_EMU_URL is set; driven by
 * tests/integration/test_graph_client.sh, which starts emulators with the faults each scenario
 * needs and selects the scenario with SSYNC_LIVE_FILTER (a cmocka test filter).
 *
 * Environment: SSYNC_EMU_URL (https://127.0.0.1:PORT), SSYNC_EMU_LAB (lab directory from
 * smimesync-lab), SSYNC_EMU_CA (TLS CA bundle; default $LAB/tls/ca.pem),
 * SSYNC_EMU_URL_BADNAME (an emulator whose certificate does not name 127.0.0.1). */
#include "testutil.h"

#include "graph/graph.h"
#include "common/uuid.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
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

static const char *env_or_skip(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        skip();
    return v;
}

/* Fault scenarios need their own emulator: they run only when SSYNC_EMU_SCENARIO names them. */
static const char *scenario_or_skip(const char *name)
{
    const char *s = getenv("SSYNC_EMU_SCENARIO");
    if (!s || strcmp(s, name) != 0)
        skip();
    return env_or_skip("SSYNC_EMU_URL");
}

static char *lab_file(const char *rel)
{
    static char slots[4][700];
    static int next;
    char *p = slots[next++ % 4];
    snprintf(p, 700, "%s/%s", lab, rel);
    return p;
}

static char *slurp_line(const char *rel)
{
    ssync_buf b = {0};
    ssync_error e;
    if (ssync_read_file(lab_file(rel), 65536, &b, &e) != SSYNC_OK)
        fail_msg("%s", e.msg);
    char *s = (char *)b.data;
    s[strcspn(s, "\r\n")] = '\0';
    return s;
}

static void load_users(void)
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

static void quiet_log(void *ctx, ssync_log_level lvl, const char *msg)
{
    (void)ctx;
    if (lvl <= SSYNC_LOG_WARN || getenv("SSYNC_LIVE_VERBOSE"))
        fprintf(stderr, "  [graph %d] %s\n", (int)lvl, msg);
}

static void live_setup(live *l, auth_mode mode, const char *url)
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

static void live_new(live *l)
{
    ssync_error e;
    if (ssync_graph_new(&l->cfg, &l->g, &e) != SSYNC_OK)
        fail_msg("ssync_graph_new: %s", e.msg);
}

static void live_free(live *l)
{
    ssync_graph_free(l->g);
    ssync_secret_free(l->secret);
    free(l->tenant);
    free(l->client);
    X509_free(l->cert);
    EVP_PKEY_free(l->key);
}

static void random_thumb(char out[41])
{
    unsigned char b[20];
    assert_int_equal(RAND_bytes(b, sizeof b), 1);
    for (int i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static json_t *make_record(const char *upn, const char *thumb)
{
    return json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "thumbprint", thumb, "intendedPurpose",
        "smimeEncryption", "userPrincipalName", upn, "startDateTime", "2024-01-01T00:00:00Z",
        "expirationDateTime", "2027-01-01T00:00:00Z", "providerName",
        "Microsoft Software Key Storage Provider", "keyName", "PFXEncryptionKey", "paddingScheme",
        "oaepSha512", "encryptedPfxBlob", "MIIBAgM=", "encryptedPfxPassword", "c2VjcmV0");
}

static int group_setup(void **state)
{
    const char *l = getenv("SSYNC_EMU_LAB");
    if (l && *l) {
        snprintf(lab, sizeof lab, "%s", l);
        load_users();
    }
    return 0;
}

/* ---------------------------------------------------------------- tokens */

static const char *basic_or_skip(void)
{
    const char *s = getenv("SSYNC_EMU_SCENARIO");
    if (s && *s && strcmp(s, "basic") != 0)
        skip();
    return env_or_skip("SSYNC_EMU_URL");
}

static void auth_ok(auth_mode mode)
{
    const char *url = basic_or_skip();
    live l;
    live_setup(&l, mode, url);
    live_new(&l);
    ssync_error e;
    if (ssync_graph_authenticate(l.g, &e) != SSYNC_OK)
        fail_msg("authenticate: %s", e.msg);
    assert_int_equal(ssync_graph_authenticate(l.g, &e), SSYNC_OK); /* cached */
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    assert_int_equal(st.token_requests, 1);
    /* and Graph accepts it */
    ssync_pfx_list list = {0};
    if (ssync_graph_list_pfx(l.g, &list, &e) != SSYNC_OK)
        fail_msg("list: %s", e.msg);
    ssync_pfx_list_free(&list);
    live_free(&l);
}

static void token_with_secret(void **state)
{
    auth_ok(AUTH_SECRET);
}

static void token_with_cert_rs256(void **state)
{
    auth_ok(AUTH_RS256);
}

static void token_with_cert_ps256(void **state)
{
    auth_ok(AUTH_PS256);
}

static void wrong_secret_is_a_clear_aadsts_error(void **state)
{
    const char *url = basic_or_skip();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.client_secret = "Wr0ng-Secret-Value~";
    live_new(&l);
    ssync_error e;
    assert_int_equal(ssync_graph_authenticate(l.g, &e), SSYNC_ERR_AUTH);
    fprintf(stderr, "  wrong secret: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "invalid_client"));
    assert_non_null(strstr(e.msg, "AADSTS7000215"));
    assert_non_null(strstr(e.msg, "HTTP 401"));
    assert_null(strstr(e.msg, "Wr0ng-Secret-Value"));
    assert_null(strstr(e.msg, l.secret));
    const ssync_graph_failure *f = ssync_graph_last_failure(l.g);
    assert_int_equal(f->http_status, 401);
    assert_string_equal(f->code, "invalid_client");
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    assert_int_equal(st.token_requests, 1); /* 401 is not retried */
    /* a run stops at once with the same error, every op carries it */
    json_t *rec = make_record(users[0].upn, "0000000000000000000000000000000000000000");
    ssync_graph_op ops[3] = {{.kind = SSYNC_OP_CREATE, .record = rec},
                             {.kind = SSYNC_OP_CREATE, .record = rec},
                             {.kind = SSYNC_OP_CREATE, .record = rec}};
    assert_int_equal(ssync_graph_run(l.g, ops, 3, NULL, NULL, &e), SSYNC_ERR_AUTH);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ops[i].result, SSYNC_ERR_AUTH);
    json_decref(rec);
    live_free(&l);
}

/* ---------------------------------------------------------------- records */

typedef struct done_log {
    size_t calls;
} done_log;

static void on_done(void *ctx, ssync_graph_op *op)
{
    ((done_log *)ctx)->calls++;
    if (op->result != SSYNC_OK)
        fprintf(stderr, "  op failed: %s\n", op->err.msg);
}

static size_t count_in(const ssync_pfx_list *l, char thumbs[][41], size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < l->count; i++)
        for (size_t k = 0; k < n; k++)
            if (l->items[i].thumbprint && strcmp(l->items[i].thumbprint, thumbs[k]) == 0)
                c++;
    return c;
}

static void create_list_filter_delete(void **state)
{
    const char *url = basic_or_skip();
    load_users();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    live_new(&l);
    enum { N = 24 };
    char thumbs[N][41];
    json_t *recs[N];
    ssync_graph_op ops[N];
    memset(ops, 0, sizeof ops);
    for (size_t i = 0; i < N; i++) {
        random_thumb(thumbs[i]);
        recs[i] = make_record(users[i % nusers].upn, thumbs[i]);
        ops[i].kind = SSYNC_OP_CREATE;
        ops[i].record = recs[i];
    }
    done_log dl = {0};
    ssync_error e;
    assert_int_equal(ssync_graph_run(l.g, ops, N, on_done, &dl, &e), SSYNC_OK);
    assert_int_equal(dl.calls, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(ops[i].result, SSYNC_OK);
        assert_int_equal(ops[i].already, 0);
        assert_int_equal(ops[i].sends, 1);
        assert_non_null(strstr(ops[i].id, thumbs[i]));
        assert_true(ssync_uuid_valid(ops[i].detail.client_request_id));
    }
    /* list all: several pages (the script runs the emulator with a small page size) */
    ssync_pfx_list all = {0};
    if (ssync_graph_list_pfx(l.g, &all, &e) != SSYNC_OK)
        fail_msg("list: %s", e.msg);
    assert_int_equal(count_in(&all, thumbs, N), N);
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    fprintf(stderr, "  listed %zu records, %lu requests so far\n", all.count, st.requests);
    ssync_pfx_list_sort(&all);
    const ssync_pfx_entry *found = ssync_pfx_list_find(&all, users[3 % nusers].upn, thumbs[3]);
    assert_non_null(found);
    assert_string_equal(found->intended_purpose, "smimeEncryption");
    assert_string_equal(found->padding_scheme, "oaepSha512");
    assert_true(found->thumbprint_valid);
    ssync_pfx_list_free(&all);
    /* by user (case-insensitive) */
    char upper[128];
    snprintf(upper, sizeof upper, "%s", users[1].upn);
    for (char *p = upper; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    ssync_pfx_list mine = {0};
    assert_int_equal(ssync_graph_list_pfx_by_user(l.g, upper, &mine, &e), SSYNC_OK);
    size_t expect = 0;
    for (size_t i = 0; i < N; i++)
        expect += i % nusers == 1;
    assert_int_equal(count_in(&mine, thumbs, N), expect);
    for (size_t i = 0; i < mine.count; i++)
        assert_true(strcasecmp(mine.items[i].user_principal_name, users[1].upn) == 0);
    ssync_pfx_list_free(&mine);
    /* by user + thumbprint */
    ssync_pfx_entry one;
    assert_int_equal(ssync_graph_find_pfx(l.g, users[2].upn, thumbs[2], &one, &e), SSYNC_OK);
    assert_string_equal(one.thumbprint, thumbs[2]);
    ssync_pfx_entry_free(&one);
    assert_int_equal(ssync_graph_find_pfx(l.g, users[2].upn, thumbs[3], NULL, &e),
                     SSYNC_ERR_NOT_FOUND);
    /* the same record again: 409, read back, counts as present */
    char id[80];
    assert_int_equal(ssync_graph_create_pfx(l.g, recs[0], id, &e), SSYNC_OK);
    assert_non_null(strstr(id, thumbs[0]));
    /* delete half, verified */
    ssync_graph_op del[N / 2];
    memset(del, 0, sizeof del);
    for (size_t i = 0; i < N / 2; i++) {
        del[i].kind = SSYNC_OP_DELETE;
        del[i].user_id = users[i % nusers].id;
        del[i].thumbprint = thumbs[i];
    }
    assert_int_equal(ssync_graph_run(l.g, del, N / 2, NULL, NULL, &e), SSYNC_OK);
    for (size_t i = 0; i < N / 2; i++) {
        if (del[i].result != SSYNC_OK)
            fail_msg("delete %zu: %s", i, del[i].err.msg);
        assert_int_equal(del[i].already, 0);
    }
    assert_int_equal(ssync_graph_find_pfx(l.g, users[0].upn, thumbs[0], NULL, &e),
                     SSYNC_ERR_NOT_FOUND);
    ssync_pfx_entry got;
    assert_int_equal(ssync_graph_get_pfx(l.g, del[0].id, &got, &e), SSYNC_ERR_NOT_FOUND);
    char keep_id[80];
    assert_int_equal(ssync_pfx_record_id(users[N / 2 % nusers].id, thumbs[N / 2], keep_id, &e),
                     SSYNC_OK);
    assert_int_equal(ssync_graph_get_pfx(l.g, keep_id, &got, &e), SSYNC_OK);
    assert_string_equal(got.id, keep_id);
    ssync_pfx_entry_free(&got);
    /* deleting again: already absent */
    assert_int_equal(ssync_graph_delete_pfx(l.g, users[0].id, thumbs[0], &e), SSYNC_OK);
    /* bad arguments finish at once */
    ssync_graph_op bad = {.kind = SSYNC_OP_DELETE, .user_id = "nope", .thumbprint = thumbs[0]};
    assert_int_equal(ssync_graph_run(l.g, &bad, 1, NULL, NULL, &e), SSYNC_OK);
    assert_int_equal(bad.result, SSYNC_ERR_ARG);
    /* the rest: clean up */
    for (size_t i = N / 2; i < N; i++)
        assert_int_equal(ssync_graph_delete_pfx(l.g, users[i % nusers].id, thumbs[i], &e),
                         SSYNC_OK);
    for (size_t i = 0; i < N; i++)
        json_decref(recs[i]);
    live_free(&l);
}

static void user_lookups_batched(void **state)
{
    const char *url = basic_or_skip();
    load_users();
    live l;
    live_setup(&l, AUTH_RS256, url);
    live_new(&l);
    size_t n = nusers + 2;
    ssync_user_lookup *it = calloc(n, sizeof *it);
    for (size_t i = 0; i < nusers; i++)
        it[i].key = users[i].upn;
    it[nusers].key = "nobody'o+x#y@lab.example";
    it[nusers + 1].key = "";
    ssync_error e;
    assert_int_equal(ssync_graph_lookup_users(l.g, SSYNC_USER_BY_UPN, it, n, &e), SSYNC_OK);
    for (size_t i = 0; i < nusers; i++) {
        if (it[i].result != SSYNC_OK)
            fail_msg("%s: %s", users[i].upn, it[i].err.msg);
        assert_true(strcasecmp(it[i].id, users[i].id) == 0);
        assert_int_equal(strlen(it[i].id_nodash), 32);
    }
    assert_int_equal(it[nusers].result, SSYNC_ERR_NOT_FOUND);
    assert_int_equal(it[nusers + 1].result, SSYNC_ERR_ARG);
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    /* one $batch per 20 users, not one request per user */
    assert_int_equal(st.requests, (nusers + 1 + 19) / 20);
    ssync_user_lookup_clear(it, n);
    /* by mail (then proxyAddresses) */
    for (size_t i = 0; i < nusers; i++)
        it[i].key = users[i].mail;
    it[nusers].key = "not-a-mailbox@lab.example";
    assert_int_equal(ssync_graph_lookup_users(l.g, SSYNC_USER_BY_MAIL, it, nusers + 1, &e),
                     SSYNC_OK);
    for (size_t i = 0; i < nusers; i++) {
        if (!users[i].mail[0])
            continue;
        if (it[i].result != SSYNC_OK)
            fail_msg("%s: %s", users[i].mail, it[i].err.msg);
        assert_true(strcasecmp(it[i].id, users[i].id) == 0);
    }
    assert_int_equal(it[nusers].result, SSYNC_ERR_NOT_FOUND);
    ssync_user_lookup_clear(it, n);
    free(it);
    live_free(&l);
}

/* ---------------------------------------------------------------- groups */

static int cmp_str(const void *a, const void *b)
{
    return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* The lab's answer key: the distinct UPNs marked inGroup in manifest.jsonl, sorted. */
static size_t expected_members(char ***out)
{
    ssync_buf b = {0};
    ssync_error e;
    if (ssync_read_file(lab_file("manifest.jsonl"), 64u << 20, &b, &e) != SSYNC_OK)
        fail_msg("%s", e.msg);
    char **v = calloc(MAX_USERS * 4, sizeof *v);
    size_t n = 0;
    for (char *line = strtok((char *)b.data, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *o = json_loads(line, 0, NULL);
        assert_non_null(json_object_get(o, "inGroup")); /* the lab ran with --groups */
        const char *upn = json_string_value(json_object_get(o, "userPrincipalName"));
        int dup = 0;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcasecmp(v[i], upn) == 0;
        if (json_is_true(json_object_get(o, "inGroup")) && !dup)
            v[n++] = strdup(upn);
        json_decref(o);
    }
    ssync_buf_free(&b);
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

static void group_members(void **state)
{
    const char *url = basic_or_skip();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    live_new(&l);
    char *gid = slurp_line("group-id");
    char **want = NULL;
    size_t nwant = expected_members(&want);
    assert_true(nwant > 7); /* more than one page (the emulator runs with --page-size 7) */

    ssync_group_members m = {0};
    ssync_error e;
    ssync_graph_stats st0, st1;
    ssync_graph_get_stats(l.g, &st0);
    if (ssync_graph_group_members(l.g, gid, &m, &e) != SSYNC_OK)
        fail_msg("group members: %s", e.msg);
    ssync_graph_get_stats(l.g, &st1);
    assert_int_equal(m.count, nwant);
    qsort(m.upns, m.count, sizeof *m.upns, cmp_str);
    for (size_t i = 0; i < nwant; i++)
        assert_string_equal(m.upns[i], want[i]);
    /* nextLink followed: one GET per page of 7 */
    assert_int_equal(st1.requests - st0.requests, (nwant + 6) / 7);

    /* an unknown group: NOT_FOUND naming it, with Graph's detail; the list is untouched */
    const char *missing = "0badc0de-0000-4000-8000-000000000000";
    assert_int_equal(ssync_graph_group_members(l.g, missing, &m, &e), SSYNC_ERR_NOT_FOUND);
    if (!strstr(e.msg, "group 0badc0de-0000-4000-8000-000000000000 does not exist") ||
        !strstr(e.msg, "HTTP 404") || !strstr(e.msg, "request-id"))
        fail_msg("404 message: %s", e.msg);
    assert_int_equal(ssync_graph_last_failure(l.g)->http_status, 404);
    assert_int_equal(m.count, nwant);
    /* a malformed id never reaches the network */
    ssync_graph_get_stats(l.g, &st0);
    assert_int_equal(ssync_graph_group_members(l.g, "x/../../users", &m, &e), SSYNC_ERR_ARG);
    assert_non_null(strstr(e.msg, "not a GUID"));
    assert_int_equal(ssync_graph_group_members(l.g, NULL, &m, &e), SSYNC_ERR_ARG);
    ssync_graph_get_stats(l.g, &st1);
    assert_int_equal(st1.requests, st0.requests);
    ssync_group_members_free(&m);
    for (size_t i = 0; i < nwant; i++)
        free(want[i]);
    free(want);
    free(gid);
    live_free(&l);
}

/* ---------------------------------------------------------------- TLS */

static void wrong_ca_is_refused(void **state)
{
    const char *url = basic_or_skip();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.ca_file = lab_file("ca.pem"); /* the lab's issuing CA, not the TLS CA */
    live_new(&l);
    ssync_error e;
    assert_int_equal(ssync_graph_authenticate(l.g, &e), SSYNC_ERR_TLS);
    fprintf(stderr, "  wrong CA: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "TLS"));
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    assert_int_equal(st.token_requests, 1); /* not retried */
    live_free(&l);
}

static void wrong_host_name_is_refused(void **state)
{
    basic_or_skip();
    const char *url = env_or_skip("SSYNC_EMU_URL_BADNAME");
    live l;
    live_setup(&l, AUTH_SECRET, url);
    live_new(&l);
    ssync_error e;
    assert_int_equal(ssync_graph_authenticate(l.g, &e), SSYNC_ERR_TLS);
    fprintf(stderr, "  wrong name: %s\n", e.msg);
    live_free(&l);
}

static void config_is_validated(void **state)
{
    const char *url = basic_or_skip();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    ssync_graph *g = NULL;
    ssync_error e;
    ssync_graph_config c = l.cfg;
    c.graph_url = "http://127.0.0.1:1";
    assert_int_equal(ssync_graph_new(&c, &g, &e), SSYNC_ERR_CONFIG);
    c = l.cfg;
    c.tenant_id = "a/b";
    assert_int_equal(ssync_graph_new(&c, &g, &e), SSYNC_ERR_CONFIG);
    c = l.cfg;
    c.client_secret = NULL;
    assert_int_equal(ssync_graph_new(&c, &g, &e), SSYNC_ERR_CONFIG);
    live k;
    live_setup(&k, AUTH_RS256, url);
    c = k.cfg;
    c.client_secret = "x"; /* both */
    assert_int_equal(ssync_graph_new(&c, &g, &e), SSYNC_ERR_CONFIG);
    EVP_PKEY *other = EVP_RSA_gen(2048);
    c = k.cfg;
    c.client_key = other; /* does not match the certificate */
    assert_int_equal(ssync_graph_new(&c, &g, &e), SSYNC_ERR_CONFIG);
    EVP_PKEY_free(other);
    assert_null(g);
    live_free(&k);
    live_free(&l);
}

/* ---------------------------------------------------------------- a hostile server
 * Answers like a broken or malicious Graph would: loops, off-host links, huge or malformed
 * bodies, wrong content types. The first path segment names the behaviour (it is the Graph URL's
 * path, e.g. https://127.0.0.1:PORT/loop). Test-only: it writes raw HTTP on purpose. */

typedef struct hostile {
    SSL_CTX *ctx;
    int lfd, port;
    pthread_t th;
    volatile int stop;
    unsigned long hits;
} hostile;

static void ssl_write_all(SSL *s, const char *d, size_t n)
{
    while (n > 0) {
        int w = SSL_write(s, d, (int)(n > 16384 ? 16384 : n));
        if (w <= 0)
            return;
        d += w;
        n -= (size_t)w;
    }
}

static void respond(SSL *s, int status, const char *ctype, const char *body, size_t len,
                    int with_length)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: %s\r\nConnection: close\r\n", status, ctype);
    if (with_length)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", len);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    ssl_write_all(s, head, (size_t)n);
    ssl_write_all(s, body, len);
}

static void hostile_answer(hostile *h, SSL *s, const char *path)
{
    char body[1024];
    const char *J = "application/json";
    if (strstr(path, "/oauth2/v2.0/token")) {
        const char *t = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"t\"}";
        respond(s, 200, J, t, strlen(t), 1);
    } else if (strncmp(path, "/loop/", 6) == 0) {
        snprintf(body, sizeof body,
                 "{\"value\":[],\"@odata.nextLink\":\"https://127.0.0.1:%d/loop/beta/next\"}",
                 h->port);
        respond(s, 200, J, body, strlen(body), 1);
    } else if (strncmp(path, "/many/", 6) == 0) {
        snprintf(body, sizeof body,
                 "{\"value\":[],\"@odata.nextLink\":\"https://127.0.0.1:%d/many/beta/p%lu\"}",
                 h->port, h->hits);
        respond(s, 200, J, body, strlen(body), 1);
    } else if (strncmp(path, "/offhost/", 9) == 0) {
        const char *b = "{\"value\":[],\"@odata.nextLink\":\"https://evil.example/beta/x\"}";
        respond(s, 200, J, b, strlen(b), 1);
    } else if (strncmp(path, "/huge/", 6) == 0 || strncmp(path, "/hugeclose/", 11) == 0) {
        size_t n = 2u * 1024u * 1024u;
        char *big = malloc(n);
        memset(big, ' ', n);
        big[0] = '{';
        respond(s, 200, J, big, n, path[5] == '/');
        free(big);
    } else if (strncmp(path, "/html/", 6) == 0) {
        const char *b = "<html><body>Sign in</body></html>";
        respond(s, 200, "text/html", b, strlen(b), 1);
    } else if (strncmp(path, "/garbage/", 9) == 0) {
        respond(s, 200, J, "{\"value\":[{\"id\":", 16, 1);
    } else if (strncmp(path, "/noid/", 6) == 0) {
        const char *b = "{\"value\":[{\"thumbprint\":\"00\"}]}";
        respond(s, 200, J, b, strlen(b), 1);
    } else if (strncmp(path, "/err500/", 8) == 0) {
        const char *b = "<html>upstream exploded</html>";
        respond(s, 500, "text/html", b, strlen(b), 1);
    } else {
        respond(s, 404, J, "{}", 2, 1);
    }
}

static void *hostile_main(void *arg)
{
    hostile *h = arg;
    while (!h->stop) {
        struct pollfd p = {.fd = h->lfd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept(h->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        SSL *s = SSL_new(h->ctx);
        SSL_set_fd(s, fd);
        if (SSL_accept(s) == 1) {
            char req[65536];
            size_t n = 0;
            while (n < sizeof req - 1) {
                int r = SSL_read(s, req + n, (int)(sizeof req - 1 - n));
                if (r <= 0)
                    break;
                n += (size_t)r;
                req[n] = '\0';
                char *end = strstr(req, "\r\n\r\n");
                if (!end)
                    continue;
                char *cl = strstr(req, "\r\nContent-Length:");
                size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
                if (n >= (size_t)(end + 4 - req) + want)
                    break;
            }
            req[n] = '\0';
            char path[1024] = "";
            sscanf(req, "%*s %1023s", path);
            h->hits++;
            hostile_answer(h, s, path);
            SSL_shutdown(s);
        }
        SSL_free(s);
        close(fd);
    }
    return NULL;
}

static void hostile_start(hostile *h)
{
    memset(h, 0, sizeof *h);
    h->ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(h->ctx);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(h->ctx, lab_file("tls/server.pem")), 1);
    assert_int_equal(
        SSL_CTX_use_PrivateKey_file(h->ctx, lab_file("tls/server.key"), SSL_FILETYPE_PEM), 1);
    h->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(h->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(h->lfd, 16), 0);
    socklen_t al = sizeof a;
    getsockname(h->lfd, (struct sockaddr *)&a, &al);
    h->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&h->th, NULL, hostile_main, h), 0);
}

static void hostile_stop(hostile *h)
{
    h->stop = 1;
    pthread_join(h->th, NULL);
    close(h->lfd);
    SSL_CTX_free(h->ctx);
}

/* lists (or GETs by id) against one behaviour; returns the code, message in msg */
static ssync_code hostile_call(hostile *h, const char *behaviour, int by_id, char *msg, size_t n)
{
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/%s", h->port, behaviour);
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.max_pages = 50;
    l.cfg.max_attempts = 2;
    live_new(&l);
    ssync_error e = {0};
    ssync_code rc;
    if (by_id) {
        ssync_pfx_entry out;
        rc = ssync_graph_get_pfx(l.g, "0123abcd-00ff", &out, &e);
        if (rc == SSYNC_OK)
            ssync_pfx_entry_free(&out);
    } else {
        ssync_pfx_list list = {0};
        rc = ssync_graph_list_pfx(l.g, &list, &e);
        ssync_pfx_list_free(&list);
    }
    snprintf(msg, n, "%s", e.msg);
    fprintf(stderr, "  %s: %s\n", behaviour, e.msg);
    live_free(&l);
    return rc;
}

static void hostile_responses(void **state)
{
    basic_or_skip();
    hostile h;
    hostile_start(&h);
    char m[600];
    assert_int_equal(hostile_call(&h, "loop", 0, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "loop"));
    assert_int_equal(hostile_call(&h, "many", 0, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "more than 50 pages"));
    assert_int_equal(hostile_call(&h, "offhost", 0, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "away from the configured Graph host"));
    assert_int_equal(hostile_call(&h, "huge", 1, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "larger than"));
    assert_int_equal(hostile_call(&h, "hugeclose", 1, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "larger than"));
    assert_int_equal(hostile_call(&h, "html", 0, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "text/html"));
    assert_int_equal(hostile_call(&h, "html", 1, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_int_equal(hostile_call(&h, "garbage", 0, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_int_equal(hostile_call(&h, "garbage", 1, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_int_equal(hostile_call(&h, "noid", 0, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "without an id"));
    assert_int_equal(hostile_call(&h, "err500", 0, m, sizeof m), SSYNC_ERR_GRAPH);
    assert_non_null(strstr(m, "HTTP 500"));
    assert_non_null(strstr(m, "not Graph JSON"));
    assert_non_null(strstr(m, "gave up after 2 attempts"));
    hostile_stop(&h);
}

/* ---------------------------------------------------------------- faults
 * Each runs against an emulator started with the faults named in test_graph_client.sh. */

static void create_n(live *l, size_t n, char thumbs[][41], ssync_graph_op *ops, json_t **recs)
{
    for (size_t i = 0; i < n; i++) {
        random_thumb(thumbs[i]);
        recs[i] = make_record(users[i % nusers].upn, thumbs[i]);
        memset(&ops[i], 0, sizeof ops[i]);
        ops[i].kind = SSYNC_OP_CREATE;
        ops[i].record = recs[i];
    }
    ssync_error e;
    assert_int_equal(ssync_graph_run(l->g, ops, n, NULL, NULL, &e), SSYNC_OK);
    for (size_t i = 0; i < n; i++)
        if (ops[i].result != SSYNC_OK)
            fail_msg("create %zu: %s", i, ops[i].err.msg);
}

static size_t count_all(live *l, char thumbs[][41], size_t n)
{
    ssync_pfx_list all = {0};
    ssync_error e;
    if (ssync_graph_list_pfx(l->g, &all, &e) != SSYNC_OK)
        fail_msg("list: %s", e.msg);
    size_t c = count_in(&all, thumbs, n);
    ssync_pfx_list_free(&all);
    return c;
}

/* faults: POST 2nd = 429 (no Retry-After), POST 4th = 429-retry:1 */
static void fault_throttle_429(void **state)
{
    const char *url = scenario_or_skip("fault_throttle_429");
    load_users();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.max_in_flight = 1; /* deterministic order */
    live_new(&l);
    char thumbs[5][41];
    ssync_graph_op ops[5];
    json_t *recs[5];
    double t0 = (double)time(NULL);
    create_n(&l, 5, thumbs, ops, recs);
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    fprintf(stderr, "  429: %lu throttled, %lu retries, paused %.2f s\n", st.throttled, st.retries,
            st.paused_s);
    assert_int_equal(st.throttled, 2);
    assert_true(st.paused_s >= 1.0);           /* Retry-After: 1 honoured */
    assert_true((double)time(NULL) - t0 >= 1); /* really waited */
    assert_int_equal(count_all(&l, thumbs, 5), 5);
    for (int i = 0; i < 5; i++)
        json_decref(recs[i]);
    live_free(&l);
}

/* faults: GET userPfxCertificates 1st = 500, 2nd = 503-retry:1, 3rd = 504 */
static void fault_server_errors(void **state)
{
    const char *url = scenario_or_skip("fault_server_errors");
    live l;
    live_setup(&l, AUTH_SECRET, url);
    live_new(&l);
    ssync_pfx_list all = {0};
    ssync_error e;
    if (ssync_graph_list_pfx(l.g, &all, &e) != SSYNC_OK)
        fail_msg("list: %s", e.msg);
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    assert_int_equal(st.retries, 3);
    assert_int_equal(st.throttled, 2); /* 503 and 504 */
    ssync_pfx_list_free(&all);
    /* give up after max_attempts: the same faults every time */
    live_free(&l);
}

/* faults: every GET on userPfxCertificates answers 503 (3:1 onward) */
static void fault_gives_up(void **state)
{
    const char *url = scenario_or_skip("fault_gives_up");
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.max_attempts = 3;
    live_new(&l);
    ssync_pfx_list all = {0};
    ssync_error e;
    assert_int_equal(ssync_graph_list_pfx(l.g, &all, &e), SSYNC_OK); /* GETs 1-2 fine */
    assert_int_equal(ssync_graph_list_pfx(l.g, &all, &e), SSYNC_OK);
    assert_int_equal(ssync_graph_list_pfx(l.g, &all, &e), SSYNC_ERR_THROTTLED);
    fprintf(stderr, "  gave up: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "HTTP 503"));
    assert_non_null(strstr(e.msg, "gave up after 3 attempts"));
    assert_non_null(strstr(e.msg, "client-request-id "));
    const ssync_graph_failure *f = ssync_graph_last_failure(l.g);
    assert_int_equal(f->http_status, 503);
    assert_string_equal(f->code, "ServiceUnavailable");
    assert_true(f->request_id[0] != '\0');
    ssync_pfx_list_free(&all);
    live_free(&l);
}

/* faults: POST 1st = drop, GET userPfxCertificates 1st = drop */
static void fault_dropped_connections(void **state)
{
    const char *url = scenario_or_skip("fault_dropped_connections");
    load_users();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.max_in_flight = 1;
    live_new(&l);
    char thumbs[3][41];
    ssync_graph_op ops[3];
    json_t *recs[3];
    create_n(&l, 3, thumbs, ops, recs);
    assert_int_equal(ops[0].sends, 2); /* dropped, read back (dropped, again), absent, re-POST */
    assert_int_equal(ops[0].already, 0);
    assert_int_equal(count_all(&l, thumbs, 3), 3);
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    assert_int_equal(st.ambiguous, 1);
    for (int i = 0; i < 3; i++)
        json_decref(recs[i]);
    live_free(&l);
}

/* faults: POST 1st = commit-500, POST 2nd = commit-drop, DELETE 1st = commit-500 */
static void fault_commit_then_fail(void **state)
{
    const char *url = scenario_or_skip("fault_commit_then_fail");
    load_users();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.max_in_flight = 1;
    live_new(&l);
    char thumbs[3][41];
    ssync_graph_op ops[3];
    json_t *recs[3];
    create_n(&l, 3, thumbs, ops, recs);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ops[i].sends, 1); /* never re-POSTed */
        assert_int_equal(ops[i].already, 1);
    }
    assert_int_equal(ops[2].already, 0);
    assert_int_equal(count_all(&l, thumbs, 3), 3); /* exactly one record each */
    ssync_error e;
    assert_int_equal(ssync_graph_delete_pfx(l.g, users[0].id, thumbs[0], &e), SSYNC_OK);
    assert_int_equal(count_all(&l, thumbs, 3), 2);
    for (int i = 0; i < 3; i++)
        json_decref(recs[i]);
    live_free(&l);
}

/* faults: DELETE 1st and 2nd = noop (204, record kept: what Intune has been seen to do) */
static void fault_delete_not_effective(void **state)
{
    const char *url = scenario_or_skip("fault_delete_not_effective");
    load_users();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    live_new(&l);
    char thumbs[1][41];
    ssync_graph_op ops[1];
    json_t *recs[1];
    create_n(&l, 1, thumbs, ops, recs);
    ssync_error e;
    assert_int_equal(ssync_graph_delete_pfx(l.g, users[0].id, thumbs[0], &e),
                     SSYNC_ERR_DELETE_NOT_EFFECTIVE);
    assert_non_null(strstr(e.msg, thumbs[0]));
    assert_int_equal(count_all(&l, thumbs, 1), 1); /* reported, not hidden */
    /* the fault is spent: a later delete works and is verified */
    assert_int_equal(ssync_graph_delete_pfx(l.g, users[0].id, thumbs[0], &e), SSYNC_OK);
    assert_int_equal(count_all(&l, thumbs, 1), 0);
    json_decref(recs[0]);
    live_free(&l);
}

/* emulator: --token-lifetime 2; faults: GET userPfxCertificates 2nd = expire (401) */
static void fault_token_expiry(void **state)
{
    const char *url = scenario_or_skip("fault_token_expiry");
    live l;
    live_setup(&l, AUTH_RS256, url);
    live_new(&l);
    ssync_pfx_list all = {0};
    ssync_error e;
    assert_int_equal(ssync_graph_list_pfx(l.g, &all, &e), SSYNC_OK);
    assert_int_equal(ssync_graph_list_pfx(l.g, &all, &e), SSYNC_OK); /* 401 -> refresh once */
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    assert_int_equal(st.auth_refreshes, 1);
    assert_int_equal(st.token_requests, 2);
    sleep(3); /* the token expired for real: renewed before use, no 401 */
    assert_int_equal(ssync_graph_list_pfx(l.g, &all, &e), SSYNC_OK);
    ssync_graph_get_stats(l.g, &st);
    assert_int_equal(st.auth_refreshes, 1);
    assert_int_equal(st.token_requests, 3);
    ssync_pfx_list_free(&all);
    live_free(&l);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN); /* the hostile server writes to clients that gave up */
    const char *filter = getenv("SSYNC_LIVE_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_with_secret),
        cmocka_unit_test(token_with_cert_rs256),
        cmocka_unit_test(token_with_cert_ps256),
        cmocka_unit_test(wrong_secret_is_a_clear_aadsts_error),
        cmocka_unit_test(create_list_filter_delete),
        cmocka_unit_test(user_lookups_batched),
        cmocka_unit_test(group_members),
        cmocka_unit_test(wrong_ca_is_refused),
        cmocka_unit_test(wrong_host_name_is_refused),
        cmocka_unit_test(config_is_validated),
        cmocka_unit_test(hostile_responses),
        cmocka_unit_test(fault_throttle_429),
        cmocka_unit_test(fault_server_errors),
        cmocka_unit_test(fault_gives_up),
        cmocka_unit_test(fault_dropped_connections),
        cmocka_unit_test(fault_commit_then_fail),
        cmocka_unit_test(fault_token_expiry),
        cmocka_unit_test(fault_delete_not_effective),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, NULL);
    curl_global_cleanup();
    return rc;
}
