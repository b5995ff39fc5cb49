/*
 * checksum.c - the sched scenario's worker: computes checksum(seed) and
 * returns it as its exit status. It never yields: only the timer can
 * take the CPU away. So that the scenario can be sure that happened, it
 * keeps the CPU busy until it has been preempted twice (or gives up after
 * 1000 ticks, and the kernel reports the failure).
 */
#include "user.h"

int main(uint32_t seed, uint32_t unused)
{
    (void)unused;
    uint32_t sum = checksum(seed, CHECKSUM_ROUNDS);
    int start = uptime();
    while (preemptions() < 2 && uptime() - start < 1000)
        ;
    return (int)sum;
}
