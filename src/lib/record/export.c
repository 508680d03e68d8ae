#include "record/export.h"

#include "recover/recover.h"

#include <openssl/crypto.h>
#include <string.h>

void ssync_exporter_init(ssync_exporter *ex)
{
    memset(ex, 0, sizeof *ex);
    ex->profile = SSYNC_PFX_COMPAT;
    ex->both_purpose = SSYNC_PURPOSE_SMIME_ENCRYPTION;
    ex->record.padding = SSYNC_PAD_DEFAULT;
}

ssync_code ssync_export_key(const ssync_exporter *ex, EVP_PKEY *key, X509 *cert,
                            STACK_OF(X509) * chain, const char *upn, ssync_export_result *out,
                            ssync_error *err)
{
    if (!ex || !ex->connector || !key || !cert || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "exporter not set up");
    memset(out, 0, sizeof *out);

    ssync_buf pfx = {0}, ct = {0};
    char password[SSYNC_PASSWORD_LEN + 1];
    ssync_code rc = ssync_certinfo_get(cert, &out->info, err);
    if (rc != SSYNC_OK)
        goto done;
    const char *user = upn ? upn : ssync_certinfo_user(&out->info);
    if (!user) {
        rc = ssync_fail(err, SSYNC_ERR_CERT_NO_USER, "certificate %s", out->info.thumbprint);
        goto done;
    }
    rc = ssync_password_generate(password, SSYNC_PASSWORD_LEN, err);
    if (rc != SSYNC_OK)
        goto done;
    ssync_pfx_opts po = {
        .profile = ex->profile, .friendly_name = user, .chain = ex->include_chain ? chain : NULL};
    rc = ssync_pfx_build(key, cert, &po, password, &pfx, err);
    if (rc != SSYNC_OK)
        goto done;
    rc = ssync_connector_encrypt(ex->connector, ex->record.padding, (unsigned char *)password,
                                 SSYNC_PASSWORD_LEN, &ct, err);
    if (rc != SSYNC_OK)
        goto done;
    rc = ssync_record_build(&out->info, user, ssync_purpose_from_cert(&out->info, ex->both_purpose),
                            &pfx, &ct, &ex->record, &out->record, err);
done:
    OPENSSL_cleanse(password, sizeof password);
    ssync_buf_free(&pfx);
    ssync_buf_free(&ct);
    if (rc != SSYNC_OK)
        ssync_export_result_clear(out);
    return rc;
}

ssync_code ssync_export_blob(const ssync_exporter *ex, const unsigned char *blob, size_t len,
                             const char *upn, ssync_export_result *out, ssync_error *err)
{
    if (!ex || !ex->kras || !ex->connector || !blob || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "exporter not set up");
    memset(out, 0, sizeof *out);
    ssync_recovered rec = {0};
    ssync_code rc = ssync_recover_blob_ex(
        ex->kras, blob, len, NULL, ex->include_chain ? 0 : SSYNC_RECOVER_NO_CHAIN, &rec, err);
    if (rc == SSYNC_OK)
        rc = ssync_export_key(ex, rec.key, rec.cert, rec.chain, upn, out, err);
    if (rc == SSYNC_OK)
        ssync_recovered_kra_serial(&rec, out->kra_serial);
    ssync_recovered_clear(&rec);
    return rc;
}

void ssync_export_result_clear(ssync_export_result *r)
{
    if (!r)
        return;
    ssync_certinfo_clear(&r->info);
    json_decref(r->record);
    r->record = NULL;
}
