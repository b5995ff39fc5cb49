/*
 * scenarios.c - the test scenarios chosen with test=NAME.
 *
 * Each prints a transcript that is the same on every run and under every
 * technique: processes that run at the same time print nothing, and the
 * kernel prints their results afterwards, in pid order. A scenario returns
 * EXIT_OK, or says what went wrong and returns EXIT_FAILED.
 */
#include "kernel.h"
#include "arch.h"

int scenario_sensitive(void);

static int failed(const char *scenario, const char *why)
{
    kprintf("%s: FAILED: %s\n", scenario, why);
    return EXIT_FAILED;
}

/* Run one program to its end; its result in *r. */
static bool run_one(const char *program, uint32_t arg0, uint32_t arg1,
                    int *pid, struct proc_result *r)
{
    *pid = proc_spawn(program, arg0, arg1);
    if (*pid < 0)
        return false;
    proc_run_all();
    return proc_result(*pid, r);
}

static void describe_end(const char *scenario, int pid, const struct proc_result *r)
{
    if (r->killed)
        kprintf("%s: pid %d was killed\n", scenario, pid);
    else
        kprintf("%s: pid %d exited with status %d\n", scenario, pid, r->status);
}

/* ---- boot: the machine works ---- */

/* Map a fresh page at an address far from RAM and see it through both
 * addresses: only a working MMU makes the two agree. */
static bool paging_works(void)
{
    const uint32_t va = 0x30000000;
    uint32_t *page = page_alloc();
    if (!page || vm_map(vm_kernel_directory(), va, (uint32_t)page, PTE_WRITE) < 0)
        return false;
    page[1] = 0x600dcafe;
    bool same = ((volatile uint32_t *)va)[1] == 0x600dcafe;
    vm_unmap(vm_kernel_directory(), va);
    arch_invlpg(va);
    page_free(page);
    return same;
}

static int scenario_boot(void)
{
    kprintf("boot: %u MiB of memory, %u usable regions in the memory map\n",
            boot.memory_mib, boot.usable_regions);
    if (boot.usable_regions < 1 || boot.ram_end <= 0x100000)
        return failed("boot", "no usable memory above 1 MiB");
    bool paging = paging_works();
    kprintf("boot: paging on, a page mapped at 0x30000000 reads back: %s\n",
            paging ? "yes" : "no");
    uint32_t start = ticks;
    while (ticks - start < 10)
        arch_wait_for_interrupt();
    kprintf("boot: timer ticking at %u Hz: waited for 10 ticks\n", TIMER_HZ);
    return paging ? EXIT_OK : failed("boot", "paging does not work");
}

/* ---- sched: three processes, preempted by the timer ---- */
static int scenario_sched(void)
{
    int pids[3], failures = 0;
    for (int i = 0; i < 3; i++)
        if ((pids[i] = proc_spawn("checksum", (uint32_t)i + 1, 0)) < 0)
            return failed("sched", "cannot create a process");
    kprintf("sched: started pids %d %d %d; none of them ever yields\n", pids[0], pids[1], pids[2]);
    proc_run_all();
    for (int i = 0; i < 3; i++) {
        struct proc_result r;
        uint32_t expected = checksum((uint32_t)i + 1, CHECKSUM_ROUNDS);
        bool ok = proc_result(pids[i], &r) && !r.killed && (uint32_t)r.status == expected;
        bool preempted = r.preemptions >= 2;
        kprintf("sched: pid %d checksum 0x%08x %s, preempted at least twice: %s\n", pids[i],
                (uint32_t)r.status, ok ? "correct" : "WRONG", preempted ? "yes" : "no");
        failures += !ok || !preempted;
    }
    return failures ? failed("sched", "a checksum is wrong or a process was not preempted")
                    : EXIT_OK;
}

/* ---- syscalls: each system call from ring 3 ---- */
static int scenario_syscalls(void)
{
    int pid;
    struct proc_result r;
    if (!run_one("calls", 0, 0, &pid, &r))
        return failed("syscalls", "cannot run the program");
    describe_end("syscalls", pid, &r);
    return !r.killed && r.status == 7 ? EXIT_OK : failed("syscalls", "expected exit status 7");
}

/* ---- pagefault: demand paging; fatal faults kill only their process ---- */
static int scenario_pagefault(void)
{
    uint32_t free_before = pages_free();
    int failures = 0;
    for (uint32_t which = 0; which <= 4; which++) {
        int pid;
        struct proc_result r;
        if (!run_one("memory", which, 0, &pid, &r))
            return failed("pagefault", "cannot run the program");
        describe_end("pagefault", pid, &r);
        bool want_killed = which != 0;
        failures += r.killed != want_killed || (!want_killed && r.status != 0);
    }
    bool no_leak = pages_free() == free_before;
    kprintf("pagefault: the kernel is still running; all pages of the dead processes freed: %s\n",
            no_leak ? "yes" : "no");
    if (failures || !no_leak)
        return failed("pagefault", "a process ended differently than expected, or pages leaked");
    return EXIT_OK;
}

/* ---- console: interrupt-driven input ---- */
static int scenario_console(void)
{
    int pid;
    struct proc_result r;
    kprintf("console: echoing lines until \"quit\"\n");
    if (!run_one("echo", 0, 0, &pid, &r))
        return failed("console", "cannot run the program");
    describe_end("console", pid, &r);
    return !r.killed && r.status == 0 ? EXIT_OK : failed("console", "echo did not finish");
}

/* ---- disk: ATA PIO read and write ---- */
static int scenario_disk(void)
{
    if (!ata_init())
        return failed("disk", "no ATA disk on the primary channel");
    kprintf("disk: found an ATA disk on the primary channel\n");
    int pid;
    struct proc_result r;
    if (!run_one("disk", 0, 0, &pid, &r))
        return failed("disk", "cannot run the program");
    describe_end("disk", pid, &r);
    return !r.killed && r.status == 0 ? EXIT_OK : failed("disk", "sectors did not read back");
}

static const struct {
    const char *name;
    int (*run)(void);
} scenarios[] = {
    { "boot", scenario_boot },         { "syscalls", scenario_syscalls },
    { "sched", scenario_sched },       { "pagefault", scenario_pagefault },
    { "sensitive", scenario_sensitive }, { "disk", scenario_disk },
    { "console", scenario_console },
};

void scenario_list(void)
{
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        kprintf(" %s", scenarios[i].name);
    kprintf("\n");
}

int scenario_run(const char *name)
{
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        if (strcmp(scenarios[i].name, name) == 0) {
            proc_forget_all();
            int status = scenarios[i].run();
            kprintf("test %s: %s\n", name, status == EXIT_OK ? "passed" : "FAILED");
            return status;
        }
    kprintf("unknown scenario \"%s\"; the scenarios are:", name);
    scenario_list();
    return EXIT_BAD_COMMAND;
}
