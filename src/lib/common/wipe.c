#include "common/wipe.h"

#include <string.h>

/* Its own frame, below the caller's: the frames of the functions the caller called before. */
__attribute__((noinline)) void ssync_wipe_stack(void)
{
    unsigned char pad[SSYNC_WIPE_STACK_BYTES];
    explicit_bzero(pad, sizeof pad); /* never optimised away */
}
