/* What Intune does after the upload, as Graph (beta) shows it: the PKCS imported and trusted
 * certificate profiles with their assignments, the certificate connectors, Outlook's S/MIME app
 * configuration, the managed devices and, per profile, the certificate state on each device
 * (Graph docs: deviceConfiguration, deviceConfigurationAssignment, ndesConnector,
 * certificateConnectorDetails, managedDeviceMobileAppConfiguration, managedDevice,
 * managedDeviceCertificateState). Every listing follows @odata.nextLink; none costs a request
 * per user or device. A 403 leaves its detail in ssync_graph_last_failure (http_status 403): the
 * caller reports the missing permission. Strings are sanitized (no control characters). */
#ifndef SSYNC_GRAPH_INTUNE_H
#define SSYNC_GRAPH_INTUNE_H

#include "graph/graph.h"

#include <time.h>

typedef enum ssync_platform {
    SSYNC_PLATFORM_IOS,
    SSYNC_PLATFORM_MACOS,
    SSYNC_PLATFORM_WINDOWS,
    SSYNC_PLATFORM_ANDROID,
    SSYNC_PLATFORM_COUNT,
    SSYNC_PLATFORM_OTHER = SSYNC_PLATFORM_COUNT
} ssync_platform;

/* "ios", "macos", "windows", "android" (the [intune] platforms names), "other". */
const char *ssync_platform_name(ssync_platform p);
/* From a [intune] platforms name; SSYNC_PLATFORM_OTHER when unknown. */
ssync_platform ssync_platform_from_name(const char *name);
/* From a managedDevice operatingSystem ("iOS", "iPadOS", "macOS", "Windows", "Android"). */
ssync_platform ssync_platform_from_os(const char *os);

typedef enum ssync_target_kind {
    SSYNC_TARGET_GROUP,
    SSYNC_TARGET_EXCLUDE,
    SSYNC_TARGET_ALL_USERS, /* allLicensedUsers or allDevices */
    SSYNC_TARGET_OTHER,
} ssync_target_kind;

typedef struct ssync_intune_target {
    ssync_target_kind kind;
    char group_id[40];
} ssync_intune_target;

typedef enum ssync_profile_kind { SSYNC_PROFILE_PFX, SSYNC_PROFILE_ROOT } ssync_profile_kind;

typedef struct ssync_intune_profile {
    char id[64];
    char type[80]; /* the @odata.type without "#microsoft.graph." */
    char name[128];
    ssync_profile_kind kind;
    ssync_platform platform;
    char purpose[24];        /* PFX: intendedPurpose */
    unsigned char *root_der; /* ROOT: trustedRootCertificate (malloc'd), or NULL */
    size_t root_len;
    ssync_intune_target *targets;
    size_t ntargets;
} ssync_intune_profile;

typedef struct ssync_intune_profiles {
    ssync_intune_profile *v;
    size_t n;
} ssync_intune_profiles;

/* Every PKCS imported and trusted certificate profile, each with its assignments (one listing of
 * deviceConfigurations, then one of each such profile's assignments). Needs
 * DeviceManagementConfiguration.Read.All. */
ssync_code ssync_intune_list_profiles(ssync_graph *g, ssync_intune_profiles *out, ssync_error *err);
void ssync_intune_profiles_free(ssync_intune_profiles *p);

typedef struct ssync_intune_connector {
    char name[128];
    char version[40];
    int active;       /* ndesConnectors state "active": 1, other: 0, unknown: -1 */
    time_t last_seen; /* lastConnectionDateTime / lastCheckinDateTime; 0 unknown */
} ssync_intune_connector;

typedef struct ssync_intune_connectors {
    ssync_intune_connector *v;
    size_t n;
} ssync_intune_connectors;

/* ndesConnectors and certificateConnectorDetails, joined by machine name. Needs
 * DeviceManagementConfiguration.Read.All. */
ssync_code ssync_intune_list_connectors(ssync_graph *g, ssync_intune_connectors *out,
                                        ssync_error *err);
void ssync_intune_connectors_free(ssync_intune_connectors *c);

/* The number of app configurations that set com.microsoft.outlook.Mail.SMIMEEnabled to true
 * (iOS settings[] or Android payloadJson). Needs DeviceManagementApps.Read.All. */
ssync_code ssync_intune_outlook_smime(ssync_graph *g, size_t *enabled, ssync_error *err);

typedef struct ssync_intune_device {
    char id[64];
    char upn[256];
    char name[128];
    ssync_platform platform;
} ssync_intune_device;

typedef struct ssync_intune_devices {
    ssync_intune_device *v;
    size_t n, cap;
} ssync_intune_devices;

/* Every managed device ($select=id,userPrincipalName,deviceName,operatingSystem). Needs
 * DeviceManagementManagedDevices.Read.All. */
ssync_code ssync_intune_list_devices(ssync_graph *g, ssync_intune_devices *out, ssync_error *err);
void ssync_intune_devices_free(ssync_intune_devices *d);

typedef struct ssync_intune_state {
    char thumbprint[41]; /* lowercase */
    char device[128];    /* deviceDisplayName */
    char state[32];      /* certificateIssuanceState */
    long error_code;     /* certificateErrorCode */
    time_t changed;      /* lastCertificateStateChangeDateTime */
} ssync_intune_state;

typedef struct ssync_intune_states {
    ssync_intune_state *v;
    size_t n, cap;
} ssync_intune_states;

/* The certificate states under one PKCS imported profile, appended to out (one paged listing
 * with $select). Needs DeviceManagementConfiguration.Read.All. */
ssync_code ssync_intune_list_states(ssync_graph *g, const ssync_intune_profile *p,
                                    ssync_intune_states *out, ssync_error *err);
void ssync_intune_states_free(ssync_intune_states *s);

/* "2026-12-01T00:00:00Z" (fraction and offset allowed) -> UTC seconds; 0 when unreadable. */
time_t ssync_graph_parse_time(const char *s);

#endif
