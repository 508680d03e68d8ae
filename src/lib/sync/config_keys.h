/* The configuration keys (config.c parses them): each key's section, name, kind and the field
 * of ssync_config it fills. One table, so the parser, the defaults and the freeing agree. */
#ifndef SSYNC_CONFIG_KEYS_H
#define SSYNC_CONFIG_KEYS_H

#include <stddef.h>

typedef enum {
    K_STR,      /* free text */
    K_ENV,      /* the name of an environment variable (that holds a secret) */
    K_PATH,     /* a file path; relative paths are relative to the config file's directory */
    K_PATHLIST, /* comma-separated paths */
    K_STRLIST,  /* comma-separated values */
    K_PATHS,    /* comma-separated paths into an ssync_kra_paths (the array is owned here) */
    K_PATH1,    /* one path into an ssync_kra_paths */
    K_BOOL,
    K_INT,   /* non-negative integer, or -1 where min allows */
    K_LIMIT, /* "N/SECONDS" or "off" */
    K_SOURCE,
    K_PADDING,
    K_PROFILE,
    K_PURPOSE,
    K_ASSERTION,
    K_LOGFORMAT,
    K_LOGLEVEL,
    K_URL,
    K_CAP, /* "N", "N%" or "off" into an ssync_cap */
} key_kind;

typedef struct {
    const char *section, *name;
    key_kind kind;
    size_t off;  /* of the field in ssync_config */
    size_t off2; /* K_LIMIT: the window field */
    long min, max;
} key_def;

/* How many keys the table holds (checked at compile time in config_keys.c). */
#define SSYNC_CONFIG_N_KEYS 60

extern const key_def ssync_config_keys[SSYNC_CONFIG_N_KEYS];

#endif
