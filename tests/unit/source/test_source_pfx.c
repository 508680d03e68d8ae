/* The pfx source: manifest parsing (every bad line named by file:line), scanning a directory of
 * PKCS#12 files where broken entries become failed items, and exporting an entry. */
#include "testutil.h"

#include "sync/config.h"
#include "connector/connector.h"
#include "source/pfx_manifest.h"
#include "source/source.h"

#include <openssl/pkcs12.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HDR "file,password_file,userPrincipalName\n"

static ssync_code parse(const char *text, ssync_pfx_manifest *m, ssync_error *e)
{
    return ssync_pfx_manifest_parse(text, strlen(text), "dir/m.csv", m, e);
}

/* The env of a run: the vectors' CA ([source] ca) as the trust anchors. */
static ssync_source_env *vector_env(void)
{
    static ssync_trust *trust;
    static ssync_source_env env;
    ssync_error e = {0};
    if (!trust && ssync_trust_load((char *[]){(char *)test_data_path("adcs-basic/ca.pem")}, 1,
                                   &trust, &e) != SSYNC_OK)
        fail_msg("%s", e.msg);
    env.trust = trust;
    return &env;
}

static void expect_bad(const char *text, const char *needle)
{
    ssync_pfx_manifest m;
    ssync_error e = {0};
    assert_int_equal(parse(text, &m, &e), SSYNC_ERR_CONFIG);
    if (!strstr(e.msg, needle))
        fail_msg("'%s' not in '%s'", needle, e.msg);
    assert_int_equal(m.n, 0);
    assert_null(m.v);
}

static void manifest_good(void **state)
{
    (void)state;
    ssync_pfx_manifest m;
    ssync_error e = {0};
    const char *text = "\xef\xbb\xbf"
                       "userPrincipalName,password_file,file\r\n"
                       "# a comment\r\n"
                       "\r\n"
                       ",a.pass,a.p12\r\n"
                       "bob@x.example,/abs/b.pass,\"sub/b, with comma.p12\"\r\n"
                       "\"o'x@x.example\",c.pass,\"c\"\"q.p12\"\n";
    assert_int_equal(parse(text, &m, &e), SSYNC_OK);
    assert_int_equal(m.n, 3);
    assert_string_equal(m.v[0].file, "dir/a.p12");
    assert_string_equal(m.v[0].password_file, "dir/a.pass");
    assert_null(m.v[0].upn);
    assert_int_equal(m.v[0].line, 4);
    assert_string_equal(m.v[1].file, "dir/sub/b, with comma.p12");
    assert_string_equal(m.v[1].password_file, "/abs/b.pass");
    assert_string_equal(m.v[1].upn, "bob@x.example");
    assert_string_equal(m.v[2].file, "dir/c\"q.p12");
    assert_string_equal(m.v[2].upn, "o'x@x.example");
    assert_ptr_equal(ssync_pfx_manifest_find(&m, "dir/c\"q.p12"), &m.v[2]);
    assert_ptr_equal(ssync_pfx_manifest_find(&m, "dir/a.p12"), &m.v[0]);
    assert_null(ssync_pfx_manifest_find(&m, "a.p12"));
    ssync_pfx_manifest_free(&m);

    /* userPrincipalName is optional; a manifest next to the working directory */
    assert_int_equal(
        ssync_pfx_manifest_parse("file,password_file\nx.p12,x.pass\n", 31, "m.csv", &m, &e),
        SSYNC_OK);
    assert_string_equal(m.v[0].file, "x.p12");
    ssync_pfx_manifest_free(&m);
    /* a header alone: an empty source */
    assert_int_equal(parse(HDR, &m, &e), SSYNC_OK);
    assert_int_equal(m.n, 0);
    ssync_pfx_manifest_free(&m);
}

static void manifest_bad_lines(void **state)
{
    (void)state;
    expect_bad("", "dir/m.csv: no header line");
    expect_bad("# only a comment\n", "dir/m.csv: no header line");
    expect_bad("file,userPrincipalName\n",
               "dir/m.csv:1: the header must name file and password_file");
    expect_bad("file,password_file,owner\n", "dir/m.csv:1: unknown column 'owner'");
    expect_bad("file,password_file,file\n", "dir/m.csv:1: column 'file' twice");
    expect_bad(HDR "a.p12,a.pass,\nb.p12,b.pass\n", "dir/m.csv:3: 2 fields, the header has 3");
    expect_bad(HDR "a.p12,a.pass,,extra\n", "dir/m.csv:2: 4 fields, the header has 3");
    expect_bad(HDR ",a.pass,\n", "dir/m.csv:2: file is empty");
    expect_bad(HDR "a.p12,,\n", "dir/m.csv:2: password_file is empty");
    expect_bad(HDR "a.p12,a.pass,alice\n",
               "dir/m.csv:2: userPrincipalName 'alice' is not name@domain");
    expect_bad(HDR "a.p12,a.pass,a b@x.example\n", "dir/m.csv:2: userPrincipalName");
    expect_bad(HDR "\"a.p12,a.pass,\n", "dir/m.csv:2: bad CSV quoting");
    expect_bad(HDR "a\"b.p12,a.pass,\n", "dir/m.csv:2: bad CSV quoting");
    expect_bad(HDR "a.p12,a.pass\t,\n", "dir/m.csv:2: control character");
    expect_bad(HDR "a.p12,a.pass,\n\nb.p12,b.pass,\n./a.p12,c.pass,\na.p12,d.pass,\n",
               "dir/m.csv:6: a.p12 is already listed on line 2");

    char nul[] = HDR "a.p12,a.pass,\n";
    nul[sizeof HDR] = '\0';
    ssync_pfx_manifest m;
    ssync_error e;
    assert_int_equal(ssync_pfx_manifest_parse(nul, sizeof nul - 1, "dir/m.csv", &m, &e),
                     SSYNC_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "NUL byte"));
}

/* ---- scanning and exporting real files ---- */

typedef struct fixture {
    char *dir;
    char manifest[600];
} fixture;

static void write_file(const char *dir, const char *name, const void *data, size_t len,
                       unsigned mode)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void write_p12(const char *dir, const char *name, const char *pw, EVP_PKEY *key, X509 *cert,
                      STACK_OF(X509) * extra)
{
    PKCS12 *p12 = PKCS12_create(pw, "t", key, cert, extra, NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
                                NID_pbe_WithSHA1And3_Key_TripleDES_CBC, 2048, 2048, 0);
    assert_non_null(p12);
    unsigned char *der = NULL;
    int n = i2d_PKCS12(p12, &der);
    assert_true(n > 0);
    write_file(dir, name, der, (size_t)n, 0644);
    OPENSSL_free(der);
    PKCS12_free(p12);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir();
    EVP_PKEY *key = test_load_key("adcs-basic/user.key");
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    X509 *other = test_load_cert("adcs-basic/kra1.pem");
    STACK_OF(X509) *others = sk_X509_new_null();
    sk_X509_push(others, other);
    write_p12(f->dir, "good.p12", "pw-good", key, cert, NULL);
    write_file(f->dir, "good.pass", "pw-good\n", 8, 0600);
    write_p12(f->dir, "wrong.p12", "pw-right", key, cert, NULL);
    write_file(f->dir, "wrong.pass", "pw-wrong\n", 9, 0600);
    write_p12(f->dir, "loose.p12", "pw-good", key, cert, NULL);
    write_file(f->dir, "loose.pass", "pw-good\n", 8, 0644);
    write_p12(f->dir, "nokey.p12", "pw-good", NULL, cert, NULL);
    write_p12(f->dir, "mismatch.p12", "pw-good", key, NULL, others);
    write_file(f->dir, "junk.p12", "not a pkcs12", 12, 0644);
    const char *ok = HDR "good.p12,good.pass,\n"
                         "wrong.p12,wrong.pass,\n"
                         "missing.p12,good.pass,\n"
                         "loose.p12,loose.pass,\n"
                         "nokey.p12,good.pass,\n"
                         "mismatch.p12,good.pass,\n"
                         "junk.p12,good.pass,\n";
    write_file(f->dir, "manifest.csv", ok, strlen(ok), 0644);
    snprintf(f->manifest, sizeof f->manifest, "%s/manifest.csv", f->dir);
    sk_X509_pop_free(others, X509_free);
    X509_free(cert);
    EVP_PKEY_free(key);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void expect_item(const ssync_plan_item *it, ssync_code code, const char *line,
                        const char *reason)
{
    assert_non_null(it->path);
    if (it->code != code)
        fail_msg("code %s, expected %s (%s)", ssync_code_name(it->code), ssync_code_name(code),
                 it->error);
    if (!strstr(it->error, line) || !strstr(it->error, reason))
        fail_msg("'%s' / '%s' not in '%s'", line, reason, it->error);
    assert_string_equal(it->thumbprint, "");
}

static void scan_and_export(void **state)
{
    fixture *f = *state;
    ssync_config cfg;
    ssync_config_defaults(&cfg);
    cfg.source.type = SSYNC_SOURCE_PFX;
    cfg.source.path = f->dir; /* manifest.csv in it by default */
    ssync_plan p = {0};
    ssync_error e = {0};
    ssync_source *src = NULL;
    assert_int_equal(ssync_source_open(&cfg.source, vector_env(), &src, &e), SSYNC_OK);
    assert_int_equal(ssync_source_scan(src, NULL, &p, &e), SSYNC_OK);
    assert_int_equal(p.count, 7);

    X509 *cert = test_load_cert("adcs-basic/user.pem");
    char tp[41];
    unsigned char md[20];
    unsigned n = 0;
    X509_digest(cert, EVP_sha1(), md, &n);
    for (int i = 0; i < 20; i++)
        snprintf(tp + 2 * i, 3, "%02x", md[i]);
    X509_free(cert);

    const ssync_plan_item *good = &p.items[0];
    assert_int_equal(good->code, SSYNC_OK);
    assert_string_equal(good->thumbprint, tp);
    assert_non_null(good->cert_upn);
    assert_non_null(strstr(good->path, "/good.p12"));
    expect_item(&p.items[1], SSYNC_ERR_PFX_OPEN, "manifest.csv:3: ",
                "wrong.p12: cannot open the PKCS#12 file: PKCS#12 MAC verification failed (wrong "
                "password)");
    expect_item(&p.items[2], SSYNC_ERR_FILE_OPEN, "manifest.csv:4: ", "missing.p12: No such file");
    expect_item(&p.items[3], SSYNC_ERR_FILE_PERMS, "manifest.csv:5: ", "loose.pass has mode 644");
    expect_item(&p.items[4], SSYNC_ERR_PFX_OPEN,
                "manifest.csv:6: ", "nokey.p12: holds no private key");
    expect_item(&p.items[5], SSYNC_ERR_KEY_MISMATCH,
                "manifest.csv:7: ", "matches none of its 1 certificate");
    expect_item(&p.items[6], SSYNC_ERR_PFX_OPEN, "manifest.csv:8: ", "junk.p12: not a PKCS#12");

    /* export the good one: a record for the given user, password encrypted to the connector */
    ssync_exporter ex;
    ssync_exporter_init(&ex);
    assert_int_equal(
        ssync_connector_load(test_data_path("adcs-basic/connector-public.pem"), &ex.connector, &e),
        SSYNC_OK);
    ssync_export_result r;
    assert_int_equal(ssync_source_export(src, &ex, good, "someone@x.example", &r, &e), SSYNC_OK);
    assert_string_equal(json_string_value(json_object_get(r.record, "thumbprint")), tp);
    assert_string_equal(json_string_value(json_object_get(r.record, "userPrincipalName")),
                        "someone@x.example");
    assert_non_null(json_object_get(r.record, "encryptedPfxBlob"));
    ssync_export_result_clear(&r);
    /* a failed item cannot be exported; an item whose file changed is refused */
    assert_int_not_equal(ssync_source_export(src, &ex, &p.items[1], NULL, &r, &e), SSYNC_OK);
    assert_non_null(strstr(e.msg, "manifest.csv:3: "));
    ssync_plan_item changed = *good;
    memset(changed.thumbprint, 'a', 40);
    assert_int_equal(ssync_source_export(src, &ex, &changed, NULL, &r, &e), SSYNC_ERR_PFX_OPEN);
    assert_non_null(strstr(e.msg, "changed since the plan"));
    /* an item this source did not scan (not in its manifest) is not exported */
    ssync_plan_item blob = *good;
    blob.path = "/elsewhere/17.rsp";
    assert_int_equal(ssync_source_export(src, &ex, &blob, NULL, &r, &e), SSYNC_ERR_NOT_FOUND);
    assert_non_null(strstr(e.msg, "no longer listed"));
    EVP_PKEY_free(ex.connector);
    ssync_source_close(src);
    ssync_plan_free(&p);
}

/* The source opened (the manifest parsed), scanned, closed. */
static ssync_code open_scan(const ssync_config *cfg, ssync_plan *p, ssync_error *e)
{
    ssync_source *src = NULL;
    ssync_code rc = ssync_source_open(&cfg->source, vector_env(), &src, e);
    if (rc == SSYNC_OK)
        rc = ssync_source_scan(src, NULL, p, e);
    ssync_source_close(src);
    return rc;
}

static void upn_override_and_bad_manifest(void **state)
{
    fixture *f = *state;
    const char *text = HDR "good.p12,good.pass,carol@x.example\n";
    write_file(f->dir, "override.csv", text, strlen(text), 0644);
    ssync_config cfg;
    ssync_config_defaults(&cfg);
    cfg.source.type = SSYNC_SOURCE_PFX;
    char path[700];
    snprintf(path, sizeof path, "%s/override.csv", f->dir);
    cfg.source.manifest = path; /* path not needed when the manifest is named */
    ssync_plan p = {0};
    ssync_error e = {0};
    assert_int_equal(open_scan(&cfg, &p, &e), SSYNC_OK);
    assert_int_equal(p.count, 1);
    assert_int_equal(p.items[0].code, SSYNC_OK);
    assert_string_equal(p.items[0].cert_upn, "carol@x.example");
    assert_string_equal(p.items[0].san_upn, "carol@x.example");
    ssync_plan_free(&p);

    /* a malformed manifest is fatal and names file:line; a missing one names the file */
    text = HDR "good.p12\n";
    write_file(f->dir, "bad.csv", text, strlen(text), 0644);
    snprintf(path, sizeof path, "%s/bad.csv", f->dir);
    assert_int_equal(open_scan(&cfg, &p, &e), SSYNC_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "bad.csv:2: 1 fields"));
    assert_int_equal(p.count, 0);
    snprintf(path, sizeof path, "%s/none.csv", f->dir);
    assert_int_equal(open_scan(&cfg, &p, &e), SSYNC_ERR_FILE_OPEN);
    assert_non_null(strstr(e.msg, "none.csv"));
    cfg.source.manifest = NULL;
    assert_int_equal(open_scan(&cfg, &p, &e), SSYNC_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "needs path"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manifest_good),
        cmocka_unit_test(manifest_bad_lines),
        cmocka_unit_test_setup_teardown(scan_and_export, setup, teardown),
        cmocka_unit_test_setup_teardown(upn_override_and_bad_manifest, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
