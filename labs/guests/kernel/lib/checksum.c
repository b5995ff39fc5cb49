/*
 * checksum.c - the work the sched scenario's processes do.
 */
#include "lib.h"

/* A linear congruential step (Numerical Recipes' constants) mixed with
 * the round number: cheap, integer-only, and any lost or corrupted
 * register during a context switch changes the result. */
uint32_t checksum(uint32_t seed, uint32_t rounds)
{
    uint32_t sum = seed;
    for (uint32_t i = 0; i < rounds; i++)
        sum = (sum * 1664525u + 1013904223u) ^ (i << 3) ^ (sum >> 13);
    return sum;
}
