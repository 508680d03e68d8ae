/* What the sources share to trust a certificate (see source_int.h): the chain to [source] ca
 * before any fact of the certificate reaches the plan. */
#include "source/source_int.h"

#include "pki/trust.h"

ssync_code ssync_source_set_cert(const ssync_source_env *env, ssync_plan_item *it, X509 *cert,
                                 ssync_error *err)
{
    ssync_code rc = ssync_trust_verify_cert(env->trust, cert, err);
    return rc == SSYNC_OK ? ssync_plan_item_set_cert(it, cert, env->crls, env->n_crls, err) : rc;
}
