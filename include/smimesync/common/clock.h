/* The one monotonic clock: elapsed time for deadlines, rates and back-off (never wall time). */
#ifndef SSYNC_CLOCK_H
#define SSYNC_CLOCK_H

/* Seconds on CLOCK_MONOTONIC, as a double. */
double ssync_mono(void);

#endif
