/* smimesync status --devices: per user and managed device, where each certificate we manage in
 * Intune stands (installed, failed, pending, or not delivered by rule, with the reason), from
 * Graph's managedDeviceCertificateStates. O(profiles + groups + pages) Graph requests: never one
 * per user or device. The result is a struct (the table, --json and the HTML page render it). */
#ifndef SSYNC_CLI_DEVICES_H
#define SSYNC_CLI_DEVICES_H

#include "graph/intune.h"

#include <stddef.h>
#include <stdio.h>

enum dev_state {
    DEV_INSTALLED,
    DEV_FAILED,     /* installFailed (or another failure state), with Intune's error code */
    DEV_PENDING,    /* uploaded, no state on the device yet */
    DEV_HIDDEN,     /* not delivered by rule: a newer certificate of the same purpose wins */
    DEV_UNASSIGNED, /* not delivered by rule: the user is outside every assignment */
    DEV_NO_PROFILE, /* not delivered by rule: no PKCS imported profile (with our purpose) */
    DEV__COUNT
};

struct dev_row {
    char upn[256];
    char device[128]; /* "" for a user without managed devices */
    ssync_platform platform;
    char thumbprint[41];
    enum dev_state state;
    long error_code;
    char detail[240]; /* the reason, the hint, or how long it has been pending */
};

struct dev_report {
    struct dev_row *rows;
    size_t n, cap;
    size_t counts[DEV__COUNT];
    size_t users, devices, users_without_devices;
    unsigned long requests; /* Graph requests the evaluation cost */
};

/* Reads Intune through g (records of user, or all when NULL) and fills rep. Returns 0, or -1
 * with the reason in why (a 403 names the permission). */
int cli_devices_collect(ssync_graph *g, const char *user, struct dev_report *rep, char *why,
                        size_t whylen);
void cli_devices_free(struct dev_report *rep);
/* 1 when a managed certificate is not where it should be (failed, pending, or kept off a device by
 * a missing profile or assignment): status exits 4. */
int cli_devices_differ(const struct dev_report *rep);

const char *cli_dev_state_text(enum dev_state s);
const char *cli_dev_state_json(enum dev_state s);
void cli_devices_print(const struct dev_report *rep, FILE *out);
int cli_devices_print_json(const struct dev_report *rep, FILE *out);
/* The HTML page (a section "Devices"), written to path atomically. 0 or -1 with why. */
int cli_devices_write_html(const struct dev_report *rep, const char *path, char *why,
                           size_t whylen);

#endif
