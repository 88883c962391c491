/* A deadline for pthread_cond_timedwait: the wall clock (CLOCK_REALTIME,
 * the clock a default condition variable measures against) ms from now. */
#ifndef SX_CORE_DEADLINE_H
#define SX_CORE_DEADLINE_H

#include <time.h>

static inline struct timespec sx_deadline_after_ms(long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

#endif
