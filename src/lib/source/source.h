/* The source of the certificates: recovery blobs (a folder of `certutil -getkey` files), the CA
 * database (.edb) or a PKCS#12 directory with a manifest. Everything above the sources (the plan,
 * the sync, the CLI) reaches them through this facade; each source implements the table of
 * source_int.h. */
#ifndef SSYNC_SOURCE_H
#define SSYNC_SOURCE_H

#include "common/cfg_list.h"
#include "common/errors.h"

typedef enum ssync_source_type {
    SSYNC_SOURCE_BLOBS,
    SSYNC_SOURCE_EDB,
    SSYNC_SOURCE_PFX
} ssync_source_type;

/* The [source] section; ssync_config embeds it. */
typedef struct ssync_source_cfg {
    ssync_source_type type;
    char *path;
    ssync_cfg_list crl;       /* CRL files, DER or PEM */
    ssync_cfg_list templates; /* template OIDs or names to include (empty: all) */
    ssync_cfg_list eku;       /* required EKU OIDs (empty: emailProtection) */
    char *users_allow;        /* file: one UPN per line */
    char *users_deny;         /* file: one UPN per line */
    char *group;              /* Entra group object id (transitive members) */
    char *user_map;           /* CSV: certificate e-mail or UPN -> userPrincipalName */
    char *manifest;           /* pfx source: the manifest (default: manifest.csv in path) */
    char *requester; /* edb source: only requests of this $RequesterName ("DOMAIN\\user") */
    int incremental; /* edb source: only requests after the last one a sync completed */
} ssync_source_cfg;

#endif
