/*
 * benchnum.h - numbers of the ring-3 benchmarks, shared by the kernel
 * (which starts user/bench.c with one) and that program.
 */
#ifndef BENCHNUM_H
#define BENCHNUM_H

#define BENCH_SYSCALL       1
#define BENCH_PGFAULT       2
#define BENCH_DIVZERO       3
#define BENCH_CTXSW         4
#define BENCH_CTXSW_PARTNER 5
#define BENCH_CPU           6

#endif
