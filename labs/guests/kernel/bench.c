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

#define UART_INTERRUPT_ENABLE 0x3f9   /* uart.c leaves only receive enabled */
#define UART_LINE_STATUS 0x3fd
#define IER_TX_EMPTY 0x02             /* 16550 IER bit 1: THR-empty interrupt */
#define LSR_TX_EMPTY 0x20

/* What a ring-0 benchmark returns instead of cycles when it could not
 * measure what it claims to (it has said why). */
#define BENCH_FAILED UINT64_MAX

static void report(const char *name, uint32_t iters, uint64_t cycles)
{
    kprintf("bench=%s iters=%u cycles_per_op=%u\n", name, iters,
            (uint32_t)divide_u64(cycles, iters ? iters : 1));
}

#ifdef PV
/* pushf/popf and hlt are not in the pv kernel: say so, and fail, rather
 * than time something else under their names. */
static uint64_t bench_absent(uint32_t iters)
{
    (void)iters;
    kprintf("this benchmark's instructions are not in the pv kernel\n");
    return BENCH_FAILED;
}

/* The same question the native kernel asks the UART's line status port
 * ("is there input?"), asked the paravirtual way: the console ring's
 * indices in the shared info page. A memory read: no exit, no trap. */
static uint64_t bench_in(uint32_t iters)
{
    uint32_t ready = 0;
    uint64_t start = arch_read_tsc();
    for (uint32_t i = 0; i < iters; i++)
        ready += uart_has_input();
    uint64_t cycles = arch_read_tsc() - start;
    return ready > iters ? BENCH_FAILED : cycles;   /* (keeps the reads) */
}
#define bench_pushf_popf bench_absent
#define bench_hlt bench_absent
#else
/* A port read of an emulated device: the UART's line status. */
static uint64_t bench_in(uint32_t iters)
{
    uint64_t start = arch_read_tsc();
    for (uint32_t i = 0; i < iters; i++)
        arch_inb(UART_LINE_STATUS);
    return arch_read_tsc() - start;
}
#endif /* PV: bench_in */

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
        arch_set_pte((pte_t *)pte, *pte ^ PTE_SOFT);
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

#ifndef PV
static uint64_t bench_pushf_popf(uint32_t iters)
{
    uint64_t start = arch_read_tsc();
    for (uint32_t i = 0; i < iters; i++)
        asm volatile("pushfl; popfl" ::: "cc", "memory");
    return arch_read_tsc() - start;
}

/*
 * HLT woken at once by an interrupt that is already pending, so that no
 * operation waits for real time (the PIT's 10 ms period). The interrupt is
 * the UART's "transmitter holding register empty" (16550 datasheet, IER bit
 * 1 and table IV): THR is always empty here (nothing is sent during the
 * loop), and turning that enable bit on while it is empty raises IRQ 4 at
 * once - on a real 16550, in QEMU's serial model and in vmlab's. Turning it
 * off lowers the line again, so the next turn-on is a new edge for the
 * edge-triggered PIC. One operation, with IF = 0 at its start, is:
 *   outb IER (receive + THR empty)  IRQ 4 rises and waits at the PIC;
 *   sti; hlt                        HLT halts with the interrupt pending
 *                                   (sti holds it off for one instruction),
 *                                   so it is woken at once;
 *   the delivery of vector T_IRQ0+4 through the IDT, vectors.S (pushes,
 *   reloads ds/es), trap(), hardware_interrupt(): the handler's port
 *   accesses are one inb of the line status (console_input_interrupt:
 *   no byte waiting) and the EOI outb to the master PIC; then popal, iret;
 *   cli;
 *   outb IER (receive only)         IRQ 4 falls.
 * The handler is the kernel's ordinary IRQ 4 path, unchanged: it does not
 * read IIR, so the request stays up until the last outb takes the enable
 * away (which also keeps console receive working throughout: IER bit 0
 * stays as uart.c set it, and is what is restored).
 * That is four port accesses, sti, hlt, cli, an interrupt and an iret: the
 * cost of an idle kernel's wake-up, not of HLT alone (which cannot be
 * timed alone: with no interrupt pending it waits, with IF = 1 and one
 * pending the interrupt comes before it). Under trapemu the sti traps and
 * the monitor emulates the hlt in the same trap (the STI shadow), then
 * injects the interrupt: nine traps per operation in all (sti, three out,
 * one in, two segment loads in vectors.S, iret, cli). The PIT keeps ticking: a tick that falls inside
 * the loop adds one timer interrupt (about one per 10 ms of the run). If
 * the UART interrupt did not come, every HLT would wait for a tick; that
 * is checked, and fails the benchmark rather than report the PIT period.
 */
static uint64_t bench_hlt(uint32_t iters)
{
    arch_irq_disable();
    uint8_t ier = arch_inb(UART_INTERRUPT_ENABLE) & (uint8_t)~IER_TX_EMPTY;
    while (!(arch_inb(UART_LINE_STATUS) & LSR_TX_EMPTY))
        ;                               /* the last byte of output is gone */
    uint32_t ticks_before = ticks;
    uint64_t start = arch_read_tsc();
    for (uint32_t i = 0; i < iters; i++) {
        arch_outb(UART_INTERRUPT_ENABLE, ier | IER_TX_EMPTY);
        arch_wait_for_interrupt();      /* sti; hlt; cli */
        arch_outb(UART_INTERRUPT_ENABLE, ier);
    }
    uint64_t cycles = arch_read_tsc() - start;
    uint32_t timer_ticks = ticks - ticks_before;
    if (iters >= 10 && timer_ticks >= iters / 2) {
        kprintf("bench: hlt waited for the timer (%u ticks in %u operations): the UART's "
                "THR-empty interrupt did not come\n", timer_ticks, iters);
        return BENCH_FAILED;
    }
    return cycles;
}
#endif /* PV: bench_pushf_popf, bench_hlt */

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
    { "cpu", NULL, BENCH_CPU },           { "hlt", bench_hlt, 0 },
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
        uint64_t cycles = benchmarks[i].kernel(iters);
        if (cycles == BENCH_FAILED)
            return EXIT_FAILED;
        report(name, iters, cycles);
        return EXIT_OK;
    }
    kprintf("unknown benchmark \"%s\"; the benchmarks are:", name);
    bench_list();
    return EXIT_BAD_COMMAND;
}
