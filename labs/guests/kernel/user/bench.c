/*
 * bench.c - the microbenchmarks that run in ring 3 (the others run in the
 * kernel, see ../bench.c). Each prints one line:
 *     bench=NAME iters=N cycles_per_op=C
 * The kernel starts this program with the benchmark's number and the
 * iteration count.
 */
#include "user.h"
#include "../benchnum.h"

#define PAGE 4096
#define PAGES_PER_ROUND 64

static void report(const char *name, uint32_t iters, uint64_t cycles, uint32_t ops_per_iter)
{
    uint32_t ops = iters * ops_per_iter;
    printf("bench=%s iters=%u cycles_per_op=%u\n", name, iters,
           (uint32_t)divide_u64(cycles, ops ? ops : 1));
}

static uint64_t bench_syscall(uint32_t iters)
{
    uint64_t start = read_tsc();
    for (uint32_t i = 0; i < iters; i++)
        getpid();
    return read_tsc() - start;
}

/* Each new heap page faults once on first touch, and the kernel maps a
 * zeroed page. Pages are given back every PAGES_PER_ROUND faults, so any
 * iteration count fits in memory; that sbrk is part of the cost. */
static uint64_t bench_pgfault(uint32_t iters)
{
    uint64_t start = read_tsc();
    for (uint32_t done = 0; done < iters; ) {
        uint32_t n = iters - done < PAGES_PER_ROUND ? iters - done : PAGES_PER_ROUND;
        volatile char *pages = sbrk((int)(n * PAGE));
        for (uint32_t i = 0; i < n; i++)
            pages[i * PAGE] = 1;
        sbrk(-(int)(n * PAGE));
        done += n;
    }
    return read_tsc() - start;
}

/* The divide error handler: the kernel pushed the address of the faulting
 * `divl %ecx` (2 bytes: f7 f1); return to the instruction after it. Uses
 * lea, not add, so that the flags survive too. */
extern void skip_divide(void);
asm(".text\n"
    "skip_divide:\n"
    "    pushl %eax\n"
    "    movl 4(%esp), %eax\n"
    "    leal 2(%eax), %eax\n"
    "    movl %eax, 4(%esp)\n"
    "    popl %eax\n"
    "    ret\n");

static uint64_t bench_divzero(uint32_t iters)
{
    set_divide_handler(skip_divide);
    uint64_t start = read_tsc();
    for (uint32_t i = 0; i < iters; i++)
        asm volatile("xorl %%edx, %%edx\n\t"
                     "movl $1, %%eax\n\t"
                     "xorl %%ecx, %%ecx\n\t"
                     "divl %%ecx"
                     ::: "eax", "ecx", "edx", "cc");
    uint64_t cycles = read_tsc() - start;
    set_divide_handler(0);
    return cycles;
}

/* Two copies of this program yield to each other; each iteration of one
 * is two switches (there and back). */
static uint64_t bench_ctxsw(uint32_t iters)
{
    uint64_t start = read_tsc();
    for (uint32_t i = 0; i < iters; i++)
        yield();
    return read_tsc() - start;
}

/* Integer work with no exits at all: the baseline. */
static uint64_t bench_cpu(uint32_t iters)
{
    uint64_t start = read_tsc();
    volatile uint32_t sink = checksum(iters, iters);
    (void)sink;
    return read_tsc() - start;
}

int main(uint32_t which, uint32_t iters)
{
    switch (which) {
    case BENCH_SYSCALL: report("syscall", iters, bench_syscall(iters), 1); break;
    case BENCH_PGFAULT: report("pgfault", iters, bench_pgfault(iters), 1); break;
    case BENCH_DIVZERO: report("divzero", iters, bench_divzero(iters), 1); break;
    case BENCH_CTXSW:   report("ctxsw", iters, bench_ctxsw(iters), 2); break;
    case BENCH_CTXSW_PARTNER: bench_ctxsw(iters); break;
    case BENCH_CPU:     report("cpu", iters, bench_cpu(iters), 1); break;
    default: printf("bench: unknown benchmark %u\n", which); return 1;
    }
    return 0;
}
