/* The checks that need no network: KRA keys, connector key, CRLs, source, journal path. */
#include "cli_check.h"
#include "cli_report.h"

#include "pki/certinfo.h"
#include "connector/connector.h"
#include "common/fileio.h"
#include "sync/connect.h"
#include "sync/plan.h"
#include "recover/blob.h"
#include "recover/recover.h"
#include "source/source.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KRA_WARN_DAYS 30

static const char *HINT_KRA_PASS = "check [kra] password_file (or password_env)";

/* One KRA's certificate: subject, serial, expiry; a warning when it is close to expiring. */
static void kra_facts(struct check_list *l, const char *name, X509 *cert)
{
    ssync_certinfo info = {0};
    ssync_error e = {0};
    if (ssync_certinfo_get(cert, &info, &e) != SSYNC_OK) {
        cli_check_add(l, CHECK_WARN, name, NULL,
                      "key opens, but its certificate cannot be read: %s", e.msg);
        return;
    }
    char until[32];
    cli_check_date(X509_get0_notAfter(cert), until);
    int days = 0, secs = 0;
    int ok_diff = ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert));
    if (ok_diff && (days < 0 || secs < 0))
        cli_check_add(l, CHECK_WARN, name,
                      "it still opens keys archived to it, but the CA needs a valid KRA "
                      "certificate to archive new keys",
                      "key opens and matches %s (serial %s); certificate EXPIRED on %s",
                      info.subject, info.serial, until);
    else if (ok_diff && days < KRA_WARN_DAYS)
        cli_check_add(l, CHECK_WARN, name, "renew the KRA certificate on the CA",
                      "key opens and matches %s (serial %s); certificate expires in %d days (%s)",
                      info.subject, info.serial, days, until);
    else
        cli_check_add(l, CHECK_OK, name, NULL,
                      "key opens and matches %s (serial %s), valid until %s", info.subject,
                      info.serial, until);
    ssync_certinfo_clear(&info);
}

/* check_kras' report of each step of the loader: one line per key, and go on after a failed one. */
struct kra_lines {
    struct check_list *l;
    int failed; /* a failure that stops the load has its line */
};

static int kra_line(void *ctx, const ssync_kra_event *ev)
{
    struct kra_lines *k = ctx;
    struct check_list *l = k->l;
    if (ev->step == SSYNC_KRA_STEP_PASSWORD_FILE) {
        cli_check_add(l, CHECK_FAIL, "kra password", HINT_KRA_PASS, "%s", ev->err->msg);
        k->failed = 1;
        return 0;
    }
    char name[96];
    snprintf(name, sizeof name, "kra %s", ssync_basename(ev->path));
    if (!ev->err) {
        if (ev->cert)
            kra_facts(l, name, ev->cert);
        return 1;
    }
    ssync_code code = ev->err->code;
    cli_check_add(l, CHECK_FAIL, name,
                  code == SSYNC_ERR_KRA_PASSWORD ? HINT_KRA_PASS
                  : code == SSYNC_ERR_KRA_NO_CERT
                      ? "export the KRA with its certificate, or name it in [kra] cert"
                      : NULL,
                  "%s", ev->err->msg);
    return 1;
}

void check_kras(struct check_list *l, const ssync_config *cfg, ssync_kra_set **kras)
{
    ssync_error e = {0};
    *kras = NULL;
    if (cfg->kra.key.n == 0) {
        cli_check_add(l, CHECK_FAIL, "kra", "name the KRA PKCS#12 or PEM file in [kra] key",
                      "[kra] key is not set");
        return;
    }
    if (cfg->kra.password_file.n == 0 && cfg->kra.password_env && !getenv(cfg->kra.password_env))
        cli_check_add(l, CHECK_WARN, "kra password", HINT_KRA_PASS,
                      "the environment variable %s is not set: trying an empty password",
                      ssync_env_name_shown(cfg->kra.password_env));
    struct kra_lines k = {.l = l};
    if (ssync_kra_set_open(&cfg->kra, kra_line, &k, kras, &e) != SSYNC_OK && !k.failed)
        cli_check_add(l, CHECK_FAIL, "kra", NULL, "%s", e.msg);
}

void check_connector(struct check_list *l, const ssync_config *cfg)
{
    static const char *const name = "connector key";
    ssync_error e = {0};
    if (!cfg->connector.public_key) {
        cli_check_add(l, CHECK_FAIL, name,
                      "export it on a connector server with Export-IntunePublicKey",
                      "[connector] public_key is not set");
        return;
    }
    EVP_PKEY *pub = NULL;
    if (ssync_connector_load(cfg->connector.public_key, &pub, &e) != SSYNC_OK) {
        cli_check_add(l, CHECK_FAIL, name,
                      "export the connector's PFXEncryptionKey again with Export-IntunePublicKey",
                      "%s", e.msg);
        return;
    }
    /* a random block stands in for a PKCS#12 password */
    unsigned char block[32];
    ssync_buf ct = {0};
    ssync_padding pad = cfg->connector.padding;
    if (RAND_bytes(block, sizeof block) != 1)
        cli_check_add(l, CHECK_FAIL, name, NULL, "the random number generator failed");
    else if (ssync_connector_encrypt(pub, pad, block, sizeof block, &ct, &e) != SSYNC_OK)
        cli_check_add(l, CHECK_FAIL, name, "try [connector] padding = oaepSha256",
                      "RSA %d bits; test encryption with %s failed: %s", EVP_PKEY_get_bits(pub),
                      ssync_padding_name(pad), e.msg);
    else
        cli_check_add(l, CHECK_OK, name, NULL, "RSA %d bits; test encryption with %s works",
                      EVP_PKEY_get_bits(pub), ssync_padding_name(pad));
    OPENSSL_cleanse(block, sizeof block);
    ssync_buf_free(&ct);
    EVP_PKEY_free(pub);
}

/* Without [source] ca: the CA certificates the first blob carries, each with its SHA-256
 * fingerprint, for the administrator to compare with the CA's own (certutil -dump ca.cer) once,
 * and the command that writes them out. Nothing is trusted on this account. */
static void hint_blob_chain(struct check_list *l, const ssync_config *cfg)
{
    if (!cfg->source.path || cfg->source.type != SSYNC_SOURCE_BLOBS)
        return;
    struct dirent **names = NULL;
    int n = scandir(cfg->source.path, &names, NULL, alphasort);
    int shown = 0;
    for (int k = 0; k < n; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", cfg->source.path, names[k]->d_name);
        ssync_buf b = {0};
        ssync_blob blob = {0};
        if (!shown && names[k]->d_name[0] != '.' &&
            ssync_read_untrusted_file(path, SSYNC_MAX_INPUT_FILE, &b, NULL) == SSYNC_OK &&
            ssync_blob_decode(b.data, b.len, &blob, NULL) == SSYNC_OK) {
            for (int c = 0; c < sk_X509_num(blob.certs) && shown < 4; c++) {
                X509 *x = sk_X509_value(blob.certs, c);
                if (X509_check_ca(x) <= 0)
                    continue;
                unsigned char md[32];
                unsigned len = 0;
                char fp[3 * 32 + 1] = "", subject[256];
                X509_digest(x, EVP_sha256(), md, &len);
                for (unsigned i = 0; i < len; i++)
                    snprintf(fp + 3 * i, sizeof fp - 3 * i, i + 1 < len ? "%02X:" : "%02X", md[i]);
                X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof subject);
                cli_check_add(
                    l, CHECK_WARN, "ca (carried by the blobs)",
                    blob.encoding == SSYNC_BLOB_DER
                        ? "if it is your CA: openssl pkcs7 -inform DER -print_certs -in BLOB > "
                          "ca.pem"
                        : "if it is your CA: openssl pkcs7 -print_certs -in BLOB > ca.pem (DER: "
                          "-inform DER)",
                    "%s carries %s, SHA-256 %s: compare it with the CA's own (certutil -dump "
                    "ca.cer) before you trust it",
                    names[k]->d_name, subject, fp);
                shown++;
            }
        }
        ssync_blob_clear(&blob);
        ssync_buf_free(&b);
        free(names[k]);
    }
    free(names);
}

ssync_trust *check_ca(struct check_list *l, const ssync_config *cfg)
{
    ssync_trust *t = NULL;
    ssync_error e = {0};
    const ssync_cfg_list *ca = &cfg->source.ca;
    if (ca->n == 0) {
        cli_check_add(l, CHECK_FAIL, "ca",
                      "on the CA: certutil -ca.cert ca.cer (and its chain: certutil -ca.chain); "
                      "then [source] ca = ca.cer",
                      "[source] ca is not set: no certificate or CRL can be trusted");
        hint_blob_chain(l, cfg);
        return NULL;
    }
    if (ssync_trust_load(ca->v, ca->n, &t, &e) != SSYNC_OK) {
        cli_check_add(l, CHECK_FAIL, "ca", "on the CA: certutil -ca.cert ca.cer", "%s", e.msg);
        return NULL;
    }
    cli_check_add(l, CHECK_OK, "ca", NULL, "%zu trusted CA certificate%s", ssync_trust_count(t),
                  ssync_trust_count(t) == 1 ? "" : "s");
    return t;
}

void check_crls(struct check_list *l, const ssync_config *cfg, const ssync_trust *trust)
{
    check_crl_list(l, "", &cfg->source, trust);
}

void check_crl_list(struct check_list *l, const char *prefix, const ssync_source_cfg *src,
                    const ssync_trust *trust)
{
    for (size_t i = 0; i < src->crl.n; i++) {
        const char *path = src->crl.v[i];
        char name[96];
        snprintf(name, sizeof name, "%scrl %s", prefix, ssync_basename(path));
        X509_CRL *crl = NULL;
        ssync_error e = {0};
        if (ssync_crl_load(path, &crl, &e) != SSYNC_OK) {
            cli_check_add(l, CHECK_FAIL, name, "publish the CA's CRL to this path (certutil -CRL)",
                          "%s", e.msg);
            continue;
        }
        char issuer[256] = "?", next[32];
        X509_NAME_oneline(X509_CRL_get_issuer(crl), issuer, sizeof issuer);
        if (ssync_trust_verify_crl(trust, crl, &e) != SSYNC_OK) {
            cli_check_add(l, CHECK_FAIL, name,
                          "copy the CRL the CA published (certutil -CRL); it is ignored", "%s",
                          e.msg);
            X509_CRL_free(crl);
            continue;
        }
        const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(crl);
        cli_check_date(nu, next);
        int revoked = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));
        if (revoked < 0)
            revoked = 0;
        if (nu && X509_cmp_time(nu, NULL) < 0)
            cli_check_add(l, CHECK_WARN, name,
                          "copy a fresh CRL from the CA: revocations since then are unknown",
                          "issuer %s, %d revoked; OUT OF DATE: nextUpdate %s has passed", issuer,
                          revoked, next);
        else
            cli_check_add(l, CHECK_OK, name, NULL, "issuer %s, %d revoked, next update %s", issuer,
                          revoked, nu ? next : "none");
        X509_CRL_free(crl);
    }
}

void check_source(struct check_list *l, const ssync_config *cfg, const ssync_kra_set *kras,
                  const ssync_trust *trust)
{
    check_one_source(l, "", &cfg->source, kras, trust);
}

void check_one_source(struct check_list *l, const char *prefix, const ssync_source_cfg *cfg,
                      const ssync_kra_set *kras, const ssync_trust *trust)
{
    char source[96], name[96];
    snprintf(source, sizeof source, "%ssource", prefix);
    snprintf(name, sizeof name, "%ssample recovery", prefix);
    if (!cfg->path) {
        cli_check_add(l, CHECK_FAIL, source, NULL, "[source] path is not set");
        return;
    }
    ssync_error e = {0};
    ssync_source_env env = {.kras = kras, .trust = trust};
    ssync_source *src = NULL;
    ssync_source_check_result res;
    if (ssync_source_open(cfg, &env, &src, &e) != SSYNC_OK ||
        ssync_source_check(src, &res, &e) != SSYNC_OK) {
        cli_check_add(l, CHECK_FAIL, source, ssync_source_hint(cfg->type), "%s", e.msg);
        ssync_source_close(src);
        return;
    }
    ssync_source_close(src);
    cli_check_add(l, res.count ? CHECK_OK : CHECK_WARN, source, res.count ? NULL : res.empty_hint,
                  "%s", res.summary);
    /* the sample recovery: proof that the KRA keys are the ones the CA archived to */
    if (res.sample == SSYNC_SAMPLE_SKIPPED)
        cli_check_add(l, CHECK_SKIP, name, NULL, "%s", res.sample_text);
    else if (res.sample == SSYNC_SAMPLE_OK)
        cli_check_add(l, CHECK_OK, name, NULL, "%s", res.sample_text);
    else if (res.sample == SSYNC_SAMPLE_FAILED)
        cli_check_add(l, CHECK_FAIL, name,
                      res.sample_code == SSYNC_ERR_KRA_NOT_HELD
                          ? "add the KRA key the blob names to [kra] key"
                          : NULL,
                      "%s", res.sample_text);
}

void check_state(struct check_list *l, const ssync_config *cfg)
{
    static const char *const name = "state";
    const char *path = cfg->state.path;
    if (!path) {
        cli_check_add(l, CHECK_FAIL, name, "set [state] path, e.g. /var/lib/smimesync/state.db",
                      "[state] path is not set: sync and remove need the journal");
        return;
    }
    char *copy = strdup(path);
    const char *dir = copy ? dirname(copy) : ".";
    char reports[4096];
    struct stat st;
    ssync_error e = {0};
    /* the journal decides who receives a key: nobody else may write it (as sync refuses it) */
    int untrusted =
        ssync_check_trusted_parent(path, "journal directory", &e) == SSYNC_ERR_FILE_PERMS;
    if (!untrusted && lstat(path, &st) == 0)
        untrusted = S_ISLNK(st.st_mode)
                        ? ssync_fail(&e, SSYNC_ERR_FILE_PERMS, "journal %s: a symbolic link",
                                     path) != SSYNC_OK
                        : ssync_check_trusted_path(path, "journal", &e) != SSYNC_OK;
    if (!untrusted && cli_report_dir(reports, sizeof reports, path) == 0 &&
        access(reports, F_OK) == 0)
        untrusted = ssync_check_trusted_path(reports, "report directory", &e) != SSYNC_OK;
    /* SQLite writes its own journal files beside the database: the directory must be
     * writable too */
    if (untrusted)
        cli_check_add(l, CHECK_FAIL, name,
                      "make it belong to this user (or root), not writable by group or others",
                      "%s", e.msg);
    else if (access(path, F_OK) == 0 && access(path, R_OK | W_OK) != 0)
        cli_check_add(l, CHECK_FAIL, name, "fix the owner or mode of the file", "%s: %s", path,
                      strerror(errno));
    else if (access(dir, W_OK | X_OK) != 0)
        cli_check_add(l, CHECK_FAIL, name, "create the directory, writable by this user",
                      "%s: directory %s: %s", path, dir, strerror(errno));
    else
        cli_check_add(l, CHECK_OK, name, NULL, "%s %s", path,
                      access(path, F_OK) == 0 ? "is writable" : "will be created");
    free(copy);
}
