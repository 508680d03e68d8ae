/* The sync engine's plan: the desired state from the CA (recovery blobs minus revoked
 * certificates, filtered by the history policy), the users behind the certificates (Entra ID),
 * the actual state (one listing of userPfxCertificates) and the diff between them, keyed on
 * (user, thumbprint). The library never prints: the CLI reports the plan. */
#ifndef SSYNC_PLAN_H
#define SSYNC_PLAN_H

#include "sync/config.h"
#include "common/errors.h"
#include "graph/graph.h"
#include "journal/journal.h"
#include "recover/kra.h"
#include "pki/crl.h"
#include "source/source.h"

#include <openssl/x509.h>
#include <time.h>

typedef struct ssync_plan_policy {
    int remove_revoked;     /* remove revoked certificates present in Intune */
    int include_expired;    /* expired certificates are desired */
    int keep_newest;        /* per user, newest N by notAfter; 0 = all */
    int drop_expired_after; /* days; -1 = never */
} ssync_plan_policy;

typedef struct ssync_plan_counts {
    size_t upload, remove, keep, skip, failed;
} ssync_plan_counts;

const char *ssync_plan_action_name(ssync_plan_action a);
void ssync_plan_policy_from_config(const ssync_config *cfg, ssync_plan_policy *out);

/* Scans the source (ssync_source_scan) and applies the target and the certificate filters:
 * a target keeps only the items of its request id and serial (target->user is applied by
 * resolve); the certificate filters ([source] templates, eku) mark items filtered with the
 * reason. */
ssync_code ssync_plan_scan(ssync_source *src, const ssync_plan_target *target, ssync_plan *out,
                           ssync_error *err);
/* A run of several sources: the same certificate (thumbprint) scanned from two sources is kept
 * once (a recovered copy before one that failed, one in scope before a filtered one, then the
 * first source), revoked when any copy is. *dropped: how many copies left the plan. */
ssync_code ssync_plan_merge_duplicates(ssync_plan *p, size_t *dropped, ssync_error *err);
/* Finds the user of every item still in scope: the SAN UPN (by userPrincipalName); else the
 * [source] user_map's UPN for one of the certificate's identities; else the SAN e-mails (by
 * mail, then proxyAddresses). Lookups are batched, one call per kind, distinct keys only, and
 * successful ones are cached in journal (may be NULL) for [state] user_cache_hours. Then the
 * user filters (users_deny, users_allow, group) mark items filtered, and a warning is set when
 * no SAN e-mail equals the user's mail. Finally Intune is read into listing (appended, sorted):
 * the whole tenant for an untargeted run, else only the users of the items (so a listing is
 * complete exactly when ssync_plan_target_empty(target)). A target->user run drops the items
 * of other users (before any lookup when the certificate names no one matching). */
ssync_code ssync_plan_resolve(ssync_graph *g, const ssync_config *cfg,
                              const ssync_plan_target *target, ssync_journal *journal,
                              ssync_plan *p, ssync_pfx_list *listing, ssync_error *err);
/* 1 when target is NULL or has no field set. */
int ssync_plan_target_empty(const ssync_plan_target *target);
/* The pure diff: sets present, action and reason of every item from the sorted listing, the
 * policy and the time now. Only certificates of the source are ever removed. */
void ssync_plan_decide(ssync_plan *p, const ssync_pfx_list *listing, const ssync_plan_policy *pol,
                       time_t now);
void ssync_plan_count(const ssync_plan *p, ssync_plan_counts *out);

#endif
