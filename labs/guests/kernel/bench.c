/*
 * bench.c - the microbenchmarks (bench=NAME iters=N): the rows of Adams
 * and Agesen's table (ASPLOS 2006), adapted to i386, plus a few more.
 *
 * Those that time a privileged operation run here in ring 0; those that
 * time a crossing from ring 3 run in user/bench.c. Every one prints
 *     bench=NAME iters=N cycles_per_op=C
 * Cycles come from rdtsc and include the loop around the operation.
 */
#include "kernel.h"
#include "arch.h"
#include "benchnum.h"

#define UART_LINE_STATUS 0x3fd

static void report(const char *name, uint32_t iters, uint64_t cycles)
{
    kprintf("bench=%s iters=%u cycles_per_op=%u\n", name, iters,
            (uint32_t)divide_u64(cycles, iters ? iters : 1));
}

/* A port read of an emulated device: the UART's line status. */
static uint64_t bench_in(uint32_t iters)
{
    uint64_t start = arch_read_tsc();
    for (uint32_t i = 0; i < iters; i++)
        arch_inb(UART_LINE_STATUS);
    return arch_read_tsc() - start;
}

/* Rewriting CR3 with its own value: the whole TLB is flushed (SDM vol. 3,
 * 4.10.4.1). Stands in for the table's cr8 write, which i386 lacks. */
static uint64_t bench_cr3(uint32_t iters)
{
    uint32_t cr3 = arch_get_cr3();
    uint64_t start = arch_read_tsc();
    for (uint32_t i = 0; i < iters; i++)
        arch_set_cr3(cr3);
    return arch_read_tsc() - start;
}

static void __attribute__((noinline)) empty_function(void)
{
    asm volatile("");
}

static uint64_t bench_callret(uint32_t iters)
{
    uint64_t start = arch_read_tsc();
    for (uint32_t i = 0; i < iters; i++)
        empty_function();
    return arch_read_tsc() - start;
}

/* Flip a software bit in the page-table entry of one kernel page, then
 * invlpg it: what a kernel does to change a mapping. Cheap on hardware;
 * a monitor that shadows page tables must notice every such write. */
static uint8_t scratch_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static uint64_t bench_ptemod(uint32_t iters)
{
    volatile pte_t *pte = vm_lookup(vm_kernel_directory(), (uint32_t)scratch_page, false);
    uint64_t start = arch_read_tsc();
    for (uint32_t i = 0; i < iters; i++) {
        *pte ^= PTE_SOFT;
        arch_invlpg((uint32_t)scratch_page);
    }
    return arch_read_tsc() - start;
}

static uint64_t bench_cli_sti(uint32_t iters)
{
    uint64_t start = arch_read_tsc();
    for (uint32_t i = 0; i < iters; i++) {
        arch_irq_disable();
        arch_irq_enable();
    }
    arch_irq_disable();
    return arch_read_tsc() - start;
}

static uint64_t bench_pushf_popf(uint32_t iters)
{
    uint64_t start = arch_read_tsc();
    for (uint32_t i = 0; i < iters; i++)
        asm volatile("pushfl; popfl" ::: "cc", "memory");
    return arch_read_tsc() - start;
}

/* Run user/bench.c (twice for ctxsw: two processes yielding to each
 * other); it prints its own line. */
static int run_user_bench(uint32_t number, uint32_t iters)
{
    int pids[2] = { -1, -1 };
    pids[0] = proc_spawn("bench", number, iters);
    if (number == BENCH_CTXSW)
        pids[1] = proc_spawn("bench", BENCH_CTXSW_PARTNER, iters);
    if (pids[0] < 0 || (number == BENCH_CTXSW && pids[1] < 0)) {
        kprintf("bench: cannot create the benchmark process\n");
        return EXIT_FAILED;
    }
    proc_run_all();
    for (int i = 0; i < 2 && pids[i] >= 0; i++) {
        struct proc_result r;
        if (!proc_result(pids[i], &r) || r.killed || r.status != 0) {
            kprintf("bench: the benchmark process failed\n");
            return EXIT_FAILED;
        }
    }
    return EXIT_OK;
}

static const struct {
    const char *name;
    uint64_t (*kernel)(uint32_t iters);   /* runs in ring 0, or */
    uint32_t user_number;                 /* runs in user/bench.c */
} benchmarks[] = {
    { "syscall", NULL, BENCH_SYSCALL },   { "in", bench_in, 0 },
    { "cr3", bench_cr3, 0 },              { "callret", bench_callret, 0 },
    { "pgfault", NULL, BENCH_PGFAULT },   { "divzero", NULL, BENCH_DIVZERO },
    { "ptemod", bench_ptemod, 0 },        { "cli-sti", bench_cli_sti, 0 },
    { "pushf-popf", bench_pushf_popf, 0 }, { "ctxsw", NULL, BENCH_CTXSW },
    { "cpu", NULL, BENCH_CPU },
};

void bench_list(void)
{
    for (size_t i = 0; i < sizeof(benchmarks) / sizeof(benchmarks[0]); i++)
        kprintf(" %s", benchmarks[i].name);
    kprintf("\n");
}

int bench_run(const char *name, uint32_t iters)
{
    for (size_t i = 0; i < sizeof(benchmarks) / sizeof(benchmarks[0]); i++) {
        if (strcmp(benchmarks[i].name, name) != 0)
            continue;
        proc_forget_all();
        if (!benchmarks[i].kernel)
            return run_user_bench(benchmarks[i].user_number, iters);
        report(name, iters, benchmarks[i].kernel(iters));
        return EXIT_OK;
    }
    kprintf("unknown benchmark \"%s\"; the benchmarks are:", name);
    bench_list();
    return EXIT_BAD_COMMAND;
}
