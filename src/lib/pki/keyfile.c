#include "pki/keyfile.h"

#include "common/fileio.h"

#include <openssl/pem.h>

ssync_code ssync_load_cert(const char *path, X509 **out, ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output");
    *out = NULL;
    ssync_buf b = {0};
    ssync_code rc = ssync_read_file(path, SSYNC_MAX_INPUT_FILE, &b, err);
    if (rc != SSYNC_OK)
        return rc;
    const unsigned char *p = b.data;
    X509 *c = d2i_X509(NULL, &p, (long)b.len);
    if (!c) {
        BIO *bio = BIO_new_mem_buf(b.data, (int)b.len);
        c = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
    }
    ssync_buf_free(&b);
    if (!c)
        return ssync_fail_ssl(err, SSYNC_ERR_CERT_PARSE, "%s: not a certificate (PEM or DER)",
                              path);
    *out = c;
    return SSYNC_OK;
}

ssync_code ssync_load_private_key(const char *path, EVP_PKEY **out, ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output");
    *out = NULL;
    ssync_buf b = {0};
    ssync_code rc = ssync_read_secret_file(path, &b, err);
    if (rc != SSYNC_OK)
        return rc;
    BIO *bio = BIO_new_mem_buf(b.data, (int)b.len);
    /* an empty passphrase callback result: encrypted keys fail instead of prompting */
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
    if (!k && bio) {
        const unsigned char *p = b.data;
        k = d2i_AutoPrivateKey(NULL, &p, (long)b.len);
    }
    BIO_free(bio);
    ssync_buf_free_secret(&b);
    if (!k)
        return ssync_fail_ssl(err, SSYNC_ERR_FILE_READ,
                              "%s: not an unencrypted private key (PEM or DER)", path);
    *out = k;
    return SSYNC_OK;
}
