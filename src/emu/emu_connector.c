/* The Intune Certificate Connector (Intune docs: Configure and use imported PKCS certificates,
 * "How it works"; Microsoft's PFXImport module, ManagedRSAEncryption.cs): decrypt the record's
 * encryptedPfxPassword with the connector's private key (RSA-OAEP, OAEP hash = MGF1 hash from
 * paddingScheme, empty label) and re-encrypt it to the device certificate as CMS EnvelopedData
 * (issuer+serial recipient, AES-256-CBC), like EnvelopedCms in RecryptPfxImportMessage. */
#include "emu.h"
#include "common/encode.h"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *padding_digest(const char *padding)
{
    if (!padding)
        return NULL;
    if (strcmp(padding, "oaepSha256") == 0)
        return "SHA256";
    if (strcmp(padding, "oaepSha384") == 0)
        return "SHA384";
    if (strcmp(padding, "oaepSha512") == 0)
        return "SHA512";
    return NULL;
}

static void ssl_reason(char *msg, size_t msglen, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char buf[160] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    snprintf(msg, msglen, "%s%s%s", what, *buf ? ": " : "", buf);
}

int emu_connector_decrypt(emu_ctx *ctx, const char *b64, const char *padding, ssync_buf *out,
                          char *msg, size_t msglen)
{
    out->data = NULL;
    out->len = 0;
    const char *md = padding_digest(padding);
    if (!md) {
        snprintf(msg, msglen, "paddingScheme '%s' is not supported by the connector",
                 padding ? padding : "(none)");
        return -1;
    }
    ssync_buf ct;
    if (!b64 || emu_b64_decode_strict(b64, &ct) != 0) {
        snprintf(msg, msglen, "encryptedPfxPassword is not base64");
        return -1;
    }
    int rc = -1;
    size_t cap = (size_t)EVP_PKEY_get_size(ctx->connector_key);
    unsigned char *pt = OPENSSL_secure_malloc(cap + 1);
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(NULL, ctx->connector_key, NULL);
    size_t len = cap;
    if (!pt || !pctx || EVP_PKEY_decrypt_init(pctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md_name(pctx, md, NULL) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, md, NULL) != 1) {
        ssl_reason(msg, msglen, "cannot set up RSA-OAEP");
    } else if (EVP_PKEY_decrypt(pctx, pt, &len, ct.data, ct.len) != 1) {
        ssl_reason(msg, msglen, "RSA-OAEP decryption failed (wrong key or padding scheme)");
    } else {
        out->data = malloc(len + 1);
        if (out->data) {
            memcpy(out->data, pt, len);
            out->data[len] = '\0';
            out->len = len;
            rc = 0;
        } else {
            snprintf(msg, msglen, "out of memory");
        }
    }
    if (pt)
        OPENSSL_secure_clear_free(pt, cap + 1);
    EVP_PKEY_CTX_free(pctx);
    ssync_buf_free(&ct);
    return rc;
}

int emu_pfx_open(const unsigned char *der, size_t len, const char *password, char thumb[41],
                 EVP_PKEY **key_out, X509 **cert_out, char *msg, size_t msglen)
{
    const unsigned char *p = der;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    STACK_OF(X509) *ca = NULL;
    int rc = -1;
    if (!p12 || p != der + len) {
        ssl_reason(msg, msglen, "not a DER PKCS#12");
        goto out;
    }
    if (!PKCS12_verify_mac(p12, password, -1)) {
        ssl_reason(msg, msglen, "PKCS#12 MAC check failed (wrong password)");
        goto out;
    }
    if (!PKCS12_parse(p12, password, &key, &cert, &ca)) {
        ssl_reason(msg, msglen, "cannot decrypt the PKCS#12");
        goto out;
    }
    if (!key || !cert) {
        snprintf(msg, msglen, "the PKCS#12 lacks %s", key ? "a certificate" : "a private key");
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        ERR_clear_error();
        snprintf(msg, msglen, "the private key does not match the certificate");
        goto out;
    }
    unsigned char md[20];
    unsigned int mdlen = 0;
    if (!X509_digest(cert, EVP_sha1(), md, &mdlen) || mdlen != 20) {
        ssl_reason(msg, msglen, "cannot hash the certificate");
        goto out;
    }
    for (unsigned i = 0; i < 20; i++)
        snprintf(thumb + 2 * i, 3, "%02x", md[i]);
    if (key_out) {
        *key_out = key;
        key = NULL;
    }
    if (cert_out) {
        *cert_out = cert;
        cert = NULL;
    }
    rc = 0;
out:
    PKCS12_free(p12);
    EVP_PKEY_free(key);
    X509_free(cert);
    sk_X509_pop_free(ca, X509_free);
    return rc;
}

/* CMS EnvelopedData of data to cert; base64 of the DER. */
static char *recrypt(X509 *cert, const ssync_buf *pw, char *msg, size_t msglen)
{
    STACK_OF(X509) *certs = sk_X509_new_null();
    BIO *in = BIO_new_mem_buf(pw->data, (int)pw->len);
    BIO *out = BIO_new(BIO_s_mem());
    CMS_ContentInfo *cms = NULL;
    char *b64 = NULL;
    if (!certs || !in || !out || !sk_X509_push(certs, cert)) {
        snprintf(msg, msglen, "out of memory");
        goto done;
    }
    cms = CMS_encrypt(certs, in, EVP_aes_256_cbc(), CMS_BINARY);
    if (!cms || i2d_CMS_bio(out, cms) != 1) {
        ssl_reason(msg, msglen, "CMS encryption to the device certificate failed");
        goto done;
    }
    char *p;
    long n = BIO_get_mem_data(out, &p);
    b64 = ssync_base64_encode((unsigned char *)p, (size_t)n);
    if (!b64)
        snprintf(msg, msglen, "out of memory");
done:
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    BIO_free(out);
    sk_X509_free(certs); /* cert is borrowed */
    return b64;
}

/* The state of a record the connector could re-encrypt: installed, with the certificate's
 * serial number read from the PKCS#12 the device will open. */
static void record_installed(emu_ctx *ctx, const json_t *device, const emu_user *u,
                             const json_t *rec, const ssync_buf *pw)
{
    ssync_buf der = {0};
    X509 *cert = NULL;
    char thumb[41], msg[256];
    const char *blob = json_string_value(json_object_get(rec, "encryptedPfxBlob"));
    if (blob && emu_b64_decode_strict(blob, &der) == 0)
        (void)emu_pfx_open(der.data, der.len, (const char *)pw->data, thumb, NULL, &cert, msg,
                           sizeof msg);
    emu_delivery_record(ctx, device, u, rec, cert, 0);
    X509_free(cert);
    ssync_buf_free(&der);
}

void emu_device_endpoint(emu_ctx *ctx, emu_req *req, emu_resp *resp)
{
    json_t *in = emu_body_object(req, resp);
    if (!in)
        return;
    const char *upn = json_string_value(json_object_get(in, "userPrincipalName"));
    const char *pem = json_string_value(json_object_get(in, "deviceCertificate"));
    X509 *cert = NULL;
    if (!upn || !pem) {
        emu_graph_error(req, resp, 400, "BadRequest",
                        "The body needs userPrincipalName and deviceCertificate (PEM).");
        goto out;
    }
    BIO *b = BIO_new_mem_buf(pem, -1);
    cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!cert || !X509_get0_pubkey(cert)) {
        ERR_clear_error();
        emu_graph_error(req, resp, 400, "BadRequest",
                        "deviceCertificate is not a PEM X.509 certificate.");
        goto out;
    }
    const emu_user *u = emu_user_by_upn(ctx, upn);
    if (!u) {
        emu_graph_error(req, resp, 404, "Request_ResourceNotFound",
                        "Resource '%.200s' does not exist or one of its queried "
                        "reference-property objects are not present.",
                        upn);
        goto out;
    }
    /* copy the user's records out under the lock, then do the crypto without it; a managed
     * device of --tenant-config gets only what the delivery rules give it */
    const char *device_id = json_string_value(json_object_get(in, "deviceId"));
    json_t *device = NULL, *mine, *rec;
    if (device_id && ctx->tenant) {
        mine = emu_delivery_select(ctx, req, resp, (size_t)(u - ctx->users), device_id, &device);
        if (!mine)
            goto out;
        emu_delivery_forget(ctx, device_id);
    } else {
        mine = json_array();
        pthread_mutex_lock(&ctx->lock);
        uint64_t seq = 0;
        while ((rec = emu_store_next(ctx->store, seq, &seq)) != NULL)
            if (emu_strcaseeq(json_string_value(json_object_get(rec, "userPrincipalName")), u->upn))
                json_array_append_new(mine, json_deep_copy(rec));
        pthread_mutex_unlock(&ctx->lock);
    }
    json_t *outrecs = json_array();
    size_t i;
    json_array_foreach(mine, i, rec)
    {
        json_t *o = json_pack("{s:O, s:O, s:O}", "id", json_object_get(rec, "id"), "thumbprint",
                              json_object_get(rec, "thumbprint"), "intendedPurpose",
                              json_object_get(rec, "intendedPurpose"));
        char msg[256];
        ssync_buf pw;
        if (emu_connector_decrypt(ctx,
                                  json_string_value(json_object_get(rec, "encryptedPfxPassword")),
                                  json_string_value(json_object_get(rec, "paddingScheme")), &pw,
                                  msg, sizeof(msg)) != 0) {
            char e[320];
            snprintf(e, sizeof(e), "connector cannot decrypt the password: %s", msg);
            json_object_set_new(o, "error", json_string(e));
            if (device)
                emu_delivery_record(ctx, device, u, rec, NULL, EMU_ERR_RECRYPT);
        } else {
            if (device)
                record_installed(ctx, device, u, rec, &pw);
            char *cms = recrypt(cert, &pw, msg, sizeof(msg));
            ssync_buf_free_secret(&pw);
            if (!cms) {
                json_object_set_new(o, "error", json_string(msg));
            } else {
                json_object_set(o, "encryptedPfxBlob", json_object_get(rec, "encryptedPfxBlob"));
                json_object_set_new(o, "recryptedPassword", json_string(cms));
                free(cms);
            }
        }
        json_array_append_new(outrecs, o);
    }
    json_decref(mine);
    emu_resp_json(resp, 200,
                  json_pack("{s:s, s:o}", "userPrincipalName", u->upn, "records", outrecs));
out:
    X509_free(cert);
    json_decref(in);
}
