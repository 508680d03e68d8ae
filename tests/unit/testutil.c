#include "testutil.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *test_data_path(const char *rel)
{
    static char slots[8][1024];
    static int next;
    char *out = slots[next++ % 8];
    const char *base = getenv("SSYNC_DATA");
    snprintf(out, 1024, "%s/%s", base ? base : "tests/data", rel);
    return out;
}

ssync_buf test_read(const char *rel)
{
    ssync_buf b = {0};
    ssync_error e = {0};
    if (ssync_read_file(test_data_path(rel), SSYNC_MAX_INPUT_FILE, &b, &e) != SSYNC_OK)
        fail_msg("cannot read test data %s: %s", rel, e.msg);
    return b;
}

X509 *test_load_cert(const char *rel)
{
    FILE *f = fopen(test_data_path(rel), "r");
    if (!f)
        fail_msg("missing %s", rel);
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!c)
        fail_msg("not a PEM certificate: %s", rel);
    return c;
}

EVP_PKEY *test_load_key(const char *rel)
{
    FILE *f = fopen(test_data_path(rel), "r");
    if (!f)
        fail_msg("missing %s", rel);
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!k)
        fail_msg("not a PEM private key: %s", rel);
    return k;
}

char *test_tmpdir(void)
{
    char tmpl[] = "/tmp/ssync-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d)
        fail_msg("mkdtemp failed");
    return strdup(d);
}

void test_rmtree(const char *dir)
{
    char cmd[1200];
    if (!dir || strncmp(dir, "/tmp/ssync-test-", 16) != 0)
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}
