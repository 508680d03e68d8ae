/* Building Graph request URLs: OData string literals and $filter queries, percent-encoding, and
 * the guards of @odata.nextLink paging (same origin, no loops). Pure; tested in
 * tests/unit/graph/test_query.c. */
#ifndef SSYNC_GRAPH_QUERY_H
#define SSYNC_GRAPH_QUERY_H

#include <stddef.h>
#include <stdint.h>

/* OData string literal: the value in single quotes, each ' doubled (Graph docs: Use query
 * parameters, "Escaping single quotes"). malloc'd. */
char *ssync_odata_quote(const char *value);
/* Percent-encodes every byte except RFC 3986 unreserved characters. malloc'd. */
char *ssync_url_escape(const char *value);
/* The query of a userPfxCertificates lookup (no leading '?'):
 * "$filter=" + escaped "tolower(userPrincipalName) eq '<upn lowercased>'"
 * [+ " and tolower(thumbprint) eq '<thumbprint lowercased>'"]. Lowercasing is ASCII only.
 * thumbprint may be NULL. malloc'd, NULL on bad input or memory. */
char *ssync_pfx_filter_query(const char *upn, const char *thumbprint);

typedef enum ssync_user_key {
    SSYNC_USER_BY_UPN,   /* userPrincipalName eq '...' */
    SSYNC_USER_BY_MAIL,  /* mail eq '...' */
    SSYNC_USER_BY_PROXY, /* proxyAddresses/any(x:x eq 'smtp:...') */
} ssync_user_key;
/* "$filter=<escaped filter>&$select=id,userPrincipalName,mail" for a /users lookup
 * (all three filters work without advanced query parameters: Graph docs, Advanced query
 * capabilities on Microsoft Entra ID objects). malloc'd. */
char *ssync_user_filter_query(ssync_user_key by, const char *value);

/* 1 when link is an absolute https URL on the same scheme, host and port as base (the
 * configured Graph URL): a nextLink elsewhere would carry our token to another host. */
int ssync_nextlink_allowed(const char *link, const char *base);

/* Set of links already followed (nextLink loop guard). */
typedef struct ssync_linkset {
    uint64_t *slots;
    size_t cap, count;
} ssync_linkset;
/* Returns 1 when link was new (and is now in the set), 0 when already seen, -1 on memory. */
int ssync_linkset_add(ssync_linkset *s, const char *link);
void ssync_linkset_free(ssync_linkset *s);

#endif
