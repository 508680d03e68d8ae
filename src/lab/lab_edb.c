/* smimesync-lab --edb FILE: the lab CA's database as AD CS keeps it (CertLog\<CA>.edb):
 * Requests (RequestID, Disposition, revocation, requester, RawArchivedKey as a separated long
 * value) and Certificates (RequestID, dates, serial, hash, template, UPN, RawCertificate).
 * Each row is read back from the recovery blob the lab wrote, so the database holds exactly the
 * certificates and archived keys of the blobs.
 *
 * --edb-opts takes a comma-separated list of fixture variants:
 *   extra=N        N more requests without an archived key (machine certificates, a few
 *                  denied requests without a certificate), spread between the lab's
 *   filetime       date columns hold FILETIME integers instead of OLE dates
 *   partial=FILE   also write FILE without the last request (for incremental runs)
 *   intrinsic      RawArchivedKey and RawCertificate kept in the record (intrinsic long
 *                  values, as ESE stores values under its separation threshold): the
 *                  variant libesedb 20181229 can read back (docs/formats.md)
 *   compress       RawArchivedKey stored LZXPRESS-compressed in the record (ESE compresses
 *                  only values it keeps in the record; a separated value is never flagged so)
 *   compress-bad   the same with an unknown compression method
 *   dirty          the header says dirty shutdown
 *   page4k, page16k, page32k
 *                  4, 16 or 32 KiB pages (default 8 KiB); 16 and 32 KiB pages have the
 *                  extended page header and a flag byte before every tagged value
 *   lvkey8         8-byte long-value ids (in records and long-value keys)
 *   lvcompress     separated long values LZXPRESS-compressed chunk by chunk (keys stay the
 *                  uncompressed offsets, the record's flags do not say so: as real ESE)
 *   hdrext         header fields past byte 668 (as Windows 11 writes them)
 *   from=DIR       no lab: the database of the certutil -getkey blobs in DIR alone, one issued
 *                  request each (lab_edb_from_blobs; the forgery tests put forged blobs there) */
#include "ese.h"
#include "ese_xpress.h"
#include "lab.h"

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <dirent.h>
#include <openssl/bn.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* the lab's S/MIME template (lab_ca.c): AD CS stores the OID of a v2 template */
#define LAB_TEMPLATE_OID                                                                           \
    "1.3.6.1.4.1.311.21.8.6301991.2938543.412570.1725121.735828.231.4136173.9322655"
#define DISP_ISSUED 20
#define DISP_REVOKED 21
#define DISP_DENIED 31

typedef struct edb_opts {
    unsigned long extra;
    int filetime, intrinsic, compress, compress_bad, dirty, lvkey8, lvcompress, hdrext;
    uint32_t page_size; /* 0: 8 KiB */
    char partial[4096];
    char from[4096];
} edb_opts;

static int parse_opts(const char *s, edb_opts *o)
{
    memset(o, 0, sizeof *o);
    if (!s || !*s)
        return 0;
    char *dup = strdup(s), *save = NULL;
    if (!dup)
        return -1;
    int rc = 0;
    for (char *t = strtok_r(dup, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        if (!strncmp(t, "extra=", 6)) {
            char *end = NULL;
            o->extra = strtoul(t + 6, &end, 10);
            if (!*(t + 6) || *end || o->extra > 1000000)
                rc = -1;
        } else if (!strncmp(t, "partial=", 8) && t[8]) {
            snprintf(o->partial, sizeof o->partial, "%s", t + 8);
        } else if (!strncmp(t, "from=", 5) && t[5]) {
            snprintf(o->from, sizeof o->from, "%s", t + 5);
        } else if (!strcmp(t, "filetime")) {
            o->filetime = 1;
        } else if (!strcmp(t, "intrinsic")) {
            o->intrinsic = 1;
        } else if (!strcmp(t, "compress")) {
            o->compress = 1;
        } else if (!strcmp(t, "compress-bad")) {
            o->compress_bad = 1;
        } else if (!strcmp(t, "dirty")) {
            o->dirty = 1;
        } else if (!strcmp(t, "page4k")) {
            o->page_size = 4096;
        } else if (!strcmp(t, "page16k")) {
            o->page_size = 16384;
        } else if (!strcmp(t, "page32k")) {
            o->page_size = 32768;
        } else if (!strcmp(t, "lvkey8")) {
            o->lvkey8 = 1;
        } else if (!strcmp(t, "lvcompress")) {
            o->lvcompress = 1;
        } else if (!strcmp(t, "hdrext")) {
            o->hdrext = 1;
        } else {
            lab_err("--edb-opts: unknown variant '%s' (extra=N, filetime, partial=FILE, "
                    "from=DIR, intrinsic, compress, compress-bad, dirty, page4k, page16k, page32k, "
                    "lvkey8, lvcompress, hdrext)",
                    t);
            rc = -1;
        }
    }
    if (rc && o->extra > 1000000)
        lab_err("--edb-opts: extra=N takes a number up to 1000000");
    free(dup);
    return rc;
}

int lab_edb_check_opts(const char *opts)
{
    edb_opts o;
    return parse_opts(opts, &o);
}

/* ---- values ---- */

typedef struct text16 {
    unsigned char b[512];
    size_t n;
} text16;

/* ASCII to UTF-16LE, as AD CS stores text columns (codepage 1200). */
static void utf16(text16 *t, const char *s)
{
    t->n = 0;
    for (; *s && t->n + 2 <= sizeof t->b; s++) {
        t->b[t->n++] = (unsigned char)*s;
        t->b[t->n++] = 0;
    }
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* A date column: an OLE automation date (days since 1899-12-30 as a double), or a FILETIME
 * (100 ns since 1601) when the fixture asks for it. */
static void date8(unsigned char out[8], time_t t, int filetime)
{
    if (filetime) {
        put_le(out, ((uint64_t)t + 11644473600ull) * 10000000ull, 8);
        return;
    }
    double d = (double)t / 86400.0 + 25569.0;
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    put_le(out, bits, 8);
}

/* ---- reading the lab's blobs back ---- */

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        lab_err("%s: cannot read it back", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *p = malloc(cap);
    while (p) {
        size_t k = fread(p + n, 1, cap - n, f);
        n += k;
        if (n < cap)
            break;
        unsigned char *q = realloc(p, cap *= 2);
        if (!q) {
            free(p);
            p = NULL;
        } else {
            p = q;
        }
    }
    fclose(f);
    *len = n;
    if (!p)
        lab_err("out of memory");
    return p;
}

static const char *find(const char *s, size_t len, const char *what)
{
    size_t n = strlen(what);
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(s + i, what, n))
            return s + i;
    return NULL;
}

/* DER from the blob file (DER, or base64 with or without the header lines). */
static unsigned char *blob_der(unsigned char *text, size_t len, size_t *der_len)
{
    if (len && text[0] == 0x30) {
        *der_len = len;
        return text;
    }
    size_t k = 0;
    const char *s = (const char *)text;
    const char *b = find(s, len, "-----BEGIN");
    size_t start = 0, stop = len;
    if (b) {
        const char *nl = memchr(b, '\n', len - (size_t)(b - s));
        start = nl ? (size_t)(nl - s) + 1 : len;
        const char *e = find(s + start, len - start, "-----END");
        stop = e ? (size_t)(e - s) : len;
    }
    for (size_t i = start; i < stop; i++)
        if (text[i] != '\r' && text[i] != '\n' && text[i] != ' ')
            text[k++] = text[i];
    unsigned char *der = malloc(k / 4 * 3 + 3);
    int n = der ? EVP_DecodeBlock(der, text, (int)k) : -1;
    if (n < 0) {
        free(der);
        return NULL;
    }
    while (k && text[k - 1] == '=')
        k--, n--;
    *der_len = (size_t)n;
    return der;
}

typedef struct cert_row {
    unsigned char *cert; /* DER (OpenSSL) */
    int cert_len;
    unsigned char *key; /* RawArchivedKey: the SignedData's content */
    size_t key_len;
} cert_row;

static void row_free(cert_row *r)
{
    OPENSSL_free(r->cert);
    free(r->key);
    memset(r, 0, sizeof *r);
}

/* A blob file's content (the RawArchivedKey) and the certificate pick chooses among those it
 * carries (its DER in r->cert; x, when not NULL, gets a reference to it). */
static int read_blob(const char *path, int (*pick)(X509 *, const void *), const void *arg,
                     cert_row *r, X509 **x)
{
    memset(r, 0, sizeof *r);
    size_t len = 0, der_len = 0;
    unsigned char *text = read_all(path, &len);
    unsigned char *der = text ? blob_der(text, len, &der_len) : NULL;
    const unsigned char *p = der;
    CMS_ContentInfo *sd = der ? d2i_CMS_ContentInfo(NULL, &p, (long)der_len) : NULL;
    ASN1_OCTET_STRING **content = sd ? CMS_get0_content(sd) : NULL;
    STACK_OF(X509) *certs = sd ? CMS_get1_certs(sd) : NULL;
    int rc = -1;
    if (content && *content && certs) {
        r->key_len = (size_t)ASN1_STRING_length(*content);
        r->key = malloc(r->key_len);
        if (r->key)
            memcpy(r->key, ASN1_STRING_get0_data(*content), r->key_len);
        for (int i = 0; i < sk_X509_num(certs) && r->key && rc; i++) {
            X509 *c = sk_X509_value(certs, i);
            if (pick(c, arg)) {
                r->cert_len = i2d_X509(c, &r->cert);
                rc = r->cert_len > 0 ? 0 : -1;
                if (!rc && x && X509_up_ref(c))
                    *x = c;
            }
        }
    }
    sk_X509_pop_free(certs, X509_free);
    CMS_ContentInfo_free(sd);
    if (der != text)
        free(der);
    free(text);
    if (rc)
        row_free(r);
    return rc;
}

/* the lab's own certificate of the blob: its serial */
static int same_serial(X509 *x, const void *arg)
{
    const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
    return ASN1_STRING_length(sn) == LAB_SERIAL_LEN &&
           !memcmp(ASN1_STRING_get0_data(sn), arg, LAB_SERIAL_LEN);
}

static int load_row(const lab *l, const lab_cert *c, cert_row *r)
{
    char path[4096 + 64];
    snprintf(path, sizeof path, "%s/%s", l->opt.out, c->file);
    int rc = read_blob(path, same_serial, c->serial, r, NULL);
    if (rc)
        lab_err("%s: cannot read the archived key and certificate back", c->file);
    return rc;
}

/* ---- the tables ---- */

enum {
    R_ID,
    R_DISP,
    R_REASON,
    R_TYPE,
    R_SUBMITTED,
    R_REVOKED,
    R_REQUESTER,
    R_MESSAGE,
    R_KEY,
    R_HASHES,
    R_NCOLS
};
enum { C_ID, C_NB, C_NA, C_SERIAL, C_HASH, C_TEMPLATE, C_UPN, C_CN, C_CERT, C_NCOLS };

static const ese_column req_cols[R_NCOLS] = {
    {"RequestID", 1, ESE_COLTYP_LONG, 4},
    {"Disposition", 2, ESE_COLTYP_LONG, 4},
    {"RevokedReason", 3, ESE_COLTYP_LONG, 4},
    {"RequestType", 4, ESE_COLTYP_LONG, 4},
    {"SubmittedWhen", 5, ESE_COLTYP_DATETIME, 8},
    {"RevokedWhen", 6, ESE_COLTYP_DATETIME, 8},
    {"$RequesterName", 128, ESE_COLTYP_TEXT, 255},
    {"$DispositionMessage", 129, ESE_COLTYP_TEXT, 255},
    {"RawArchivedKey", 256, ESE_COLTYP_LONGBINARY, 65536},
    {"$KeyRecoveryHashes", 257, ESE_COLTYP_LONGTEXT, 8192},
};

static const ese_column cert_cols[C_NCOLS] = {
    {"RequestID", 1, ESE_COLTYP_LONG, 4},
    {"NotBefore", 2, ESE_COLTYP_DATETIME, 8},
    {"NotAfter", 3, ESE_COLTYP_DATETIME, 8},
    {"$SerialNumber", 128, ESE_COLTYP_TEXT, 128},
    {"$CertificateHash2", 129, ESE_COLTYP_TEXT, 128},
    {"$CertificateTemplate", 130, ESE_COLTYP_TEXT, 254},
    {"$UPN", 131, ESE_COLTYP_TEXT, 2048},
    {"$CommonName", 132, ESE_COLTYP_TEXT, 255},
    {"RawCertificate", 256, ESE_COLTYP_LONGBINARY, 16384},
};

typedef struct db {
    ese_writer *w;
    int req, crt;
    const edb_opts *o;
    int32_t next_id;
} db;

static void v_set(ese_value *v, const void *data, size_t len)
{
    v->data = data;
    v->len = len;
}

/* One request and, when issued, its certificate. key: RawArchivedKey or NULL. */
static int add_request(db *d, time_t submitted, int disposition, time_t revoked_at, int reason,
                       const char *requester, const unsigned char *key, size_t key_len,
                       const unsigned char *cert, size_t cert_len, const char *serial_hex,
                       const char *hash, const char *template, const char *upn, const char *cn,
                       time_t nb, time_t na)
{
    unsigned char id[4], disp[4], rsn[4], type[4], sub[8], rev[8], nbv[8], nav[8];
    int32_t rid = d->next_id++;
    put_le(id, (uint32_t)rid, 4);
    put_le(disp, (uint32_t)disposition, 4);
    put_le(rsn, (uint32_t)reason, 4);
    put_le(type, 0x40100, 4); /* PKCS10, full response */
    date8(sub, submitted, d->o->filetime);
    date8(rev, revoked_at, d->o->filetime);
    text16 t_req, t_msg;
    utf16(&t_req, requester);
    utf16(&t_msg, disposition == DISP_DENIED ? "Denied by Policy Module" : "Issued");
    ese_value rv[R_NCOLS];
    memset(rv, 0, sizeof rv);
    v_set(&rv[R_ID], id, 4);
    v_set(&rv[R_DISP], disp, 4);
    v_set(&rv[R_REASON], rsn, 4);
    v_set(&rv[R_TYPE], type, 4);
    v_set(&rv[R_SUBMITTED], sub, 8);
    if (disposition == DISP_REVOKED)
        v_set(&rv[R_REVOKED], rev, 8);
    v_set(&rv[R_REQUESTER], t_req.b, t_req.n);
    v_set(&rv[R_MESSAGE], t_msg.b, t_msg.n);
    unsigned char *packed = NULL;
    text16 t_hashes;
    if (key) {
        size_t len = key_len;
        const unsigned char *data = key;
        if (d->o->compress || d->o->compress_bad) {
            /* ESE's compressed value: a method byte (0x18 = LZXPRESS), then the
             * uncompressed size (16 bits), then the compressed bytes */
            size_t cap = key_len + key_len / 8 + 32;
            if (!(packed = malloc(cap)))
                return -1;
            size_t n = lab_xpress_compress(key, key_len, packed + 3, cap - 3);
            if (!n) {
                free(packed);
                lab_err("cannot compress an archived key");
                return -1;
            }
            packed[0] = d->o->compress_bad ? 0x28 : 0x18;
            packed[1] = (unsigned char)key_len;
            packed[2] = (unsigned char)(key_len >> 8);
            data = packed;
            len = n + 3;
            rv[R_KEY].compressed = 1;
        }
        v_set(&rv[R_KEY], data, len);
        rv[R_KEY].separate = !rv[R_KEY].compressed && !d->o->intrinsic;
        utf16(&t_hashes, hash); /* the KRA certificate hash in real CAs; anything non-empty */
        v_set(&rv[R_HASHES], t_hashes.b, t_hashes.n);
    }
    int rc = ese_insert(d->w, d->req, rv);
    free(packed);
    if (rc || !cert)
        return rc;
    date8(nbv, nb, d->o->filetime);
    date8(nav, na, d->o->filetime);
    text16 t_serial, t_hash, t_tmpl, t_upn, t_cn;
    utf16(&t_serial, serial_hex);
    utf16(&t_hash, hash);
    utf16(&t_tmpl, template);
    utf16(&t_upn, upn ? upn : "");
    utf16(&t_cn, cn);
    ese_value cv[C_NCOLS];
    memset(cv, 0, sizeof cv);
    v_set(&cv[C_ID], id, 4);
    v_set(&cv[C_NB], nbv, 8);
    v_set(&cv[C_NA], nav, 8);
    v_set(&cv[C_SERIAL], t_serial.b, t_serial.n);
    v_set(&cv[C_HASH], t_hash.b, t_hash.n);
    v_set(&cv[C_TEMPLATE], t_tmpl.b, t_tmpl.n);
    if (upn)
        v_set(&cv[C_UPN], t_upn.b, t_upn.n);
    v_set(&cv[C_CN], t_cn.b, t_cn.n);
    v_set(&cv[C_CERT], cert, cert_len);
    /* certificates go to the long-value tree as ESE does with values over its intrinsic limit
     * (dense Certificates pages also make libesedb's page cache crawl) */
    cv[C_CERT].separate = cert_len > 800 && !d->o->intrinsic;
    return ese_insert(d->w, d->crt, cv);
}

/* "45 a0 22 ..." as AD CS writes $CertificateHash, and the lowercase serial. */
static void hex_spaced(const unsigned char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            out[k++] = ' ';
        out[k++] = hex[p[i] >> 4];
        out[k++] = hex[p[i] & 15];
    }
    out[k] = '\0';
}

static int filler(const lab *l, db *d, unsigned long i, const unsigned char *ca_der, size_t ca_len)
{
    char who[64], serial[48], hash[64];
    unsigned char h[20];
    snprintf(who, sizeof who, "LAB\\WKS%05lu$", i + 1);
    snprintf(serial, sizeof serial, "6100%08lx%024x", i + 1, 0);
    memset(h, 0, sizeof h);
    put_le(h, (uint64_t)i + 1, 8);
    hex_spaced(h, sizeof h, hash);
    time_t when = l->now - (time_t)(i % 700) * LAB_DAY;
    if (i % 17 == 16) /* a denied request: no certificate */
        return add_request(d, when, DISP_DENIED, 0, 0, who, NULL, 0, NULL, 0, NULL, NULL, NULL,
                           NULL, NULL, 0, 0);
    return add_request(d, when, DISP_ISSUED, 0, 0, who, NULL, 0, ca_der, ca_len, serial, hash,
                       "Machine", NULL, who + 4, when, when + 365 * LAB_DAY);
}

static int lab_cert_row(const lab *l, db *d, const lab_cert *c)
{
    cert_row r;
    if (load_row(l, c, &r))
        return -1;
    const lab_user *u = &l->user[c->user];
    char requester[128], serial[2 * LAB_SERIAL_LEN + 1], hash[64], local[96];
    snprintf(local, sizeof local, "%s", u->upn);
    char *at = strchr(local, '@');
    if (at)
        *at = '\0';
    snprintf(requester, sizeof requester, "LAB\\%s", local);
    size_t k = 0;
    for (; k < sizeof serial - 1 && c->serial_hex[k]; k++) /* AD CS: lowercase hex */
        serial[k] = (char)(c->serial_hex[k] >= 'A' ? c->serial_hex[k] + 32 : c->serial_hex[k]);
    serial[k] = '\0';
    unsigned char md[20];
    for (int b = 0; b < 20; b++) {
        unsigned hi = 0, lo = 0;
        sscanf(c->thumbprint + 2 * b, "%1x%1x", &hi, &lo);
        md[b] = (unsigned char)(hi << 4 | lo);
    }
    hex_spaced(md, sizeof md, hash);
    int rc = add_request(d, c->not_before, c->revoked ? DISP_REVOKED : DISP_ISSUED, c->revoked_at,
                         c->revoked ? c->reason : 0, requester, r.key, r.key_len, r.cert,
                         (size_t)r.cert_len, serial, hash, LAB_TEMPLATE_OID, u->upn, u->display,
                         c->not_before, c->not_after);
    row_free(&r);
    return rc;
}

static int write_db(const lab *l, const char *path, const edb_opts *o, unsigned ncert)
{
    ese_opts eo = {o->page_size ? o->page_size : 8192, o->dirty ? 2 : 3, o->lvkey8 ? 8 : 4,
                   o->lvcompress, o->hdrext};
    db d = {ese_create(path, &eo), -1, -1, o, 1};
    if (!d.w)
        return -1;
    unsigned char *ca_der = NULL;
    int ca_len = i2d_X509(l->ca, &ca_der);
    int rc = ca_len > 0 ? 0 : -1;
    if (!rc) {
        d.req = ese_table(d.w, "Requests", req_cols, R_NCOLS);
        d.crt = ese_table(d.w, "Certificates", cert_cols, C_NCOLS);
        rc = d.req < 0 || d.crt < 0;
    }
    unsigned long done = 0;
    for (unsigned k = 0; k < ncert && !rc; k++) {
        /* the extra requests spread evenly between the lab's */
        unsigned long upto = l->ncert ? (unsigned long)((k + 1ull) * o->extra / l->ncert) : 0;
        for (; done < upto && !rc; done++)
            rc = filler(l, &d, done, ca_der, (size_t)ca_len);
        if (!rc)
            rc = lab_cert_row(l, &d, &l->cert[k]);
    }
    OPENSSL_free(ca_der);
    if (rc) {
        ese_abort(d.w);
        return -1;
    }
    return ese_close(d.w);
}

int lab_write_edb(const lab *l)
{
    if (!l->opt.edb)
        return 0;
    edb_opts o;
    if (parse_opts(l->opt.edb_opts, &o))
        return -1;
    if (write_db(l, l->opt.edb, &o, l->ncert))
        return -1;
    return o.partial[0] && l->ncert ? write_db(l, o.partial, &o, l->ncert - 1) : 0;
}

/* ---- from=DIR: a database of any certutil -getkey blobs ---- */

/* The UPN of the certificate's SAN (otherName 1.3.6.1.4.1.311.20.2.3), into out ("" if none). */
static void cert_upn(X509 *x, char *out, size_t size)
{
    out[0] = '\0';
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !out[0]; i++) {
        ASN1_OBJECT *oid = NULL;
        ASN1_TYPE *v = NULL;
        if (GENERAL_NAME_get0_otherName(sk_GENERAL_NAME_value(gens, i), &oid, &v) &&
            OBJ_obj2nid(oid) == NID_ms_upn && v->type == V_ASN1_UTF8STRING)
            snprintf(out, size, "%.*s", ASN1_STRING_length(v->value.utf8string),
                     (const char *)ASN1_STRING_get0_data(v->value.utf8string));
    }
    GENERAL_NAMES_free(gens);
}

static time_t asn1_time(const ASN1_TIME *t)
{
    struct tm tm;
    return ASN1_TIME_to_tm(t, &tm) ? timegm(&tm) : 0;
}

/* any getkey blob: its user certificate is the first that is not a CA */
static int not_a_ca(X509 *x, const void *arg)
{
    (void)arg;
    return X509_check_ca(x) == 0;
}

/* One blob file: a request and its certificate. */
static int blob_row(db *d, const char *path)
{
    cert_row r;
    X509 *x = NULL;
    if (read_blob(path, not_a_ca, NULL, &r, &x) != 0) {
        lab_err("%s: not a certutil -getkey blob with a user certificate", path);
        return -1;
    }
    char upn[256], cn[256] = "", serial[130] = "", hash[64], requester[300];
    unsigned char md[20];
    unsigned mdlen = 0;
    cert_upn(x, upn, sizeof upn);
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    for (size_t k = 0; hex && hex[k] && k < sizeof serial - 1; k++) /* AD CS: lowercase */
        serial[k] = (char)(hex[k] >= 'A' ? hex[k] + 32 : hex[k]);
    OPENSSL_free(hex);
    BN_free(bn);
    X509_digest(x, EVP_sha1(), md, &mdlen);
    hex_spaced(md, mdlen, hash);
    snprintf(requester, sizeof requester, "LAB\\%.*s", (int)strcspn(upn, "@"), upn);
    time_t nb = asn1_time(X509_get0_notBefore(x)), na = asn1_time(X509_get0_notAfter(x));
    int rc = add_request(d, nb, DISP_ISSUED, 0, 0, requester, r.key, r.key_len, r.cert,
                         (size_t)r.cert_len, serial, hash, LAB_TEMPLATE_OID, upn[0] ? upn : NULL,
                         cn, nb, na);
    X509_free(x);
    row_free(&r);
    return rc;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int lab_edb_from_opt(const char *opts)
{
    edb_opts o;
    return parse_opts(opts, &o) == 0 && o.from[0];
}

int lab_edb_from_blobs(const char *path, const char *opts)
{
    edb_opts o;
    if (parse_opts(opts, &o) || !o.from[0])
        return -1;
    struct dirent **names = NULL;
    int n = scandir(o.from, &names, NULL, by_name);
    if (n < 0) {
        lab_err("%s: cannot list the blob directory", o.from);
        return -1;
    }
    ese_opts eo = {o.page_size ? o.page_size : 8192, o.dirty ? 2 : 3, o.lvkey8 ? 8 : 4,
                   o.lvcompress, o.hdrext};
    db d = {ese_create(path, &eo), -1, -1, &o, 1};
    int rc = d.w ? 0 : -1;
    if (!rc) {
        d.req = ese_table(d.w, "Requests", req_cols, R_NCOLS);
        d.crt = ese_table(d.w, "Certificates", cert_cols, C_NCOLS);
        rc = d.req < 0 || d.crt < 0;
    }
    for (int i = 0; i < n; i++) {
        char file[8192];
        snprintf(file, sizeof file, "%s/%s", o.from, names[i]->d_name);
        struct stat st;
        if (!rc && names[i]->d_name[0] != '.' && stat(file, &st) == 0 && S_ISREG(st.st_mode))
            rc = blob_row(&d, file);
        free(names[i]);
    }
    free(names);
    if (rc) {
        if (d.w)
            ese_abort(d.w);
        return -1;
    }
    return ese_close(d.w);
}
