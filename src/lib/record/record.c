#include "record/record.h"

#include "common/encode.h"

#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

static const char *const purpose_names[] = {
    [SSYNC_PURPOSE_UNASSIGNED] = "unassigned",
    [SSYNC_PURPOSE_SMIME_ENCRYPTION] = "smimeEncryption",
    [SSYNC_PURPOSE_SMIME_SIGNING] = "smimeSigning",
};
#define N_PURPOSES (sizeof purpose_names / sizeof purpose_names[0])

const char *ssync_purpose_name(ssync_purpose p)
{
    if ((unsigned)p >= N_PURPOSES)
        return NULL;
    return purpose_names[p];
}

ssync_code ssync_purpose_parse(const char *name, ssync_purpose *out, ssync_error *err)
{
    if (!name || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_purpose_parse: NULL argument");
    for (size_t i = 0; i < N_PURPOSES; i++)
        if (strcmp(name, purpose_names[i]) == 0) {
            *out = (ssync_purpose)i;
            return SSYNC_OK;
        }
    /* Graph's enum also has vpn and wifi, which Intune does not support for imported PFX */
    return ssync_fail(err, SSYNC_ERR_RECORD,
                      "unknown intendedPurpose '%.64s' (unassigned, smimeEncryption, smimeSigning)",
                      name);
}

ssync_purpose ssync_purpose_from_cert(const ssync_certinfo *info, ssync_purpose both)
{
    if (!info || !info->has_key_usage)
        return SSYNC_PURPOSE_UNASSIGNED;
    int enc = (info->key_usage & KU_KEY_ENCIPHERMENT) != 0;
    int sig = (info->key_usage & KU_DIGITAL_SIGNATURE) != 0;
    if (enc && sig)
        return both;
    if (enc)
        return SSYNC_PURPOSE_SMIME_ENCRYPTION;
    if (sig)
        return SSYNC_PURPOSE_SMIME_SIGNING;
    return SSYNC_PURPOSE_UNASSIGNED;
}

int ssync_thumbprint_valid(const char *s)
{
    if (!s)
        return 0;
    size_t i = 0;
    for (; s[i]; i++)
        if (i >= 40 || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return i == 40;
}

/* YYYY-MM-DDTHH:MM:SSZ, as ssync_certinfo_get writes it. */
static int iso_valid(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (strlen(s) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
            return 0;
    return 1;
}

/* A user principal name as Entra ID knows it: local@domain, printable, no spaces. */
static int upn_valid(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@') || strlen(s) > 1024)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

static ssync_code add(json_t *o, const char *key, json_t *v, ssync_error *err)
{
    if (!v || json_object_set_new(o, key, v) != 0)
        return ssync_fail(err, SSYNC_ERR_RECORD, "cannot set %s (invalid UTF-8 or out of memory)",
                          key);
    return SSYNC_OK;
}

static ssync_code add_base64(json_t *o, const char *key, const ssync_buf *b, ssync_error *err)
{
    char *s = ssync_base64_encode(b->data, b->len);
    if (!s)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "base64 of %s", key);
    ssync_code rc = add(o, key, json_string(s), err);
    free(s);
    return rc;
}

ssync_code ssync_record_build(const ssync_certinfo *info, const char *upn, ssync_purpose purpose,
                              const ssync_buf *pfx, const ssync_buf *enc_password,
                              const ssync_record_opts *opts, json_t **out, ssync_error *err)
{
    if (out)
        *out = NULL;
    if (!info || !pfx || !enc_password || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_record_build: NULL argument");
    const ssync_record_opts defaults = {NULL, NULL, SSYNC_PAD_DEFAULT};
    if (!opts)
        opts = &defaults;
    const char *provider = opts->provider_name ? opts->provider_name : SSYNC_DEFAULT_PROVIDER;
    const char *key_name = opts->key_name ? opts->key_name : SSYNC_DEFAULT_KEY_NAME;
    const char *padding = ssync_padding_name(opts->padding);
    const char *purpose_name = ssync_purpose_name(purpose);

    /* validate locally what Graph would refuse with a bare 400 */
    if (!upn || !upn[0])
        return ssync_fail(err, SSYNC_ERR_RECORD, "no userPrincipalName for %s", info->thumbprint);
    if (!upn_valid(upn))
        return ssync_fail(err, SSYNC_ERR_RECORD, "userPrincipalName '%.128s' is not user@domain",
                          upn);
    if (!ssync_thumbprint_valid(info->thumbprint))
        return ssync_fail(err, SSYNC_ERR_RECORD, "thumbprint is not 40 lowercase hex digits");
    if (!iso_valid(info->not_before_iso) || !iso_valid(info->not_after_iso))
        return ssync_fail(err, SSYNC_ERR_RECORD, "certificate %s has no valid validity dates",
                          info->thumbprint);
    if (info->not_after < info->not_before)
        return ssync_fail(err, SSYNC_ERR_RECORD, "certificate %s expires before it starts",
                          info->thumbprint);
    if (!purpose_name)
        return ssync_fail(err, SSYNC_ERR_RECORD, "unknown intendedPurpose %d", (int)purpose);
    if (!padding)
        return ssync_fail(err, SSYNC_ERR_PADDING, "padding %d", (int)opts->padding);
    if (!provider[0] || !key_name[0])
        return ssync_fail(err, SSYNC_ERR_RECORD, "empty providerName or keyName");
    if (!pfx->data || pfx->len == 0)
        return ssync_fail(err, SSYNC_ERR_RECORD, "empty PKCS#12 for %s", info->thumbprint);
    /* the connector key has at least 2048 bits, so a real ciphertext has at least 256 bytes;
     * anything shorter is most likely the plaintext password, which must never leave */
    if (!enc_password->data || enc_password->len < 256)
        return ssync_fail(err, SSYNC_ERR_RECORD,
                          "encrypted password of %zu bytes is not an RSA-2048+ ciphertext",
                          enc_password->len);

    json_t *o = json_object();
    if (!o)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "record");
    ssync_code rc = add(o, "thumbprint", json_string(info->thumbprint), err);
    if (rc == SSYNC_OK)
        rc = add(o, "intendedPurpose", json_string(purpose_name), err);
    if (rc == SSYNC_OK)
        rc = add(o, "userPrincipalName", json_string(upn), err);
    if (rc == SSYNC_OK)
        rc = add(o, "startDateTime", json_string(info->not_before_iso), err);
    if (rc == SSYNC_OK)
        rc = add(o, "expirationDateTime", json_string(info->not_after_iso), err);
    if (rc == SSYNC_OK)
        rc = add(o, "providerName", json_string(provider), err);
    if (rc == SSYNC_OK)
        rc = add(o, "keyName", json_string(key_name), err);
    if (rc == SSYNC_OK)
        rc = add(o, "paddingScheme", json_string(padding), err);
    if (rc == SSYNC_OK)
        rc = add_base64(o, "encryptedPfxBlob", pfx, err);
    if (rc == SSYNC_OK)
        rc = add_base64(o, "encryptedPfxPassword", enc_password, err);
    if (rc != SSYNC_OK) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return SSYNC_OK;
}
