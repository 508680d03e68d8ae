/* A list value of the configuration file ("a, b, c"): a few paths or names, kept in place. */
#ifndef SSYNC_CFG_LIST_H
#define SSYNC_CFG_LIST_H

#include <stddef.h>

#define SSYNC_CFG_MAX_LIST 16

typedef struct ssync_cfg_list {
    char *v[SSYNC_CFG_MAX_LIST];
    size_t n;
} ssync_cfg_list;

#endif
