/* The audit trail's lines for writes and recoveries (see trail.h). */
#include "sync/trail.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

static const char *result_of(const ssync_graph_op *op)
{
    if (op->result == SSYNC_OK) {
        if (op->kind == SSYNC_OP_CREATE)
            return op->already ? "present" : "created";
        return op->already ? "absent" : "removed";
    }
    /* sent and then abandoned: it may have taken effect (the next sync reads it back) */
    return op->result == SSYNC_ERR_CANCELLED ? "unknown" : "failed";
}

ssync_code ssync_trail_write(ssync_audit *a, const ssync_trail_item *it, const ssync_graph_op *op,
                             ssync_error *err)
{
    if (!a || !op || (op->result != SSYNC_OK && op->sends == 0))
        return SSYNC_OK;
    const ssync_trail_item none = {0};
    if (!it)
        it = &none;
    ssync_audit_event ev = {
        .action = op->kind == SSYNC_OP_CREATE ? "create" : "delete",
        .result = result_of(op),
        .user = it->user,
        .thumbprint = it->thumbprint ? it->thumbprint : op->thumbprint,
        .serial = it->serial,
        .source = it->source,
        .request_id = op->detail.request_id,
        .record_id = op->id,
        .error = op->result == SSYNC_OK ? NULL : op->err.msg,
        .http_status = op->detail.http_status,
        /* a delete is done only once a GET answers 404; a create found by reading back */
        .verified = op->result == SSYNC_OK && (op->kind == SSYNC_OP_DELETE || op->already),
    };
    return ssync_audit_append(a, &ev, err);
}

ssync_code ssync_trail_recover(ssync_audit *a, const ssync_trail_item *it, const char *kras,
                               const char *error, ssync_error *err)
{
    if (!a)
        return SSYNC_OK;
    const ssync_trail_item none = {0};
    if (!it)
        it = &none;
    ssync_audit_event ev = {.action = "recover",
                            .result = error ? "failed" : "recovered",
                            .user = it->user,
                            .thumbprint = it->thumbprint,
                            .serial = it->serial,
                            .source = it->source,
                            .kra = kras,
                            .error = error};
    return ssync_audit_append(a, &ev, err);
}

void ssync_trail_kras(const ssync_kra_set *set, char *out, size_t n)
{
    size_t used = 0;
    if (n)
        out[0] = '\0';
    for (size_t i = 0; set && i < ssync_kra_set_count(set); i++) {
        X509 *cert = NULL;
        if (!ssync_kra_set_get(set, i, NULL, &cert) || !cert)
            continue;
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
        char *hex = bn ? BN_bn2hex(bn) : NULL;
        if (hex && used < n) {
            int w = snprintf(out + used, n - used, "%s%s", used ? "," : "", hex);
            used += w > 0 ? (size_t)w : 0;
        }
        OPENSSL_free(hex);
        BN_free(bn);
    }
}
