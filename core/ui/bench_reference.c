/*
 * bench_reference.c - the published figures printed beside the measurements.
 *
 * Keith Adams and Ole Agesen, "A Comparison of Software and Hardware
 * Techniques for x86 Virtualization", ASPLOS 2006: cycles per operation on
 * a Pentium 4 672, natively, under VMware's binary translator and under
 * first-generation VT-x (as quoted in docs/bench.md, "The published
 * figures"). The teaching kernel's benchmarks of the same names reproduce
 * those rows; i386 has no cr8, so the cr3 write stands in for "cr8wr".
 *
 * Absolute cycles on a 2006 CPU say little about this machine; the shape
 * does: which technique wins which row, and by how much. That is why the
 * report prints each figure as a multiple of native beside ours.
 */
#include "bench.h"

#include <string.h>

const char bench_reference_source[] =
    "Adams & Agesen, ASPLOS 2006: cycles on a Pentium 4 672, native / BT (VMware) / VT-x";

static const struct bench_reference_row rows[] = {
    {"syscall", "syscall", 242, 2308, 246},
    {"in", "in", 3209, 216, 15826},
    {"cr3", "cr8wr", 150, 35, 177},
    {"callret", "call/ret", 11, 51, 11},
    {"pgfault", "pgfault", 1093, 3927, 11242},
    {"divzero", "divzero", 889, 3223, 1014},
    {"ptemod", "ptemod", 1, 391, 12733},
};

const struct bench_reference_row *bench_reference_find(const char *benchmark)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (strcmp(rows[i].benchmark, benchmark) == 0)
            return &rows[i];
    return NULL;
}
