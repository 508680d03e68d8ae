/* `intune-emu device-fetch`: a managed device. It makes a fresh RSA-2048 key and a self-signed
 * certificate, asks the emulator's connector for the user's PKCS#12s (POST /emu/device/fetch,
 * libcurl with TLS verification), decrypts each recrypted password (CMS) with its own key, opens
 * the PKCS#12 with the default provider, checks key and certificate match, and writes
 * DIR/<thumbprint>.key.pem (0600) and DIR/<thumbprint>.cert.pem. */
#include "emu.h"
#include "common/encode.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct growbuf {
    char *data;
    size_t len;
} growbuf;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    growbuf *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > (size_t)512 << 20)
        return 0;
    char *d = realloc(b->data, b->len + n + 1);
    if (!d)
        return 0;
    memcpy(d + b->len, ptr, n);
    b->data = d;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static X509 *self_signed(EVP_PKEY *key, const char *name)
{
    X509 *x = X509_new();
    BIGNUM *bn = BN_new();
    int ok = x && bn && X509_set_version(x, X509_VERSION_3) &&
             BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
             BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
             X509_gmtime_adj(X509_getm_notBefore(x), -300) &&
             X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 30) && X509_set_pubkey(x, key);
    X509_NAME *nm = ok ? X509_get_subject_name(x) : NULL;
    ok = ok && nm &&
         X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)name, -1, -1,
                                    0) &&
         X509_set_issuer_name(x, nm) && X509_sign(x, key, EVP_sha256()) > 0;
    BN_free(bn);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int write_pem(const char *path, unsigned mode, EVP_PKEY *key, X509 *cert)
{
    BIO *b = BIO_new(BIO_s_mem());
    int ok = b && (key ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
                       : PEM_write_bio_X509(b, cert));
    ssync_error err;
    if (ok) {
        char *p;
        long n = BIO_get_mem_data(b, &p);
        ok = ssync_write_file_atomic(path, p, (size_t)n, mode, &err) == SSYNC_OK;
        if (!ok)
            fprintf(stderr, "device-fetch: %s\n", err.msg);
    }
    BIO_free(b); /* BIO_s_mem frees (without cleansing) its buffer */
    return ok ? 0 : -1;
}

/* One record: 0 = written, -1 = failed (reason printed). */
static int handle_record(json_t *r, EVP_PKEY *key, X509 *cert, const char *dir)
{
    const char *thumb = json_string_value(json_object_get(r, "thumbprint"));
    const char *error = json_string_value(json_object_get(r, "error"));
    const char *blob = json_string_value(json_object_get(r, "encryptedPfxBlob"));
    const char *rp = json_string_value(json_object_get(r, "recryptedPassword"));
    if (!thumb)
        thumb = "?";
    if (error) {
        printf("fail %s %s\n", thumb, error);
        return -1;
    }
    if (!blob || !rp) {
        printf("fail %s the connector answer lacks the blob or the password\n", thumb);
        return -1;
    }
    ssync_buf cmsder = {0}, pfx = {0};
    BIO *cin = NULL, *pout = NULL;
    CMS_ContentInfo *cms = NULL;
    EVP_PKEY *ukey = NULL;
    X509 *ucert = NULL;
    char msg[256], got[41];
    int rc = -1;
    if (emu_b64_decode_strict(rp, &cmsder) != 0 || emu_b64_decode_strict(blob, &pfx) != 0) {
        printf("fail %s invalid base64 from the connector\n", thumb);
        goto out;
    }
    cin = BIO_new_mem_buf(cmsder.data, (int)cmsder.len);
    pout = BIO_new(BIO_s_mem());
    cms = cin ? d2i_CMS_bio(cin, NULL) : NULL;
    /* pass the certificate: without it OpenSSL hides a failure behind random output (MMA
     * countermeasure) */
    if (!cms || !pout || CMS_decrypt(cms, key, cert, NULL, pout, CMS_BINARY) != 1) {
        unsigned long e = ERR_get_error();
        printf("fail %s cannot decrypt the recrypted password: %s\n", thumb,
               e ? ERR_reason_error_string(e) : "not CMS");
        ERR_clear_error();
        goto out;
    }
    char *pw;
    long pwlen = BIO_get_mem_data(pout, &pw);
    char *password = OPENSSL_secure_malloc((size_t)pwlen + 1);
    if (!password)
        goto out;
    memcpy(password, pw, (size_t)pwlen);
    password[pwlen] = '\0';
    OPENSSL_cleanse(pw, (size_t)pwlen);
    int opened = emu_pfx_open(pfx.data, pfx.len, password, got, &ukey, &ucert, msg, sizeof(msg));
    OPENSSL_secure_clear_free(password, (size_t)pwlen + 1);
    if (opened != 0) {
        printf("fail %s %s\n", thumb, msg);
        goto out;
    }
    if (strcmp(got, thumb) != 0) {
        printf("fail %s the PKCS#12 holds certificate %s, not the record's\n", thumb, got);
        goto out;
    }
    char kp[4096], cp[4096];
    snprintf(kp, sizeof(kp), "%s/%s.key.pem", dir, got);
    snprintf(cp, sizeof(cp), "%s/%s.cert.pem", dir, got);
    if (write_pem(kp, 0600, ukey, NULL) != 0 || write_pem(cp, 0644, NULL, ucert) != 0) {
        printf("fail %s cannot write %s\n", thumb, kp);
        goto out;
    }
    char subject[256];
    X509_NAME_oneline(X509_get_subject_name(ucert), subject, sizeof(subject));
    printf("ok %s %s\n", got, subject);
    rc = 0;
out:
    CMS_ContentInfo_free(cms);
    BIO_free(cin);
    BIO_free(pout);
    EVP_PKEY_free(ukey);
    X509_free(ucert);
    ssync_buf_free(&cmsder);
    ssync_buf_free(&pfx);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: intune-emu device-fetch --url https://127.0.0.1:PORT --ca-bundle FILE "
               "--user UPN --out DIR [--device-name NAME] [--device-id ID] [--timeout SECONDS]\n");
}

int emu_device_fetch_main(int argc, char **argv)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"ca-bundle", required_argument, NULL, 'c'},
                                         {"user", required_argument, NULL, 'U'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"device-name", required_argument, NULL, 'n'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"device-id", required_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *url = NULL, *ca = NULL, *user = NULL, *dir = NULL, *name = NULL, *device_id = NULL;
    long timeout = 60;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            url = optarg;
            break;
        case 'c':
            ca = optarg;
            break;
        case 'U':
            user = optarg;
            break;
        case 'o':
            dir = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'i':
            device_id = optarg;
            break;
        case 't':
            timeout = strtol(optarg, NULL, 10);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!url || !ca || !user || !dir || optind != argc || timeout <= 0) {
        usage(stderr);
        return 2;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "device-fetch: cannot create %s: %s\n", dir, strerror(errno));
        return 2;
    }
    char defname[64];
    if (!name) {
        unsigned char r[4] = {0};
        (void)RAND_bytes(r, sizeof(r));
        snprintf(defname, sizeof(defname), "emu-device-%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
        name = defname;
    }
    int rc = 2;
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *cert = key ? self_signed(key, name) : NULL;
    char *body = NULL, *endpoint = NULL;
    growbuf resp = {0};
    CURL *curl = NULL;
    struct curl_slist *hdrs = NULL;
    json_t *answer = NULL;
    if (!cert) {
        fprintf(stderr, "device-fetch: cannot make the device key and certificate\n");
        goto out;
    }
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long pemlen = b && PEM_write_bio_X509(b, cert) ? BIO_get_mem_data(b, &pem) : 0;
    json_t *req = json_pack("{s:s, s:s%, s:s}", "userPrincipalName", user, "deviceCertificate",
                            pem ? pem : "", (size_t)pemlen, "deviceName", name);
    BIO_free(b);
    if (req && device_id) /* a managed device of --tenant-config: the delivery rules apply */
        json_object_set_new(req, "deviceId", json_string(device_id));
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    size_t ulen = strlen(url);
    endpoint = malloc(ulen + 32);
    if (!body || !endpoint)
        goto out;
    snprintf(endpoint, ulen + 32, "%.*s/emu/device/fetch",
             (int)(ulen && url[ulen - 1] == '/' ? ulen - 1 : ulen), url);
    curl = curl_easy_init();
    hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (!curl || !hdrs)
        goto out;
    curl_easy_setopt(curl, CURLOPT_URL, endpoint);
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        fprintf(stderr, "device-fetch: %s: %s\n", endpoint, curl_easy_strerror(cc));
        goto out;
    }
    json_error_t je;
    answer = resp.data ? json_loads(resp.data, 0, &je) : NULL;
    if (status != 200 || !json_is_array(json_object_get(answer, "records"))) {
        fprintf(stderr, "device-fetch: HTTP %ld: %s\n", status, resp.data ? resp.data : "");
        goto out;
    }
    json_t *records = json_object_get(answer, "records");
    size_t i, failed = 0;
    json_t *r;
    json_array_foreach(records, i, r)
    {
        if (handle_record(r, key, cert, dir) != 0)
            failed++;
    }
    if (json_array_size(records) == 0)
        fprintf(stderr, "device-fetch: no records for %s\n", user);
    fflush(stdout);
    rc = failed ? 1 : 0;
out:
    json_decref(answer);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    free(resp.data);
    free(body);
    free(endpoint);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}
