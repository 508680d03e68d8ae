/* smimesync-lab --groups: the lab group holds about 60% of the users directly and about 25%
 * through a nested group; the rest are outside. Unknown users are
 * never members (they are not in the directory). groups.csv is what intune-emu --groups reads. */
#include "lab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The group PRNG: its own stream, so that --groups changes nothing else in the lab. */
#define LAB_GROUP_STREAM 0x67726f7570735f31ULL /* "groups_1" */

enum { OUTSIDE, DIRECT, NESTED };

int lab_plan_groups(lab *l)
{
    if (!l->opt.groups)
        return 0;
    lab_rng r;
    lab_rng_seed(&r, l->opt.seed ^ LAB_GROUP_STREAM);
    lab_rng_guid(&r, l->group_id);
    lab_rng_guid(&r, l->subgroup_id);
    unsigned known = 0;
    lab_user *first = NULL, *second = NULL;
    for (unsigned i = 0; i < l->nuser; i++) {
        lab_user *u = &l->user[i];
        if (u->unknown)
            continue;
        uint32_t x = lab_rng_below(&r, 100);
        u->in_group = x < 60 ? DIRECT : x < 85 ? NESTED : OUTSIDE;
        if (known == 0)
            first = u;
        else if (known == 1)
            second = u;
        known++;
    }
    /* small labs still show both ways in */
    if (first && second) {
        first->in_group = DIRECT;
        second->in_group = NESTED;
    }
    return 0;
}

int lab_write_groups_csv(const lab *l)
{
    if (!l->opt.groups)
        return 0;
    size_t cap = 256 + (size_t)l->nuser * (37 + 96 + 4), len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        lab_err("out of memory");
        return -1;
    }
    len += (size_t)snprintf(buf, cap, "groupId,member\n%s,%s\n", l->group_id, l->subgroup_id);
    for (unsigned i = 0; i < l->nuser; i++)
        if (l->user[i].in_group != OUTSIDE)
            len += (size_t)snprintf(buf + len, cap - len, "%s,%s\n",
                                    l->user[i].in_group == DIRECT ? l->group_id : l->subgroup_id,
                                    l->user[i].upn);
    char idline[40];
    snprintf(idline, sizeof idline, "%s\n", l->group_id);
    int rc =
        lab_write(l, "groups.csv", buf, len, 0644) || lab_write_str(l, "group-id", idline, 0644)
            ? -1
            : 0;
    free(buf);
    return rc;
}
