/* The pfx source: a directory of PKCS#12 files with a manifest (pfx_manifest.h), for keys
 * generated centrally (not archived on the CA). The manifest is parsed once, at open. Scanning
 * opens every file once to learn its certificate and forgets the key; exporting opens it again.
 * A password file readable by group or others is refused (the item fails), as ssh refuses such a
 * private key file. */
#include "source/source_int.h"

#include "common/fileio.h"
#include "pki/p12read.h"
#include "source/pfx_manifest.h"

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- opening one entry */

/* The password file's mode: refused when group or others may read or write it. */
static ssync_code check_password_file(const char *path, ssync_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "password file %s: %s", path, "cannot be read");
    if (st.st_mode & 077)
        return ssync_fail(err, SSYNC_ERR_FILE_PERMS,
                          "password file %s has mode %03o: readable by others (chmod 600)", path,
                          (unsigned)(st.st_mode & 0777));
    return SSYNC_OK;
}

/* Opens the entry's PKCS#12: key and the certificate it belongs to. */
static ssync_code open_entry(ssync_p12_reader *r, const ssync_pfx_manifest_entry *e, EVP_PKEY **key,
                             X509 **cert, ssync_error *err)
{
    *key = NULL;
    *cert = NULL;
    ssync_buf file = {0}, pass = {0};
    STACK_OF(X509) *others = NULL;
    PKCS12 *p12 = NULL;
    ssync_code rc = ssync_read_file(e->file, SSYNC_MAX_INPUT_FILE, &file, err);
    if (rc == SSYNC_OK)
        rc = check_password_file(e->password_file, err);
    if (rc == SSYNC_OK)
        rc = ssync_read_secret_file(e->password_file, &pass, err);
    if (rc != SSYNC_OK)
        goto done;
    const unsigned char *q = file.data;
    ERR_clear_error();
    p12 = file.len <= INT_MAX ? d2i_PKCS12(NULL, &q, (long)file.len) : NULL;
    if (!p12) {
        ERR_clear_error();
        rc = ssync_fail(err, SSYNC_ERR_PFX_OPEN, "%s: not a PKCS#12 file (DER)", e->file);
        goto done;
    }
    rc = ssync_p12_parse(r, p12, (const char *)pass.data, SSYNC_ERR_PFX_OPEN, SSYNC_ERR_PFX_OPEN,
                         key, cert, &others, err);
    if (rc != SSYNC_OK) {
        ssync_error_prefix(err, "%s: ", e->file);
    } else if (!*key) {
        rc = ssync_fail(err, SSYNC_ERR_PFX_OPEN, "%s: holds no private key", e->file);
    } else if (!*cert) {
        /* PKCS12_parse returns the certificate whose key matches; the rest are others */
        int n = others ? sk_X509_num(others) : 0;
        rc = n ? ssync_fail(err, SSYNC_ERR_KEY_MISMATCH,
                            "%s: the private key matches none of its %d certificate(s)", e->file, n)
               : ssync_fail(err, SSYNC_ERR_PFX_OPEN, "%s: holds no certificate", e->file);
    }
done:
    if (rc != SSYNC_OK) {
        EVP_PKEY_free(*key);
        X509_free(*cert);
        *key = NULL;
        *cert = NULL;
    }
    sk_X509_pop_free(others, X509_free);
    PKCS12_free(p12);
    ssync_buf_free_secret(&pass);
    ssync_buf_free(&file);
    ERR_clear_error();
    return rc;
}

/* ---------------------------------------------------------------- scan and export */

static ssync_code scan_entry(ssync_p12_reader *r, const ssync_pfx_manifest *m,
                             const ssync_pfx_manifest_entry *e, const ssync_source_env *env,
                             ssync_plan_item *it)
{
    if (!(it->path = strdup(e->file)))
        return SSYNC_ERR_NOMEM;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    ssync_error ie = {0};
    ssync_code rc = open_entry(r, e, &key, &cert, &ie);
    EVP_PKEY_free(key); /* the plan keeps no key: export opens the file again */
    if (rc == SSYNC_OK)
        rc = ssync_source_set_cert(env, it, cert, &ie);
    if (rc == SSYNC_OK && e->upn) {
        /* the manifest names the user: it replaces the certificate's own */
        if (ssync_plan_item_set_user(it, e->upn) != SSYNC_OK)
            rc = ssync_fail(&ie, SSYNC_ERR_NOMEM, NULL);
    }
    X509_free(cert);
    if (rc == SSYNC_ERR_NOMEM)
        return rc;
    if (rc != SSYNC_OK) {
        it->code = rc;
        ssync_error_prefix(&ie, "%s:%zu: ", m->path, e->line);
        ssync_plan_note(&it->error, "%s", ie.msg);
    }
    return SSYNC_OK; /* a failed entry is an item, not a failed scan */
}

static ssync_code pfx_open(ssync_source *s, ssync_error *err)
{
    ssync_pfx_manifest *m = calloc(1, sizeof *m);
    if (!m)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    ssync_code rc = ssync_pfx_manifest_load(s->cfg, m, err);
    if (rc != SSYNC_OK) {
        free(m);
        return rc;
    }
    s->impl = m;
    return SSYNC_OK;
}

static void pfx_close(ssync_source *s)
{
    ssync_pfx_manifest_free(s->impl);
    free(s->impl);
}

static ssync_code pfx_scan(ssync_source *s, const ssync_plan_target *t, ssync_plan *out,
                           ssync_error *err)
{
    (void)t;
    const ssync_pfx_manifest *m = s->impl;
    ssync_p12_reader r = {0};
    ssync_code rc = SSYNC_OK;
    for (size_t i = 0; rc == SSYNC_OK && i < m->n; i++) {
        ssync_plan_item *it = ssync_plan_add(out);
        rc = it ? scan_entry(&r, m, &m->v[i], &s->env, it) : SSYNC_ERR_NOMEM;
        if (rc != SSYNC_OK)
            ssync_fail(err, rc, "pfx source");
    }
    ssync_p12_reader_free(&r);
    return rc;
}

/* The manifest is read-only after open: several workers may export at once. */
static ssync_code pfx_export(ssync_source *s, const ssync_exporter *ex, const ssync_plan_item *it,
                             const char *upn, ssync_export_result *out, ssync_error *err)
{
    const ssync_pfx_manifest *m = s->impl;
    if (!it->path)
        return ssync_fail(err, SSYNC_ERR_ARG, "not a pfx item");
    memset(out, 0, sizeof *out);
    const ssync_pfx_manifest_entry *e = ssync_pfx_manifest_find(m, it->path);
    if (!e)
        return ssync_fail(err, SSYNC_ERR_NOT_FOUND, "%s is no longer listed in %s", it->path,
                          m->path);
    ssync_p12_reader r = {0};
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    ssync_code rc = open_entry(&r, e, &key, &cert, err);
    if (rc == SSYNC_OK)
        rc = ssync_export_key(ex, key, cert, NULL, upn ? upn : e->upn, out, err);
    /* the file must still hold the certificate that was planned */
    if (rc == SSYNC_OK && it->thumbprint[0] && strcmp(out->info.thumbprint, it->thumbprint)) {
        rc = ssync_fail(err, SSYNC_ERR_PFX_OPEN,
                        "%s changed since the plan (certificate %s, "
                        "planned %s)",
                        e->file, out->info.thumbprint, it->thumbprint);
        ssync_export_result_clear(out);
    }
    if (rc != SSYNC_OK && rc != SSYNC_ERR_NOMEM)
        ssync_error_prefix(err, "%s:%zu: ", m->path, e->line);
    EVP_PKEY_free(key);
    X509_free(cert);
    ssync_p12_reader_free(&r);
    return rc;
}

/* The manifest's entries, and the first one opened: proof that its password file fits. */
static ssync_code pfx_check(ssync_source *s, ssync_source_check_result *out, ssync_error *err)
{
    (void)err;
    const ssync_pfx_manifest *m = s->impl;
    out->count = m->n;
    snprintf(out->summary, sizeof out->summary, "pfx source, manifest %s: %zu entr%s", m->path,
             m->n, m->n == 1 ? "y" : "ies");
    if (!m->n)
        return SSYNC_OK;
    const ssync_pfx_manifest_entry *e = &m->v[0];
    ssync_p12_reader r = {0};
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    ssync_error e2 = {0};
    char name[4200];
    snprintf(name, sizeof name, "%s:%zu", ssync_basename(m->path), e->line);
    if (open_entry(&r, e, &key, &cert, &e2) == SSYNC_OK)
        ssync_source_sample_ok(out, name, "opened", cert, e->upn);
    else
        ssync_source_sample_fail(out, name, &e2);
    EVP_PKEY_free(key);
    X509_free(cert);
    ssync_p12_reader_free(&r);
    return SSYNC_OK;
}

const ssync_source_ops ssync_source_pfx = {
    .name = "pfx",
    .hint = "check [source] manifest",
    .open = pfx_open,
    .scan = pfx_scan,
    .export = pfx_export,
    .check = pfx_check,
    .close = pfx_close,
};
