/* PKCS#12 opening shared by the KRA loader and the pfx source (see p12read.h). */
#include "pki/p12read.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

/* Whether OpenSSL's error queue says an algorithm was not available (fetch failure), which is
 * what a legacy PBE (RC2-40, DES) gives without the legacy provider. */
static int queue_has_unsupported(void)
{
    unsigned long e;
    int found = 0;
    while ((e = ERR_get_error()) != 0) {
        int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);
        if (reason == ERR_R_UNSUPPORTED || reason == ERR_R_FETCH_FAILED ||
            (lib == ERR_LIB_EVP &&
             (reason == EVP_R_UNSUPPORTED_ALGORITHM || reason == EVP_R_UNSUPPORTED_CIPHER)))
            found = 1;
    }
    return found;
}

static ssync_code load_legacy(ssync_p12_reader *r, ssync_code unreadable, ssync_error *err)
{
    if (r->legacy)
        return SSYNC_OK;
    /* loading a provider explicitly stops the automatic "default" loading: load both */
    if (!r->deflt)
        r->deflt = OSSL_PROVIDER_load(NULL, "default");
    r->legacy = OSSL_PROVIDER_load(NULL, "legacy");
    if (!r->deflt || !r->legacy)
        return ssync_fail_ssl(err, unreadable,
                              "the file needs OpenSSL's legacy provider, which cannot be loaded");
    return SSYNC_OK;
}

ssync_code ssync_p12_parse(ssync_p12_reader *r, PKCS12 *p12, const char *password,
                           ssync_code wrong_password, ssync_code unreadable, EVP_PKEY **key,
                           X509 **cert, STACK_OF(X509) * *others, ssync_error *err)
{
    if (!r || !p12 || !key || !cert || !others)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_p12_parse");
    /* An empty password is encoded either as no password or as "" (as the openssl CLI tries) */
    const char *pass = password ? password : "";
    if (PKCS12_mac_present(p12)) {
        if (!PKCS12_verify_mac(p12, pass, -1)) {
            /* a MAC mismatch raises no error (OpenSSL 3.0 p12_mutl.c); failing to compute
             * the MAC (unsupported digest ...) does */
            unsigned long e = ERR_peek_last_error();
            int wrong = e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PKCS12 &&
                                   ERR_GET_REASON(e) == PKCS12_R_MAC_VERIFY_FAILURE);
            if (wrong && !*pass && PKCS12_verify_mac(p12, NULL, 0)) {
                pass = NULL;
                ERR_clear_error();
            } else if (wrong) {
                ERR_clear_error();
                return ssync_fail(err, wrong_password,
                                  "PKCS#12 MAC verification failed (wrong password)");
            } else {
                return ssync_fail_ssl(err, unreadable, "cannot verify the PKCS#12 MAC");
            }
        }
    }
    for (int attempt = 0;; attempt++) {
        if (PKCS12_parse(p12, pass, key, cert, others))
            break;
        int unsupported = queue_has_unsupported();
        if (unsupported && attempt == 0 && !r->legacy) {
            ssync_code rc = load_legacy(r, unreadable, err);
            if (rc != SSYNC_OK)
                return rc;
            continue;
        }
        if (unsupported)
            return ssync_fail(err, unreadable, "PKCS#12 uses an unsupported algorithm");
        /* with a verified MAC the password is right: the file is damaged; without a MAC a
         * failed decryption is the only sign of a wrong password */
        if (!PKCS12_mac_present(p12))
            return ssync_fail(err, wrong_password,
                              "cannot decrypt the PKCS#12 (it has no MAC to check the password)");
        return ssync_fail(err, unreadable, "cannot decrypt the PKCS#12 contents");
    }
    return SSYNC_OK;
}

void ssync_p12_reader_free(ssync_p12_reader *r)
{
    if (!r)
        return;
    if (r->legacy)
        OSSL_PROVIDER_unload(r->legacy);
    if (r->deflt)
        OSSL_PROVIDER_unload(r->deflt);
    memset(r, 0, sizeof *r);
}
