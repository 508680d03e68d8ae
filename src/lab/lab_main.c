/* smimesync-lab: options, output directory, the run, lab.json and the summary. */
#include "lab.h"

#include "common/clock.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LAB_MAX_USERS 1000000u
#define LAB_MAX_POOL 4096u
#define LAB_MAX_THREADS 256u
#define LAB_MAX_SEED 9007199254740991ULL /* 2^53 - 1: exact in every JSON reader */

static const char usage[] =
    "usage: smimesync-lab --out DIR [options]\n"
    "\n"
    "Emulates an AD CS CA that issues S/MIME encryption certificates with key archival and writes\n"
    "a lab into DIR: the CA, KRAs, recovery blobs as certutil -getkey returns them, a CRL,\n"
    "users.csv, manifest.jsonl, the Intune connector key and the emulator's TLS/app material.\n"
    "\n"
    "  --out DIR            output directory (created; an existing one must be empty or hold a\n"
    "                       previous lab, i.e. a lab.json, which is then overwritten)\n"
    "  --users N            users in users.csv, each with a certificate (default 20)\n"
    "  --unknown-users N    extra certificate holders that are not in users.csv (default 0)\n"
    "  --kras K             key recovery agents, every key is archived to all (default 1)\n"
    "  --cipher C           archived key content cipher: 3des (default) or aes256\n"
    "  --renewals N         holders with 2-3 generations of certificates (default ~10%)\n"
    "  --revoked N          revoked certificates, listed in ca.crl (default ~5%)\n"
    "  --expired N          holders whose current certificate has lapsed (default ~5%)\n"
    "  --key-pool N         distinct RSA-2048 user keys, reused across certificates (default 16)\n"
    "  --seed S             seed for names, ids, serials, dates and choices (default random)\n"
    "  --threads T          worker threads (default: number of CPUs)\n"
    "  --groups             also write groups.csv: a group (id in lab.json) holding most users,\n"
    "                       some through a nested group; manifest.jsonl gets inGroup\n"
    "  --pfx-dir DIR        also write the certificates as a pfx source into DIR: PKCS#12 files,\n"
    "                       one 0600 password file each, manifest.csv\n"
    "  --edb FILE           also write the CA database (Requests, Certificates with the\n"
    "                       archived keys) as an ESE file; --edb-opts LIST: fixture variants\n"
    "                       (from=DIR: no --out, the database of DIR's getkey blobs alone)\n"
    "  --ca-name NAME       the issuing CA's common name (default \"Lab Issuing CA\"): a second\n"
    "                       lab with another name is a second CA of the same estate\n"
    "  --help               this text\n"
    "\n"
    "Exit status: 0 done, 1 failure while generating, 2 bad command line.\n";

static int parse_uint(const char *flag, const char *s, unsigned long long min,
                      unsigned long long max, unsigned long long *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = (s && *s >= '0' && *s <= '9') ? strtoull(s, &end, 10) : 0;
    if (!s || !end || *end || errno || v < min || v > max) {
        lab_err("%s: expected a whole number from %llu to %llu, got '%s'", flag, min, max,
                s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

static unsigned percent(unsigned n, unsigned pct)
{
    return (unsigned)(((unsigned long long)n * pct + 50) / 100);
}

/* Returns 0 to run, 1 after --help, -1 on a usage error (reported). */
static int parse_args(int argc, char **argv, lab_opts *o)
{
    memset(o, 0, sizeof *o);
    o->users = 20;
    o->kras = 1;
    o->key_pool = 16;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cpus > 0 ? (unsigned)(cpus < (long)LAB_MAX_THREADS ? cpus : LAB_MAX_THREADS) : 1;
    int have_renewals = 0, have_revoked = 0, have_expired = 0, have_seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strcmp(a, "--groups") == 0) { /* the one option without a value */
            o->groups = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            lab_err("unexpected argument '%s' (see --help)", a);
            return -1;
        }
        /* --flag VALUE or --flag=VALUE */
        char flag[32];
        const char *eq = strchr(a, '='), *val;
        size_t fl = eq ? (size_t)(eq - a) : strlen(a);
        if (fl >= sizeof flag) {
            lab_err("unknown option '%s' (see --help)", a);
            return -1;
        }
        memcpy(flag, a, fl);
        flag[fl] = '\0';
        static const char *const known[] = {
            "--out",     "--users",   "--kras",          "--cipher",   "--renewals",
            "--revoked", "--expired", "--unknown-users", "--key-pool", "--seed",
            "--threads", "--pfx-dir", "--edb",           "--edb-opts", "--ca-name"};
        int is_known = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            is_known |= strcmp(flag, known[k]) == 0;
        if (!is_known) {
            lab_err("unknown option '%s' (see --help)", flag);
            return -1;
        }
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            lab_err("%s needs a value (see --help)", flag);
            return -1;
        }
        unsigned long long v = 0;
        if (strcmp(flag, "--out") == 0) {
            if (!*val) {
                lab_err("--out: empty directory name");
                return -1;
            }
            o->out = val;
        } else if (strcmp(flag, "--pfx-dir") == 0) {
            if (!*val) {
                lab_err("--pfx-dir: empty directory name");
                return -1;
            }
            o->pfx_dir = val;
        } else if (strcmp(flag, "--ca-name") == 0) {
            /* 1 to 64 printable ASCII characters: a common name that a file, a report and a
             * terminal show as it is */
            size_t n = strlen(val);
            for (size_t k = 0; k < n; k++)
                if (val[k] < 0x20 || val[k] > 0x7e)
                    n = 0;
            if (n == 0 || n > 64) {
                lab_err("--ca-name: expected 1 to 64 printable ASCII characters");
                return -1;
            }
            o->ca_name = val;
        } else if (strcmp(flag, "--edb") == 0 || strcmp(flag, "--edb-opts") == 0) {
            if (flag[5] == '\0' ? !*val : lab_edb_check_opts(val) != 0) {
                lab_err("%s: bad value '%s'", flag, val);
                return -1;
            }
            *(flag[5] == '\0' ? &o->edb : &o->edb_opts) = val;
        } else if (strcmp(flag, "--cipher") == 0) {
            if (strcmp(val, "3des") == 0)
                o->aes256 = 0;
            else if (strcmp(val, "aes256") == 0)
                o->aes256 = 1;
            else {
                lab_err("--cipher: expected 3des or aes256, got '%s'", val);
                return -1;
            }
        } else if (strcmp(flag, "--seed") == 0) {
            if (parse_uint(flag, val, 0, LAB_MAX_SEED, &v))
                return -1;
            o->seed = v;
            have_seed = 1;
        } else {
            unsigned long long min = 0, max = LAB_MAX_USERS;
            if (!strcmp(flag, "--users") || !strcmp(flag, "--kras") ||
                !strcmp(flag, "--key-pool") || !strcmp(flag, "--threads"))
                min = 1;
            if (!strcmp(flag, "--kras"))
                max = LAB_MAX_KRAS;
            else if (!strcmp(flag, "--key-pool"))
                max = LAB_MAX_POOL;
            else if (!strcmp(flag, "--threads"))
                max = LAB_MAX_THREADS;
            if (parse_uint(flag, val, min, max, &v))
                return -1;
            unsigned u = (unsigned)v;
            if (!strcmp(flag, "--users"))
                o->users = u;
            else if (!strcmp(flag, "--kras"))
                o->kras = u;
            else if (!strcmp(flag, "--key-pool"))
                o->key_pool = u;
            else if (!strcmp(flag, "--threads"))
                o->threads = u;
            else if (!strcmp(flag, "--unknown-users"))
                o->unknown = u;
            else if (!strcmp(flag, "--renewals"))
                o->renewals = u, have_renewals = 1;
            else if (!strcmp(flag, "--revoked"))
                o->revoked = u, have_revoked = 1;
            else
                o->expired = u, have_expired = 1;
        }
    }
    o->from_blobs = o->edb && o->edb_opts && lab_edb_from_opt(o->edb_opts);
    if (o->from_blobs && !o->out)
        return 0;
    if (!o->out) {
        lab_err("--out DIR is required (see --help)");
        return -1;
    }
    unsigned holders = o->users + o->unknown;
    if (holders > LAB_MAX_USERS) {
        lab_err("--users plus --unknown-users: at most %u", LAB_MAX_USERS);
        return -1;
    }
    if (!have_renewals)
        o->renewals = percent(holders, 10);
    if (!have_revoked)
        o->revoked = percent(holders, 5);
    if (!have_expired)
        o->expired = percent(holders, 5);
    if (o->renewals > holders || o->expired > holders) {
        lab_err("--renewals and --expired: at most the number of users (%u)", holders);
        return -1;
    }
    if (!have_seed) {
        unsigned char b[8];
        if (RAND_bytes(b, sizeof b) != 1) {
            lab_err("random number generator failed");
            return -1;
        }
        for (int k = 0; k < 8; k++)
            o->seed = (o->seed << 8) | b[k];
        o->seed &= LAB_MAX_SEED;
    }
    return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
    char *p = strdup(path);
    if (!p)
        return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(p, mode) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

/* Remove what a previous lab left that this run may not overwrite: recovery blobs and the files
 * of KRAs beyond --kras. */
static void clean_previous(const lab *l)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/blobs", l->opt.out);
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char f[4096 + 256];
            snprintf(f, sizeof f, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(f, &st) == 0 && S_ISREG(st.st_mode))
                unlink(f);
        }
        closedir(d);
    }
    /* temporary files of an atomic write that a killed run could not remove */
    static const char *const dirs[] = {"", "/tls"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s%s", l->opt.out, dirs[i]);
        if (!(d = opendir(path)))
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strstr(e->d_name, ".tmp."))
                continue;
            char f[4096 + 256];
            snprintf(f, sizeof f, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(f, &st) == 0 && S_ISREG(st.st_mode))
                unlink(f);
        }
        closedir(d);
    }
    static const char *const kind[] = {"pem", "key", "p12"};
    for (unsigned k = l->opt.kras + 1; k <= LAB_MAX_KRAS; k++)
        for (int j = 0; j < 3; j++) {
            snprintf(path, sizeof path, "%s/kra%u.%s", l->opt.out, k, kind[j]);
            unlink(path);
        }
}

static int prepare_out(lab *l)
{
    const char *out = l->opt.out;
    struct stat st;
    if (stat(out, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            lab_err("%s: exists and is not a directory", out);
            return -1;
        }
        DIR *d = opendir(out);
        if (!d) {
            lab_err("%s: %s", out, strerror(errno));
            return -1;
        }
        int empty = 1, has_lab = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            empty = 0;
            if (!strcmp(e->d_name, "lab.json"))
                has_lab = 1;
        }
        closedir(d);
        if (!empty && !has_lab) {
            lab_err("%s: directory is not empty and holds no previous lab (lab.json); refusing to "
                    "write into it",
                    out);
            return -1;
        }
        if (has_lab)
            clean_previous(l);
    } else if (errno != ENOENT || mkdir_p(out, 0755) != 0) {
        lab_err("%s: cannot create directory: %s", out, strerror(errno));
        return -1;
    }
    char sub[4096];
    static const char *const dirs[] = {"blobs", "tls"};
    for (int i = 0; i < 2; i++) {
        snprintf(sub, sizeof sub, "%s/%s", out, dirs[i]);
        if (mkdir(sub, 0755) != 0 && errno != EEXIST) {
            lab_err("%s: cannot create directory: %s", sub, strerror(errno));
            return -1;
        }
    }
    /* mark the directory as a lab at once, so an interrupted run can simply be repeated */
    return lab_write_str(l, "lab.json", "{\"generator\": \"smimesync-lab\", \"complete\": false}\n",
                         0644);
}

static int issue_one(void *arg, size_t i)
{
    const lab *l = arg;
    lab_cert *c = &l->cert[i];
    X509 *x = lab_issue_user_cert(l, c);
    if (!x)
        return -1;
    int rc = -1;
    unsigned char md[EVP_MAX_MD_SIZE], *der = NULL, *text = NULL;
    unsigned mdlen = 0;
    size_t derlen = 0, textlen = 0;
    if (!X509_digest(x, EVP_sha1(), md, &mdlen) || mdlen != 20) {
        lab_err_ssl("%s: cannot hash the certificate", c->file);
        goto done;
    }
    static const char hex[] = "0123456789abcdef";
    for (unsigned k = 0; k < 20; k++) {
        c->thumbprint[2 * k] = hex[md[k] >> 4];
        c->thumbprint[2 * k + 1] = hex[md[k] & 15];
    }
    c->thumbprint[40] = '\0';
    /* the serial never starts with a zero byte or the sign bit, so this is also how OpenSSL and
     * certutil print it */
    lab_hex_upper(c->serial, sizeof c->serial, c->serial_hex);
    if (lab_recovery_blob(l, x, l->pool_blob[c->key], l->pool_blob_len[c->key], &der, &derlen) ||
        lab_encode(c->enc, der, derlen, &text, &textlen) ||
        lab_write(l, c->file, text, textlen, 0644) || lab_pfx_write_one(l, c, x))
        goto done;
    rc = 0;
done:
    free(text);
    OPENSSL_free(der);
    X509_free(x);
    return rc;
}

static int write_lab_json(const lab *l)
{
    char created[21];
    lab_iso8601(l->now, created);
    const lab_opts *o = &l->opt;
    json_t *kras = json_array();
    for (unsigned k = 0; kras && k < o->kras; k++) {
        char pem[32], key[32], p12[32], serial[2 * LAB_KRA_SERIAL_LEN + 1];
        snprintf(pem, sizeof pem, "kra%u.pem", k + 1);
        snprintf(key, sizeof key, "kra%u.key", k + 1);
        if (k == 0)
            snprintf(p12, sizeof p12, "kra.p12");
        else
            snprintf(p12, sizeof p12, "kra%u.p12", k + 1);
        lab_hex_upper(l->kra_serial[k], LAB_KRA_SERIAL_LEN, serial);
        json_array_append_new(kras, json_pack("{s:s, s:s, s:s, s:s}", "cert", pem, "key", key,
                                              "p12", p12, "serial", serial));
    }
    json_t *j = json_pack(
        "{s:s, s:s, s:b, s:s, s:I, s:s, s:s,"
        " s:{s:i, s:i, s:i, s:s, s:i, s:i, s:i, s:i, s:i},"
        " s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i},"
        " s:{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
        " s:s, s:s, s:s}}",
        "generator", LAB_PROG, "version", SSYNC_VERSION, "complete", 1, "createdAt", created,
        "seed", (json_int_t)o->seed, "tenantId", l->tenant_id, "clientId", l->client_id, "options",
        "users", (int)o->users, "unknownUsers", (int)o->unknown, "kras", (int)o->kras, "cipher",
        o->aes256 ? "aes256" : "3des", "renewals", (int)o->renewals, "revoked", (int)o->revoked,
        "expired", (int)o->expired, "keyPool", (int)o->key_pool, "threads", (int)o->threads,
        "counts", "users", (int)o->users, "unknownUsers", (int)o->unknown, "holders", (int)l->nuser,
        "certificates", (int)l->ncert, "superseded", (int)l->superseded, "revoked", (int)l->revoked,
        "expired", (int)l->expired, "mailMismatches", (int)l->mismatches, "kras", (int)o->kras,
        "files", "ca", "ca.pem", "caKey", "ca.key", "crl", "ca.crl", "crlDer", "ca.crl.der", "kras",
        kras, "kraPassword", "kra.pass", "users", "users.csv", "manifest", "manifest.jsonl",
        "blobs", "blobs", "connectorKey", "connector.key", "connectorPublicPem",
        "connector-public.pem", "connectorPublicRsa1Blob", "connector-public.rsa1blob", "tlsCa",
        "tls/ca.pem", "tlsCaKey", "tls/ca.key", "tlsServer", "tls/server.pem", "tlsServerKey",
        "tls/server.key", "appCert", "app.pem", "appKey", "app.key", "clientSecret",
        "client-secret", "tenantId", "tenant-id", "clientId", "client-id");
    /* optional parts only when asked for, so the default lab.json stays as it was */
    if (j && o->groups) {
        json_object_set_new(j, "groupId", json_string(l->group_id));
        json_object_set_new(json_object_get(j, "files"), "groups", json_string("groups.csv"));
        json_object_set_new(json_object_get(j, "files"), "groupId", json_string("group-id"));
    }
    if (j && o->pfx_dir)
        json_object_set_new(json_object_get(j, "files"), "pfxManifest",
                            json_pack("s++", o->pfx_dir, "/", "manifest.csv"));
    char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!s) {
        lab_err("cannot build lab.json");
        return -1;
    }
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        lab_err("out of memory");
        return -1;
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    int rc = lab_write_str(l, "lab.json", t, 0644);
    free(t);
    return rc;
}

static void lab_free(lab *l)
{
    for (unsigned i = 0; l->pool && i < l->opt.key_pool; i++) {
        EVP_PKEY_free(l->pool[i]);
        if (l->pool_blob && l->pool_blob[i])
            OPENSSL_secure_clear_free(l->pool_blob[i], l->pool_blob_len[i]);
        if (l->pool_pub)
            OPENSSL_free(l->pool_pub[i]);
    }
    free(l->pool_pub);
    free(l->pool_pub_len);
    free(l->pool);
    free(l->pool_blob);
    free(l->pool_blob_len);
    sk_X509_free(l->kra_stack);
    for (unsigned k = 0; k < LAB_MAX_KRAS; k++) {
        X509_free(l->kra[k]);
        EVP_PKEY_free(l->kra_key[k]);
    }
    X509_free(l->ca);
    EVP_PKEY_free(l->ca_key);
    EVP_PKEY_free(l->connector_key);
    EVP_PKEY_free(l->tls_ca_key);
    EVP_PKEY_free(l->server_key);
    EVP_PKEY_free(l->app_key);
    free(l->cert);
    free(l->user);
    for (size_t i = 0; i < 2; i++)
        if (l->providers[i])
            OSSL_PROVIDER_unload(l->providers[i]);
}

static void summary(const lab *l, double secs)
{
    const lab_opts *o = &l->opt;
    unsigned renewed = 0;
    for (unsigned i = 0; i < l->nuser; i++)
        renewed += l->user[i].ncerts > 1;
    printf("%s: wrote %s in %.1f s (seed %llu, %u threads)\n", LAB_PROG, o->out, secs,
           (unsigned long long)o->seed, o->threads);
    printf("  CA            ca.pem, ca.key (%s); CRL ca.crl, ca.crl.der (%u revoked)\n",
           o->ca_name ? o->ca_name : "Lab Issuing CA", l->revoked);
    if (o->kras > 1)
        printf("  KRAs          %u: kra1.pem/.key .. kra%u.pem/.key; kra.p12 (KRA 1) .. kra%u.p12; "
               "password in kra.pass\n",
               o->kras, o->kras, o->kras);
    else
        printf("  KRAs          1: kra1.pem, kra1.key; kra.p12, password in kra.pass\n");
    printf("  users         %u in users.csv (%u with a different mail), %u unknown to Entra ID\n",
           o->users, l->mismatches, o->unknown);
    printf("  certificates  %u (%u users renewed, %u superseded, %u revoked, %u expired)\n",
           l->ncert, renewed, l->superseded, l->revoked, l->expired);
    printf("  blobs         blobs/ (DER, base64, base64 with header in turn), archived with %s, "
           "%u user keys\n",
           o->aes256 ? "AES-256-CBC" : "3DES-CBC", o->key_pool);
    printf("  answer key    manifest.jsonl, lab.json\n");
    if (o->groups) {
        unsigned members = 0;
        for (unsigned i = 0; i < l->nuser; i++)
            members += l->user[i].in_group != 0;
        printf("  groups        groups.csv: group %s, %u members (some nested)\n", l->group_id,
               members);
    }
    if (o->pfx_dir)
        printf("  pfx source    %s: %u PKCS#12 files, password files, manifest.csv\n", o->pfx_dir,
               l->ncert);
    printf("  connector     connector.key, connector-public.pem, connector-public.rsa1blob\n");
    printf("  emulator      tls/ca.pem, tls/server.pem, app.pem, client-secret, tenant-id, "
           "client-id\n");
}

int main(int argc, char **argv)
{
    lab l;
    memset(&l, 0, sizeof l);
    int pr = parse_args(argc, argv, &l.opt);
    if (pr != 0)
        return pr > 0 ? LAB_EXIT_OK : LAB_EXIT_USAGE;
    if (l.opt.from_blobs) /* --edb-opts from=DIR: no lab, only the database of DIR's blobs */
        return lab_edb_from_blobs(l.opt.edb, l.opt.edb_opts) == 0 ? LAB_EXIT_OK : LAB_EXIT_FAIL;
    double t0 = ssync_mono();
    l.now = time(NULL);
    l.cipher = l.opt.aes256 ? EVP_aes_256_cbc() : EVP_des_ede3_cbc();
    lab_rng_seed(&l.rng, l.opt.seed);

    int ok = prepare_out(&l) == 0 && lab_plan(&l) == 0 && lab_plan_groups(&l) == 0 &&
             (!l.opt.pfx_dir || lab_pfx_prepare(&l) == 0) && lab_generate_keys(&l) == 0 &&
             lab_make_ca(&l) == 0 && lab_make_kras(&l) == 0 &&
             lab_write_cert_pem(&l, "ca.pem", l.ca) == 0 &&
             lab_write_key_pem(&l, "ca.key", l.ca_key) == 0 && lab_write_kra_files(&l) == 0 &&
             lab_parallel(l.opt.threads, l.ncert, issue_one, &l) == 0 && lab_write_crl(&l) == 0 &&
             lab_write_users_csv(&l) == 0 && lab_write_manifest(&l) == 0 &&
             lab_write_groups_csv(&l) == 0 && lab_pfx_write_manifest(&l) == 0 &&
             lab_write_edb(&l) == 0 && lab_write_connector(&l) == 0 &&
             lab_write_emulator_files(&l) == 0 && write_lab_json(&l) == 0;
    if (ok)
        summary(&l, ssync_mono() - t0);
    lab_free(&l);
    return ok ? LAB_EXIT_OK : LAB_EXIT_FAIL;
}
