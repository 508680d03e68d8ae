/* KRA keys on a PKCS#11 token through the libp11 engine. OpenSSL 3 deprecates the ENGINE API,
 * but Debian 12 ships no pkcs11 provider, and the engine still works with OpenSSL 3. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "recover/kra_pkcs11.h"

#include <errno.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ssync_is_pkcs11_uri(const char *path)
{
    return path && strncmp(path, "pkcs11:", 7) == 0;
}

/* The value of the query attribute module-path (percent-decoding not needed for plain paths),
 * and the URI without it: libp11 does not know that attribute. Both malloc'd. */
static int split_module(const char *uri, char **plain, char **module)
{
    *module = NULL;
    *plain = strdup(uri);
    if (!*plain)
        return -1;
    char *q = strchr(*plain, '?');
    if (!q)
        return 0;
    char *attr = strstr(q + 1, "module-path=");
    if (!attr || (attr != q + 1 && attr[-1] != '&'))
        return 0;
    char *val = attr + strlen("module-path="), *end = strchr(val, '&');
    size_t n = end ? (size_t)(end - val) : strlen(val);
    *module = strndup(val, n);
    if (!*module)
        return -1;
    /* drop "module-path=...[&]" and a '?' left alone */
    memmove(attr, end ? end + 1 : val + n, strlen(end ? end + 1 : val + n) + 1);
    size_t len = strlen(*plain);
    if (len && ((*plain)[len - 1] == '?' || (*plain)[len - 1] == '&'))
        (*plain)[len - 1] = '\0';
    return 0;
}

static ssync_code open_engine(void **engine, const char *module, ssync_error *err)
{
    if (*engine)
        return SSYNC_OK;
    ENGINE_load_builtin_engines();
    ENGINE *e = ENGINE_by_id("pkcs11");
    if (!e) {
        ERR_clear_error();
        return ssync_fail(err, SSYNC_ERR_KRA_LOAD,
                          "the OpenSSL pkcs11 engine is not installed "
                          "(Debian: libengine-pkcs11-openssl)");
    }
    /* the library never prints: libp11 writes its own diagnostics to stderr unless QUIET */
    ENGINE_ctrl_cmd(e, "QUIET", 0, NULL, NULL, 0);
    if (module && access(module, R_OK) != 0) { /* say it ourselves: libp11 would print it */
        int errnum = errno;
        ENGINE_free(e);
        return ssync_fail(err, SSYNC_ERR_KRA_LOAD, "PKCS#11 module %s: %s", module,
                          strerror(errnum));
    }
    if (module && !ENGINE_ctrl_cmd_string(e, "MODULE_PATH", module, 0)) {
        ENGINE_free(e);
        ERR_clear_error();
        return ssync_fail(err, SSYNC_ERR_KRA_LOAD, "the pkcs11 engine refused module-path");
    }
    if (!ENGINE_init(e)) {
        ENGINE_free(e);
        ERR_clear_error();
        return ssync_fail(err, SSYNC_ERR_KRA_LOAD, "cannot initialise the PKCS#11 module %s",
                          module ? module : "(p11-kit proxy)");
    }
    *engine = e;
    return SSYNC_OK;
}

ssync_code ssync_kra_pkcs11_load(void **engine, const char *uri, const char *pin, EVP_PKEY **key,
                                 STACK_OF(X509) * *certs, ssync_error *err)
{
    *key = NULL;
    if (strstr(uri, "pin-value=") || strstr(uri, "pin-source="))
        return ssync_fail(err, SSYNC_ERR_KRA_LOAD,
                          "the PIN must not be in the URI: put it in [kra] password_file");
    char *plain = NULL, *module = NULL;
    if (split_module(uri, &plain, &module) != 0) {
        free(plain);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "PKCS#11 URI");
    }
    ssync_code rc = open_engine(engine, module, err);
    ENGINE *e = *engine;
    if (rc == SSYNC_OK && pin && *pin && !ENGINE_ctrl_cmd_string(e, "PIN", pin, 0))
        rc = ssync_fail(err, SSYNC_ERR_KRA_LOAD, "the pkcs11 engine refused the PIN");
    if (rc == SSYNC_OK) {
        *key = ENGINE_load_private_key(e, plain, NULL, NULL);
        if (!*key) {
            /* libp11 reports a failed login and a missing object alike: say both */
            unsigned long code = ERR_peek_last_error();
            char why[160];
            ERR_error_string_n(code, why, sizeof(why));
            rc = ssync_fail(err, SSYNC_ERR_KRA_LOAD,
                            "no private key on the token for this URI, or the PIN (the KRA "
                            "password) is wrong (%s)",
                            code ? why : "no detail");
        }
    }
    if (rc == SSYNC_OK && certs) {
        struct {
            const char *id;
            X509 *cert;
        } req = {plain, NULL};
        *certs = sk_X509_new_null();
        if (!*certs)
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
        else if (ENGINE_ctrl_cmd(e, "LOAD_CERT_CTRL", 0, &req, NULL, 0) && req.cert &&
                 !sk_X509_push(*certs, req.cert))
            X509_free(req.cert);
    }
    ERR_clear_error();
    /* the PIN stays inside the engine (libp11 keeps it for re-login); ours is the caller's */
    free(plain);
    free(module);
    return rc;
}

void ssync_pkcs11_uri_display(const char *uri, char *out, size_t n)
{
    snprintf(out, n, "%s", uri);
    char *p = strstr(out, "pin-value=");
    if (!p)
        return;
    p += strlen("pin-value=");
    size_t keep = strcspn(p, ";?&");
    /* replace the value by "***", keeping what follows */
    char tail[512];
    snprintf(tail, sizeof(tail), "%s", p + keep);
    snprintf(p, n - (size_t)(p - out), "***%s", tail);
}

void ssync_kra_pkcs11_release(void *engine)
{
    if (engine) {
        ENGINE_finish(engine);
        ENGINE_free(engine);
    }
}
