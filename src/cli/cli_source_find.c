#include "cli_source_find.h"

#include "recover/blob.h"
#include "common/fileio.h"
#include "pki/crl.h"
#include "sync/plan.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int not_hidden(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

static void thumbprint_of(X509 *cert, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    out[0] = '\0';
    if (X509_digest(cert, EVP_sha1(), md, &len) != 1 || len != 20)
        return;
    for (unsigned i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Marks the thumbprints carried by one blob file. */
static void search_file(const char *path, const ssync_config *cfg, X509_CRL *const *crls,
                        size_t n_crls, const char *const *thumbprints, size_t n, char **files)
{
    ssync_buf b = {0};
    ssync_blob blob = {0};
    if (ssync_read_file(path, SSYNC_MAX_INPUT_FILE, &b, NULL) != SSYNC_OK)
        return;
    if (ssync_blob_decode(b.data, b.len, &blob, NULL) == SSYNC_OK) {
        for (int c = 0; c < sk_X509_num(blob.certs); c++) {
            X509 *cert = sk_X509_value(blob.certs, c);
            char tp[41];
            thumbprint_of(cert, tp);
            for (size_t i = 0; i < n; i++) {
                if (files[i] || strcmp(tp, thumbprints[i]) != 0)
                    continue;
                int expired = X509_cmp_time(X509_get0_notAfter(cert), NULL) < 0;
                if (!ssync_crl_revoked_cert(cert, crls, n_crls) &&
                    !(expired && !cfg->policy.include_expired))
                    files[i] = strdup(path);
            }
        }
    }
    ssync_blob_clear(&blob);
    ssync_buf_free(&b);
}

int cli_source_find(const ssync_config *cfg, const char *const *thumbprints, size_t n, char **files)
{
    for (size_t i = 0; i < n; i++)
        files[i] = NULL;
    if (cfg->source.type != SSYNC_SOURCE_BLOBS || !cfg->source.path)
        return 0;
    X509_CRL *crls[SSYNC_CFG_MAX_LIST] = {0};
    size_t n_crls = 0;
    int ok = 1;
    for (size_t i = 0; ok && i < cfg->source.crl.n; i++)
        ok = ssync_crl_load(cfg->source.crl.v[i], &crls[n_crls++], NULL) == SSYNC_OK;
    struct dirent **names = NULL;
    int count = ok ? scandir(cfg->source.path, &names, not_hidden, alphasort) : -1;
    for (int k = 0; k < count; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", cfg->source.path, names[k]->d_name);
        search_file(path, cfg, crls, n_crls, thumbprints, n, files);
        free(names[k]);
    }
    free(names);
    for (size_t i = 0; i < n_crls; i++)
        X509_CRL_free(crls[i]);
    return count >= 0;
}
