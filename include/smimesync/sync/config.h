/* The configuration file (INI, parsed by inih): one struct that holds the whole configuration.
 * Unknown sections and keys, and bad values, are errors that name the file, line and key.
 * Secrets are never values in this file: it names files (or environment variables) holding them. */
#ifndef SSYNC_CONFIG_H
#define SSYNC_CONFIG_H

#include "connector/connector.h"
#include "common/errors.h"
#include "pfx/pfx.h"
#include "record/record.h"
#include "recover/kra.h"
#include "source/source.h"

/* A path value "credential:NAME" names $CREDENTIALS_DIRECTORY/NAME: a secret systemd hands the
 * service through LoadCredential= (any path key; meant for the KRA key and password, the client
 * secret and key). */
#define SSYNC_CREDENTIAL_PREFIX "credential:"

/* The [intune] section: the app registration, its credentials and the limits of the Graph client
 * (sync/connect.h opens it). */
typedef struct ssync_intune_cfg {
    char *tenant_id;
    char *client_id;
    char *client_secret_file;
    char *client_secret_env;
    char *client_certificate;
    char *client_key;
    int assertion_ps256; /* 0: RS256 + x5t (default), 1: PS256 + x5t#S256 */
    char *authority;
    char *graph;
    char *ca_bundle;
    int write_limit;     /* writes per window */
    double write_window; /* seconds */
    int request_limit;   /* requests per window */
    double request_window;
    int max_in_flight;
    int timeout; /* seconds per request */
    /* delivery checks (`check`, `status --devices`) */
    ssync_cfg_list platforms;    /* ios, macos, windows, android (empty: all four) */
    char *connector_min_version; /* NULL: SSYNC_CONNECTOR_MIN_VERSION */
    int connector_checkin_hours; /* a connector silent longer is stale (default 24) */
    int expiry_warning_days;     /* app and KRA certificates expiring sooner warn (default 30) */
} ssync_intune_cfg;

/* At most this many [source "NAME"] sections. */
#define SSYNC_CFG_MAX_SOURCES 16

/* A change cap ([policy] max_removals, max_uploads): at most `value` writes of its kind in one
 * run, or `value` percent of the records smimesync manages in Intune, never fewer than `floor`. */
typedef struct ssync_cap {
    int value;   /* -1: no cap */
    int percent; /* value is a percentage (0-100) */
    int floor;   /* the least a percentage allows (the default's 10; 0 for a configured one) */
} ssync_cap;

/* Certificate Connector versions are supported for 6 months; this is the minimum Maester checks
 * (intune-delivery reference, section 4). */
#define SSYNC_CONNECTOR_MIN_VERSION "6.2406.0.1001"

typedef struct ssync_config {
    char *path;              /* the file this came from */
    ssync_source_cfg source; /* [source], named "default" */
    int source_given;        /* [source] has a key */
    /* the [source "NAME"] sections in file order (an array of SSYNC_CFG_MAX_SOURCES, NULL when
     * there is none); the run's sources are ssync_config_source_at */
    ssync_source_cfg *named;
    size_t n_named;
    ssync_kra_cfg kra; /* its lists and strings are owned here (password_file: at most one) */
    struct {
        char *public_key;
        char *provider_name;
        char *key_name;
        ssync_padding padding;
    } connector;
    struct {
        ssync_pfx_profile profile;
        int include_chain;
    } pfx;
    ssync_intune_cfg intune;
    struct {
        int remove_revoked;     /* default 1 */
        int keep_newest;        /* per user; 0 = keep all (default) */
        int drop_expired_after; /* days; -1 = never (default) */
        ssync_purpose both_purpose;
        int include_expired;    /* default 1: old mail stays readable */
        ssync_cap max_removals; /* default 10 % of the managed records, at least 10 */
        ssync_cap max_uploads;  /* default none */
    } policy;
    struct {
        char *path;
        int user_cache_hours; /* user lookups reused for this long; 0: off (default 24) */
        int user_negative_cache_minutes; /* "not in Entra ID" reused this long (default 60) */
        int lock_wait; /* seconds a writing run waits for another's state lock; -1: until free */
    } state;
    struct {
        char *path; /* the audit trail (audit/audit.h); NULL: none */
    } audit;
    struct {
        int json;    /* log format: 0 text, 1 JSON lines */
        int journal; /* 1: native journal entries ([log] format = journal), 0: never (text or
                        json given), -1: when systemd connected stderr to the journal */
        int level;   /* 0 error, 1 warn, 2 info, 3 debug */
    } log;
    struct {
        char *textfile; /* Prometheus textfile (node exporter's textfile collector); NULL: none */
    } metrics;
} ssync_config;

/* Fills defaults, then reads path. On error, err->msg is "FILE:LINE: key 'K': reason". */
ssync_code ssync_config_load(const char *path, ssync_config *cfg, ssync_error *err);
/* Same, from a string (for tests); name is used in messages. */
ssync_code ssync_config_parse_string(const char *text, const char *name, ssync_config *cfg,
                                     ssync_error *err);
void ssync_config_defaults(ssync_config *cfg);
/* The sources of a run, in file order: [source] (when it has a key, or when there is no named
 * section: the single-source configuration of old) and every [source "NAME"]. Never 0. */
size_t ssync_config_source_count(const ssync_config *cfg);
/* The i-th source of the run (i < ssync_config_source_count), else NULL. */
const ssync_source_cfg *ssync_config_source_at(const ssync_config *cfg, size_t i);
/* For messages about client_secret_env and password_env: the name when it looks like a
 * conventional variable name (capitals, digits, _), else a placeholder, since an administrator may
 * have put the secret itself there. Never NULL. */
const char *ssync_env_name_shown(const char *name);
void ssync_config_free(ssync_config *cfg);

#endif
