/* Opening the sections of the configuration: the KRA set of [kra], the Graph client of [intune],
 * and the exporter of [pfx], [policy] and [connector]. Every command that needs one opens it here,
 * so they all validate a section the same way and word its errors the same way. */
#ifndef SSYNC_CONNECT_H
#define SSYNC_CONNECT_H

#include "common/errors.h"
#include "graph/graph.h"
#include "record/export.h"
#include "recover/kra.h"
#include "sync/config.h"

/* The KRA set of the [kra] section: ssync_kra_set_load with the section's names in its errors
 * ("[kra] key is required", "[kra] password_file: <error>"). each (optional) as there: check
 * reports every key on its own line and goes on after a failed one. */
ssync_code ssync_kra_set_open(const ssync_kra_cfg *kra, ssync_kra_each_fn each, void *each_ctx,
                              ssync_kra_set **out, ssync_error *err);

/* The Graph client of the [intune] section: its keys are checked (tenant_id, client_id, and either
 * a client secret or a certificate with its key), the secret or the certificate and key are read,
 * and the client is created with the section's limits. origin names the configuration in the
 * section's errors ("<origin>: [intune] tenant_id is required"; NULL: "config"). log and log_ctx
 * (optional) receive the client's log lines: log_ctx must outlive the client. On failure, *out is
 * NULL and err->msg is the line to show as it is. */
ssync_code ssync_graph_open(const ssync_intune_cfg *intune, const char *origin, ssync_log_fn log,
                            void *log_ctx, ssync_graph **out, ssync_error *err);

/* The exporter of a run from the configuration: kras and connector (borrowed), [pfx] profile and
 * include_chain, [policy] both_purpose, [connector] provider_name, key_name and padding. */
void ssync_exporter_from_config(ssync_exporter *ex, const ssync_config *cfg,
                                const ssync_kra_set *kras, EVP_PKEY *connector);

#endif
