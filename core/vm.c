/*
 * vm.c - the virtual machine and its run loop.
 *
 * The loop owns time. It hands the CPU to the current technique for a slice
 * that ends at the next timer deadline, and when the technique gives control
 * back it does what only the core does: advance the PIT, feed console input
 * to the UART, and sleep while the guest is halted. Sleeping in poll() rather
 * than spinning is what a real CPU's HLT buys a real machine: an idle guest
 * costs the host nothing.
 */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/bios_tables.h"
#include "boot/multiboot.h"
#include "x86/execute.h"
#include "console.h"

#define SLICE_NS 10000000ull          /* at most 10 ms per run() without a timer */
#define COM1_BASE 0x3f8
#define COM1_IRQ 4
#define PIT_IRQ 0
#define ATA_IRQ 14
#define DEBUG_EXIT_PORT 0xf4

static uint64_t vm_clock(void *context)
{
    (void)context;
    return stats_now_ns();
}

void vm_request_stop(struct vm *vm, int exit_status, const char *reason)
{
    /* The first reason wins: a timeout after a debug-exit is not news. */
    if (atomic_load(&vm->stop_requested))
        return;
    vm->exit_status = exit_status;
    snprintf(vm->stop_reason, sizeof vm->stop_reason, "%s", reason);
    atomic_store(&vm->stop_requested, true);
}

/* A process's exit status keeps only the low 8 bits of (v << 1) | 1, as
 * QEMU's does: say the status the shell will see, and keep that one. */
static void guest_requested_exit(void *context, int status)
{
    struct vm *vm = context;
    char reason[96];
    int shell_status = status & 0xff;
    snprintf(reason, sizeof reason, "the guest wrote %u to isa-debug-exit: exit status %d",
             vm->debug_exit.value, shell_status);
    vm_request_stop(vm, shell_status, reason);
}

static void uart_output(void *context, uint8_t byte)
{
    console_write(context, byte);
}

static void count_unclaimed_port(void *context, uint16_t port, bool is_write)
{
    struct vm *vm = context;
    char reason[STATS_NAME_LEN];
    snprintf(reason, sizeof reason, "unclaimed-%s-0x%x", is_write ? "out" : "in", port);
    stats_count(stats_counter(&vm->stats, "io", reason), 0);
}

void vm_interrupt_name(const struct vm *vm, int vector, char *name, size_t length)
{
    int master = vm->pic.master.vector_base, slave = vm->pic.slave.vector_base;
    if (vm->pv.enabled && vector == PV_UPCALL_VECTOR)
        snprintf(name, length, "pv-upcall");
    else if (vector >= master && vector < master + 8)
        snprintf(name, length, "irq%d", vector - master);
    else if (vector >= slave && vector < slave + 8)
        snprintf(name, length, "irq%d", vector - slave + 8);
    else
        snprintf(name, length, "vector-0x%x", vector);
}

/* The local APIC answers first; if it has nothing, the INTR came from the
 * 8259 through LINT0 (ExtINT) and the 8259 supplies the vector. */
int vm_acknowledge_interrupt(struct vm *vm)
{
    if (vm->pv.upcall_due)
        return pv_acknowledge_upcall(&vm->pv);
    int vector = lapic_acknowledge(&vm->lapic);
    return vector >= 0 ? vector : pic_acknowledge(&vm->pic);
}

/* An ISA IRQ line reaches both interrupt controllers, as on a PC with an
 * I/O APIC: the 8259 pair, and the I/O APIC's pin n, except IRQ 0 on pin 2
 * (the MP table's routing, core/boot/bios_tables.c). */
static void isa_set_irq(void *context, int irq, int level)
{
    struct vm *vm = context;
    pic_set_irq(&vm->pic, irq, level);
    ioapic_set_pin(&vm->ioapic, irq == 0 ? 2 : irq, level);
}

static struct irq_line pic_line(struct vm *vm, int irq)
{
    return (struct irq_line){.set_level = isa_set_irq, .controller = vm, .irq = irq};
}

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "vmlab: %s%s%s\n", what, why ? ": " : "", why ? why : "");
    return -1;
}

/* The primary ATA channel: a master and, optionally, a slave drive. */
static int create_disks(struct vm *vm, const struct vm_config *config)
{
    const char *paths[2] = {config->disk_path, config->slave_disk_path};
    struct ata_disk *disks[2] = {&vm->disk, &vm->slave_disk};
    bool *open[2] = {&vm->has_disk, &vm->has_slave_disk};
    vm->ata.irq = pic_line(vm, ATA_IRQ);
    for (unsigned unit = 0; unit < 2; unit++) {
        if (!paths[unit])
            continue;
        char error[512];
        if (ata_open(disks[unit], paths[unit], vm->ata.irq, error, sizeof error) < 0)
            return fail("--disk", error);
        *open[unit] = true;
        ata_channel_attach(&vm->ata, disks[unit], unit);
    }
    if ((vm->has_disk || vm->has_slave_disk) && ata_channel_register(&vm->ata, &vm->bus) < 0)
        return fail("internal error", "ATA ports overlap");
    return 0;
}

static int create_devices(struct vm *vm, const struct vm_config *config)
{
    struct bus *bus = &vm->bus;
    bus->unclaimed = count_unclaimed_port;
    bus->unclaimed_context = vm;
    pic_init(&vm->pic);
    lapic_init(&vm->lapic, &vm->cpu.apic_base, &vm->stats, vm_clock, vm);
    ioapic_init(&vm->ioapic, &vm->lapic, &vm->stats);
    vm->lapic.eoi_broadcast = ioapic_eoi;
    vm->lapic.eoi_context = &vm->ioapic;
    pit_init(&vm->pit, pic_line(vm, PIT_IRQ), vm_clock, vm);
    uart_init(&vm->uart, pic_line(vm, COM1_IRQ), uart_output, &vm->console);
    debug_exit_init(&vm->debug_exit, guest_requested_exit, vm);
    fw_cfg_init(&vm->fw_cfg, vm->ram.size);
    cga_init(&vm->cga);
    if (lapic_register(&vm->lapic, bus) < 0 || ioapic_register(&vm->ioapic, bus) < 0 ||
        fw_cfg_register(&vm->fw_cfg, bus) < 0 || cga_register(&vm->cga, bus) < 0)
        return fail("internal error", "device ranges overlap");
    if (pic_register(&vm->pic, bus) < 0 || pit_register(&vm->pit, bus) < 0 ||
        uart_register(&vm->uart, bus, COM1_BASE) < 0 ||
        debug_exit_register(&vm->debug_exit, bus, DEBUG_EXIT_PORT) < 0)
        return fail("internal error", "device ports overlap");
    return create_disks(vm, config);
}

static const struct technique *choose_technique(const char *name)
{
    const struct technique *technique = technique_find(name);
    if (technique)
        return technique;
    char available[128];
    technique_list(available, sizeof available);
    fprintf(stderr, "vmlab: %s technique '%s' (built in: %s)\n",
            technique_is_planned(name) ? "not implemented yet:" : "unknown", name, available);
    return NULL;
}

static int setup_switch_plan(struct vm *vm, const struct vm_config *config)
{
    char error[256];
    struct switch_plan *plan = &vm->switches;
    if (config->switch_schedule &&
        switch_parse_schedule(plan, config->switch_schedule, error, sizeof error) < 0)
        return fail(error, NULL);
    if (config->switch_every) {
        int64_t every = switch_parse_duration(config->switch_every);
        if (every < 100000)
            return fail("--switch-every", "expected a duration of at least 100us, e.g. 5ms");
        plan->every_ns = (uint64_t)every;
        plan->next_random_ns = (uint64_t)every;
    }
    if (config->switch_among && !config->switch_every)
        return fail("--switch-among", "goes with --switch-every (it limits the random choice)");
    if (switch_parse_among(plan, config->switch_among, error, sizeof error) < 0)
        return fail(error, NULL);
    plan->random_state = config->switch_seed ? config->switch_seed : 0x9e3779b97f4a7c15ull;
    return 0;
}

/* Every technique's available(), once, before anything attaches: it is
 * where a technique acquires its files (hvm opens /dev/kvm and keeps it),
 * and once trapemu runs, its seccomp filter lets the process open nothing
 * (core/direct/containment.c). The answers fill the switch plan, so the
 * random schedule does not ask again. Returns whether `chosen` can run
 * here, and if not, why. */
static bool ask_every_technique(struct vm *vm, const struct technique *chosen, char *why,
                                size_t why_len)
{
    bool chosen_available = false;
    for (int i = 0; all_techniques[i]; i++) {
        char reason[256] = "";
        const struct technique *t = all_techniques[i];
        bool available = !t->available || t->available(reason, sizeof reason);
        vm->switches.available[i] = available;   /* i < TECHNIQUE_MAX: technique.c checks */
        if (t == chosen) {
            chosen_available = available;
            snprintf(why, why_len, "%s", reason);
        }
    }
    return chosen_available;
}

/* RAM, statistics, console and devices: everything but the guest and the
 * technique. */
static int create_machine(struct vm *vm, const struct vm_config *config)
{
    char error[512];
    if (guest_ram_create(&vm->ram, config->memory_bytes, error, sizeof error) < 0)
        return fail(error, NULL);
    stats_init(&vm->stats, stats_now_ns());
    console_init(&vm->console, config->console_input_fd ? config->console_input_fd : STDIN_FILENO,
                 config->console_output_fd ? config->console_output_fd : STDOUT_FILENO);
    vm->console.stats = &vm->stats;
    if (create_devices(vm, config) < 0)
        return -1;
    return setup_switch_plan(vm, config);
}

int vm_create_empty(struct vm *vm, const struct vm_config *config)
{
    memset(vm, 0, sizeof *vm);
    vm->ram.memfd = -1;
    vm->config = *config;
    return create_machine(vm, config);
}

int vm_create(struct vm *vm, const struct vm_config *config)
{
    memset(vm, 0, sizeof *vm);
    vm->ram.memfd = -1;
    vm->config = *config;
    const struct technique *technique = choose_technique(config->technique);
    if (!technique)
        return -1;
    char why[256] = "";
    if (!ask_every_technique(vm, technique, why, sizeof why))
        return fail(technique->name, why);
    if (create_machine(vm, config) < 0)
        return -1;
    char error[512];
    /* What the BIOS leaves in low memory; before the kernel's segments, so
     * a kernel loaded there wins, as it would over a real BIOS's tables. */
    uint32_t cpuid1[4];
    x86_cpuid(1, cpuid1);
    bios_tables_write(&vm->ram, cpuid1[0], cpuid1[3]);
    struct multiboot_image image;
    if (multiboot_load(config->guest_path, config->guest_command_line, &vm->ram, &vm->cpu, &image,
                       error, sizeof error) < 0)
        return fail(error, NULL);
    if (pv_setup(&vm->pv, vm, config->guest_path, error, sizeof error) < 0)
        return fail(error, NULL);
    for (int i = 0; all_techniques[i]; i++)       /* pv takes only pv guests */
        if (all_techniques[i]->takes_guest && !all_techniques[i]->takes_guest(vm, why, sizeof why))
            vm->switches.available[i] = false;
    vm->technique = technique;
    if (technique->attach(vm) < 0) {
        vm->technique = NULL;
        return fail(technique->name, vm->stop_reason);
    }
    vm->attach_thread = pthread_self();
    return 0;
}

/* The host time by which run() must return: the next PIT interrupt, the
 * end of the time slice, or the timeout, whichever is first. */
static uint64_t next_deadline(const struct vm *vm, uint64_t now)
{
    uint64_t deadline = now + SLICE_NS;
    uint64_t timer = pit_next_deadline_ns(&vm->pit);
    if (timer < deadline)
        deadline = timer;
    uint64_t apic_timer = lapic_next_deadline_ns(&vm->lapic);
    if (apic_timer < deadline)
        deadline = apic_timer;
    if (vm->timeout_at_ns && vm->timeout_at_ns < deadline)
        deadline = vm->timeout_at_ns;
    uint64_t pv_timer = pv_next_deadline(&vm->pv);
    if (pv_timer < deadline)
        deadline = pv_timer;
    uint64_t next_switch = switch_next_deadline(vm);
    if (next_switch < deadline)
        deadline = next_switch;
    return deadline;
}

/* Work the core does between slices: time, console input, the timeout. */
static void service_devices(struct vm *vm, uint64_t now)
{
    pit_update(&vm->pit);
    lapic_update(&vm->lapic);
    if (vm->pv.enabled)
        pv_service(&vm->pv, now);            /* console input goes to its ring instead */
    else
        console_feed(&vm->console, &vm->uart);
    if (vm->timeout_at_ns && now >= vm->timeout_at_ns) {
        char reason[96];
        snprintf(reason, sizeof reason, "--timeout of %g seconds expired",
                 vm->config.timeout_seconds);
        vm_request_stop(vm, VMLAB_STATUS_TIMEOUT, reason);
    }
}

/* Sleep until the next timer deadline or console input, and count the time
 * as idle (it is not running time) in the counter's row. */
static void sleep_until_next_deadline(struct vm *vm, struct stats_counter *counter,
                                      const char *detail)
{
    uint64_t start = stats_now_ns();
    console_wait(&vm->console, next_deadline(vm, start));
    uint64_t slept = stats_now_ns() - start;
    vm->idle_ns += slept;
    stats_log(&vm->stats, counter, slept, start, vm->cpu.eip, detail);
}

/* A pv guest in PV_SCHED_BLOCK (or shut down): sleep until its timer or
 * console input; with neither, nothing can ever wake it, as HLT with IF
 * clear. */
static void wait_while_blocked(struct vm *vm, struct stats_counter *counter)
{
    if (atomic_load(&vm->stop_requested) || vm->pv.upcall_due)
        return;
    if (!pv_can_wake(&vm->pv)) {
        char reason[160];
        snprintf(reason, sizeof reason,
                 "the pv guest blocked at EIP 0x%08x with no timer set and no event pending: it "
                 "can never wake up", vm->cpu.eip);
        vm_request_stop(vm, VMLAB_STATUS_HALTED, reason);
        return;
    }
    sleep_until_next_deadline(vm, counter, "pv block");
}

/* HLT: sleep until the next timer deadline or console input. With IF clear
 * nothing but an NMI could wake the CPU, and we have no NMI source, so the
 * guest has stopped for good: say so instead of hanging. */
static void wait_while_halted(struct vm *vm)
{
    struct stats_counter *counter = stats_counter(&vm->stats, "halt", "hlt");
    if (vm->pv.initialised) {
        wait_while_blocked(vm, counter);
        return;
    }
    if (!(vm->cpu.eflags & EFLAGS_IF)) {
        char reason[128];
        snprintf(reason, sizeof reason,
                 "the guest executed HLT with interrupts disabled at EIP 0x%08x: it can never "
                 "wake up", vm->cpu.eip);
        vm_request_stop(vm, VMLAB_STATUS_HALTED, reason);
        return;
    }
    if (vm_intr(vm))
        return;   /* the technique delivers it on the next run() */
    sleep_until_next_deadline(vm, counter, NULL);
}

static void handle_exit(struct vm *vm, enum vm_exit exit)
{
    switch (exit) {
    case VM_EXIT_DEADLINE:
    case VM_EXIT_STOP:
        break;
    case VM_EXIT_HALT:
        wait_while_halted(vm);
        break;
    case VM_EXIT_TRIPLE_FAULT: {
        char reason[sizeof vm->stop_reason];
        snprintf(reason, sizeof reason, "%s", vm->stop_reason);
        vm_request_stop(vm, VMLAB_STATUS_TRIPLE_FAULT, reason);
        break;
    }
    case VM_EXIT_ERROR: {
        char reason[sizeof vm->stop_reason];
        snprintf(reason, sizeof reason, "%s", vm->stop_reason);
        vm_request_stop(vm, VMLAB_STATUS_TECHNIQUE, reason);
        break;
    }
    }
}

void vm_set_paused(struct vm *vm, bool paused)
{
    atomic_store(&vm->paused, paused);
}

void vm_request_step(struct vm *vm)
{
    atomic_fetch_add(&vm->step_requests, 1);
}

/* While paused the guest's time stands still for the CPU, but the devices'
 * clocks do not (the PIT is real-time based): a paused guest finds its timer
 * interrupts pending when it resumes, as a real machine stopped in a
 * debugger would. A single step runs one instruction where the technique
 * can, and is refused (counted) where it cannot. */
static void run_paused(struct vm *vm)
{
    if (atomic_load(&vm->step_requests) == 0) {
        uint64_t start = stats_now_ns();
        console_wait(&vm->console, start + 20000000ull);
        vm->idle_ns += stats_now_ns() - start;
        return;
    }
    atomic_fetch_sub(&vm->step_requests, 1);
    if (!vm->technique->can_single_step) {
        stats_count(stats_counter(&vm->stats, "debug", "step-unsupported"), 0);
        return;
    }
    vm->single_step = true;
    vm->deadline_ns = stats_now_ns() + SLICE_NS;
    handle_exit(vm, vm->technique->run(vm));
    vm->single_step = false;
    stats_count(stats_counter(&vm->stats, "debug", "step"), 0);
}

/* A technique may bind state to the thread that attaches it (trapemu's
 * signal stack and FS base, the timers that signal one thread to end a
 * slice). The dashboard creates the VM on one thread and runs it on
 * another, so the technique attaches again on the thread that runs it. */
static void attach_on_running_thread(struct vm *vm)
{
    if (pthread_equal(vm->attach_thread, pthread_self()))
        return;
    vm->technique->detach(vm);
    if (vm->technique->attach(vm) < 0) {
        char reason[sizeof vm->stop_reason];
        snprintf(reason, sizeof reason, "%.32s: cannot attach on the vCPU thread: %.400s",
                 vm->technique->name, vm->stop_reason);
        vm_request_stop(vm, VMLAB_STATUS_TECHNIQUE, reason);
        return;
    }
    vm->attach_thread = pthread_self();
}

int vm_run(struct vm *vm)
{
    uint64_t start = stats_now_ns();
    vm->stats.start_ns = start;
    attach_on_running_thread(vm);
    if (vm->config.timeout_seconds > 0)
        vm->timeout_at_ns = start + (uint64_t)(vm->config.timeout_seconds * 1e9);
    vm->console.give_up_at_ns = vm->timeout_at_ns;   /* a stalled stdout must not outlast it */
    while (!atomic_load(&vm->stop_requested)) {
        uint64_t now = stats_now_ns();
        service_devices(vm, now);
        if (atomic_load(&vm->stop_requested))
            break;
        switch_run_due(vm, now);
        if (atomic_load(&vm->stop_requested))
            break;   /* e.g. a failed switch could not give the guest back */
        if (atomic_load(&vm->paused)) {
            run_paused(vm);
            continue;
        }
        vm->deadline_ns = next_deadline(vm, now);
        handle_exit(vm, vm->technique->run(vm));
    }
    vm->run_ns = stats_now_ns() - start;
    console_flush(&vm->console);
    return vm->exit_status;
}

void vm_destroy(struct vm *vm)
{
    if (vm->technique)
        vm->technique->detach(vm);
    vm->technique = NULL;
    /* Before the RAM goes: hvm's kept KVM VM still maps it. */
    for (int i = 0; all_techniques[i]; i++)
        if (all_techniques[i]->release)
            all_techniques[i]->release(vm);
    if (vm->has_disk)
        ata_close(&vm->disk);
    if (vm->has_slave_disk)
        ata_close(&vm->slave_disk);
    pv_destroy(&vm->pv);
    console_restore(&vm->console);
    guest_ram_destroy(&vm->ram);
}
