/* smimesync-lab --pfx-dir: the same certificates as PKCS#12 files, as a CA that generates keys
 * centrally would hand them over. Each file has its own random password in a 0600 file beside
 * it; manifest.csv ("file,password_file,userPrincipalName") names both, relative to itself.
 * The encryption rotates through what such files use in practice: 3DES key and certificate bags
 * (certutil), OpenSSL 3's AES-256/PBKDF2 default, and an old Windows export with RC2-40
 * certificate bags (needs OpenSSL's legacy provider, loaded here for that). */
#include "lab.h"

#include "common/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LAB_PFX_PASSWORD_LEN 24

void lab_pfx_stem(const lab_cert *c, char out[32])
{
    snprintf(out, 32, "u%05u-g%u", c->user + 1, c->generation);
}

static int write_in(const lab *l, const char *name, const void *data, size_t len, unsigned mode)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", l->opt.pfx_dir, name);
    ssync_error err = {0};
    if (ssync_write_file_atomic(path, data, len, mode, &err) != SSYNC_OK) {
        lab_err("%s", err.msg);
        return -1;
    }
    return 0;
}

/* Creates the directory (0700: it holds passwords), or empties one a previous run wrote (it has
 * a manifest.csv); anything else in the way is refused. */
int lab_pfx_prepare(lab *l)
{
    const char *dir = l->opt.pfx_dir;
    if (mkdir(dir, 0700) == 0)
        goto providers;
    if (errno != EEXIST) {
        lab_err("--pfx-dir %s: cannot create: %s", dir, strerror(errno));
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        lab_err("--pfx-dir %s: %s", dir, strerror(errno));
        return -1;
    }
    char path[4096 + 256];
    snprintf(path, sizeof path, "%s/manifest.csv", dir);
    struct stat st;
    int previous = stat(path, &st) == 0;
    struct dirent *e;
    int refused = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!previous) {
            refused = 1;
            break;
        }
        size_t n = strlen(e->d_name);
        int ours = !strcmp(e->d_name, "manifest.csv") ||
                   (n > 4 && !strcmp(e->d_name + n - 4, ".p12")) ||
                   (n > 5 && !strcmp(e->d_name + n - 5, ".pass")) || strstr(e->d_name, ".tmp.");
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (ours && lstat(path, &st) == 0 && S_ISREG(st.st_mode))
            unlink(path);
    }
    closedir(d);
    if (refused) {
        lab_err("--pfx-dir %s: directory is not empty and holds no previous pfx source "
                "(manifest.csv); refusing to write into it",
                dir);
        return -1;
    }
providers:
    /* RC2-40 lives in the legacy provider; loading one provider explicitly stops the automatic
     * loading of "default", so load both (unloaded by lab_free). */
    if (!(l->providers[0] = OSSL_PROVIDER_load(NULL, "default")) ||
        !(l->providers[1] = OSSL_PROVIDER_load(NULL, "legacy"))) {
        lab_err_ssl("--pfx-dir: OpenSSL's legacy provider is needed for RC2-40 files");
        return -1;
    }
    return 0;
}

static int random_password(char *out, size_t len)
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.";
    unsigned char r[LAB_PFX_PASSWORD_LEN];
    if (len > sizeof r || RAND_bytes(r, (int)len) != 1)
        return -1;
    for (size_t i = 0; i < len; i++)
        out[i] = alphabet[r[i] % (sizeof alphabet - 1)]; /* 60 symbols: bias irrelevant here */
    out[len] = '\0';
    OPENSSL_cleanse(r, sizeof r);
    return 0;
}

int lab_pfx_write_one(const lab *l, const lab_cert *c, X509 *cert)
{
    if (!l->opt.pfx_dir)
        return 0;
    char stem[32], name[48], pw[LAB_PFX_PASSWORD_LEN + 2];
    lab_pfx_stem(c, stem);
    if (random_password(pw, LAB_PFX_PASSWORD_LEN)) {
        lab_err_ssl("%s: random number generator failed", stem);
        return -1;
    }
    const lab_user *u = &l->user[c->user];
    unsigned kind = (unsigned)(c - l->cert) % 3;
    int nid_key = kind == 1 ? NID_aes_256_cbc : NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
    int nid_cert = kind == 0   ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC
                   : kind == 1 ? NID_aes_256_cbc
                               : NID_pbe_WithSHA1And40BitRC2_CBC;
    /* the issued certificate carries its key only encoded (lab_cert_set_rsa_pub): a decoded
     * copy lets PKCS12_create match it against the key */
    unsigned char *cder = NULL;
    int cn = i2d_X509(cert, &cder);
    const unsigned char *q = cder;
    X509 *full = cn > 0 ? d2i_X509(NULL, &q, cn) : NULL;
    OPENSSL_free(cder);
    PKCS12 *p12 = full ? PKCS12_create(pw, u->display, l->pool[c->key], full, NULL, nid_key,
                                       nid_cert, 2048, 2048, 0)
                       : NULL;
    X509_free(full);
    unsigned char *der = NULL;
    int n = p12 ? i2d_PKCS12(p12, &der) : -1;
    PKCS12_free(p12);
    int rc = -1;
    if (n <= 0) {
        lab_err_ssl("%s: cannot build the PKCS#12", stem);
        goto done;
    }
    snprintf(name, sizeof name, "%s.p12", stem);
    if (write_in(l, name, der, (size_t)n, 0644))
        goto done;
    snprintf(name, sizeof name, "%s.pass", stem);
    size_t pl = strlen(pw);
    pw[pl] = '\n';
    rc = write_in(l, name, pw, pl + 1, 0600);
done:
    OPENSSL_free(der);
    OPENSSL_cleanse(pw, sizeof pw);
    return rc;
}

int lab_pfx_write_manifest(const lab *l)
{
    if (!l->opt.pfx_dir)
        return 0;
    size_t cap = 64 + (size_t)l->ncert * 64, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        lab_err("out of memory");
        return -1;
    }
    len += (size_t)snprintf(buf, cap, "file,password_file,userPrincipalName\n");
    for (unsigned i = 0; i < l->ncert; i++) {
        char stem[32];
        lab_pfx_stem(&l->cert[i], stem);
        /* the user comes from the certificate; the column is there for overrides */
        len += (size_t)snprintf(buf + len, cap - len, "%s.p12,%s.pass,\n", stem, stem);
    }
    int rc = write_in(l, "manifest.csv", buf, len, 0644);
    free(buf);
    return rc;
}
