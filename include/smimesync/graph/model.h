/* The Graph objects the client reads: userPfxCertificate entries and lists, collection pages,
 * group member pages, the diff order and the record id. Pure; tested in
 * tests/unit/graph/test_model.c. */
#ifndef SSYNC_GRAPH_MODEL_H
#define SSYNC_GRAPH_MODEL_H

#include "common/errors.h"

#include <stddef.h>

/* One userPfxCertificate as Graph lists it (Graph docs: userPFXCertificate resource type). Strings
 * are malloc'd, NULL when the property was absent or not a string; GET never returns the blob or
 * password (README of Microsoft's PFXImport module, microsoft/Intune-Resource-Access), so they are
 * not kept. thumbprint is lowercased; thumbprint_valid says whether it is 40 lowercase hex digits
 * (malformed thumbprints exist in the wild and make records undeletable). */
typedef struct ssync_pfx_entry {
    char *id;
    char *user_principal_name;
    char *thumbprint;
    int thumbprint_valid;
    char *intended_purpose;
    char *start_date_time;
    char *expiration_date_time;
    char *provider_name;
    char *key_name;
    char *padding_scheme;
    char *created_date_time;
    char *last_modified_date_time;
} ssync_pfx_entry;

typedef struct ssync_pfx_list {
    ssync_pfx_entry *items;
    size_t count, cap;
} ssync_pfx_list;

void ssync_pfx_entry_free(ssync_pfx_entry *e);
void ssync_pfx_list_free(ssync_pfx_list *l);
/* Parses one entity object (as void * to keep jansson out of this header: a json_t *). Requires a
 * string `id`. */
ssync_code ssync_pfx_entry_from_json(const void *obj, ssync_pfx_entry *out, ssync_error *err);
/* Parses one collection page {"value":[...],"@odata.nextLink":"..."}: appends the entities to
 * out, sets *next_link (malloc'd) or NULL at the end. */
ssync_code ssync_pfx_page_parse(const char *body, size_t len, ssync_pfx_list *out, char **next_link,
                                ssync_error *err);
/* One page of a group's transitiveMembers/microsoft.graph.user listing
 * {"value":[{"id","userPrincipalName"},...],"@odata.nextLink":"..."}: appends each member's
 * userPrincipalName (malloc'd, sanitized) to upns/count/cap (grown with realloc), sets *next_link
 * (malloc'd) or NULL at the end. A member without a string userPrincipalName is an error. */
ssync_code ssync_member_page_parse(const char *body, size_t len, char ***upns, size_t *count,
                                   size_t *cap, char **next_link, ssync_error *err);

/* Sorts by (userPrincipalName case-insensitive, thumbprint): the sync engine's diff key. */
void ssync_pfx_list_sort(ssync_pfx_list *l);
/* In a sorted list: the entry for (upn, thumbprint) or NULL. */
const ssync_pfx_entry *ssync_pfx_list_find(const ssync_pfx_list *l, const char *upn,
                                           const char *thumbprint);

/* The record id "{userIdWithoutDashes}-{thumbprint}" (as Microsoft's PFXImport module builds it:
 * microsoft/Intune-Resource-Access, src/PFXImportPowershell) into out (80 bytes). */
ssync_code ssync_pfx_record_id(const char *user_id, const char *thumbprint, char out[80],
                               ssync_error *err);

#endif
