/*
 * hvm.c - hardware-assisted virtualization through Linux KVM.
 *
 * The guest's instructions run in hardware guest mode (Intel VT-x "VMX
 * non-root operation", AMD-V "guest mode"; SDM vol. 3 ch. 24-27, APM vol. 2
 * ch. 15). The CPU itself leaves guest mode - a VM exit - when the guest does
 * something the VMM must see. KVM handles most exits in the kernel (page
 * faults under shadow or nested paging, CPUID, MSRs...) and returns from the
 * KVM_RUN ioctl only for what it cannot do alone. In vmlab that is:
 *
 *   KVM_EXIT_IO              IN/OUT/INS/OUTS: every device is in vmlab's
 *                            core, reached through bus_port_read/write
 *   KVM_EXIT_MMIO            a guest-physical address that is not RAM
 *   KVM_EXIT_IRQ_WINDOW_OPEN the guest can now take the interrupt the core's
 *                            8259A is asserting (interrupts.c)
 *   KVM_EXIT_HLT             the guest waits for an interrupt: the core sleeps
 *   KVM_EXIT_SHUTDOWN        a triple fault
 *   KVM_EXIT_INTR            a signal: our deadline timer (deadline.c) or
 *                            Ctrl-C - time for the core to run its timers
 *
 * The loop below is the whole technique: offer a pending interrupt, enter
 * the guest with KVM_RUN, handle what comes back, repeat until the core is
 * needed. Everything else is plumbing, in the files named in hvm_internal.h.
 *
 * Retired guest instructions: KVM cannot count them (the guest runs on the
 * real CPU; a performance counter could, but not exactly and not on every
 * host), so vm->stats.guest_instructions stays as it was, and the CLI
 * honestly reports 0 for a run that was all hvm.
 *
 * Live switches: the first attach creates a KVM VM and its vCPU; detach
 * writes the state back to struct cpu but keeps them (vm->kept_state), and
 * a later attach only makes KVM forget what it cached meanwhile
 * (hvm_reuse_vm, kvm_setup.c) and loads what changed (cpu_state.c).
 * vm_destroy calls hvm_release, which closes them. A guest that has run
 * under trapemu is refused (refuse_stand_in_selectors).
 *
 * VMLAB_KVM_DEVICE=PATH replaces /dev/kvm (tests use /nonexistent to see
 * the "no KVM here" message).
 */
#include "techniques/hvm/hvm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/host.h"
#include "techniques/hvm/hvm_internal.h"

static bool hvm_available(char *why, size_t why_len);
static int hvm_attach(struct vm *vm);
static enum vm_exit hvm_run(struct vm *vm);
static void hvm_detach(struct vm *vm);
static void hvm_release(struct vm *vm);

const struct technique hvm_technique = {
    .name = "hvm",
    .summary = "hardware-assisted: the guest runs in guest mode (VT-x/AMD-V) through Linux KVM",
    .available = hvm_available,
    .attach = hvm_attach,
    .run = hvm_run,
    .detach = hvm_detach,
    .release = hvm_release,
};

static bool handle_exit(struct vm *vm, struct hvm *hvm, enum vm_exit *exit);
static bool handle_run_failure(struct vm *vm, struct hvm *hvm, int error, enum vm_exit *exit);
static bool begin_slice(struct vm *vm, struct hvm *hvm, enum vm_exit *exit);
static void end_slice(struct vm *vm, struct hvm *hvm, bool entered);

/* ---- the run loop ---------------------------------------------------------- */

/* Runs the guest until the core is needed: a deadline, HLT, a stop request,
 * a triple fault or an error. Exits that only need a device are handled
 * here without returning to the core. */
static enum vm_exit run_guest(struct vm *vm, struct hvm *hvm)
{
    enum vm_exit exit = VM_EXIT_DEADLINE;
    bool resume = begin_slice(vm, hvm, &exit), entered = resume;
    while (resume) {
        hvm_offer_interrupt(vm, hvm);
        int result = ioctl(hvm->vcpu_fd, KVM_RUN, 0);
        hvm->registers_in_run = true;
        hvm->known.valid = hvm->known.events_valid = false;   /* the guest may change anything */
        resume = result == 0 ? handle_exit(vm, hvm, &exit)
                             : handle_run_failure(vm, hvm, errno, &exit);
        /* isa-debug-exit, Ctrl-C, the timeout: promptly, not at the next
         * deadline. */
        if (resume && atomic_load(&vm->stop_requested)) {
            exit = VM_EXIT_STOP;
            resume = false;
        }
    }
    end_slice(vm, hvm, entered);
    return exit;
}

static enum vm_exit hvm_run(struct vm *vm)
{
    return run_guest(vm, vm->technique_state);
}

/* ---- the exit handler -------------------------------------------------------- */

/* The guest's EIP at this exit: KVM copied it into kvm_run (kvm_setup.c asks
 * for that); a kernel without KVM_CAP_SYNC_REGS (before 4.19) needs an ioctl. */
static uint32_t guest_eip(struct hvm *hvm)
{
    if (!(hvm->run->kvm_valid_regs & KVM_SYNC_X86_REGS))
        ioctl(hvm->vcpu_fd, KVM_GET_REGS, &hvm->run->s.regs.regs);
    return (uint32_t)hvm->run->s.regs.regs.rip;
}

static uint32_t load_little_endian(const uint8_t *bytes, unsigned size)
{
    uint32_t value = 0;
    memcpy(&value, bytes, size);   /* x86 host: little-endian like the guest */
    return value;
}

static struct stats_counter *port_row(struct vm *vm, struct hvm *hvm, uint16_t port)
{
    if (!hvm->port_rows[port]) {
        char reason[STATS_NAME_LEN];
        snprintf(reason, sizeof reason, "io-port-0x%x", port);
        hvm->port_rows[port] = stats_counter(&vm->stats, "exit", reason);
    }
    return hvm->port_rows[port];
}

/* IN, OUT, and the string forms INS/OUTS (possibly REP), which KVM hands
 * over as count items of size bytes each in the kvm_run page (KVM API:
 * KVM_EXIT_IO). An IN is completed by KVM on the next KVM_RUN, from the data
 * we leave there. */
static bool handle_io(struct vm *vm, struct hvm *hvm, uint64_t start, enum vm_exit *exit)
{
    struct kvm_run *run = hvm->run;
    unsigned size = run->io.size;
    uint64_t bytes = (uint64_t)size * run->io.count;
    if ((size != 1 && size != 2 && size != 4) || run->io.data_offset + bytes > hvm->run_size) {
        snprintf(vm->stop_reason, sizeof vm->stop_reason,
                 "KVM reported an I/O exit vmlab cannot read (size %u, count %u)", size,
                 run->io.count);
        *exit = VM_EXIT_ERROR;
        return false;
    }
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    bool is_out = run->io.direction == KVM_EXIT_IO_OUT;
    for (uint32_t i = 0; i < run->io.count; i++, data += size) {
        if (is_out) {
            bus_port_write(&vm->bus, run->io.port, size, load_little_endian(data, size));
        } else {
            uint32_t value = bus_port_read(&vm->bus, run->io.port, size);
            memcpy(data, &value, size);
        }
    }
    uint64_t handling = stats_now_ns() - start;
    /* The row names the port; the event says the direction, and the count
     * for string I/O. No snprintf for the common case: measured, it was a
     * visible part of the exit's cost (tests/hvm/bench.sh). */
    char detail[24];
    if (run->io.count > 1)
        snprintf(detail, sizeof detail, "%s x%u", is_out ? "outs" : "ins", run->io.count);
    stats_count(hvm->rows.io, handling);
    stats_log(&vm->stats, port_row(vm, hvm, run->io.port), handling, start, guest_eip(hvm),
              run->io.count > 1 ? detail : is_out ? "out" : "in");
    return true;
}

/* One MMIO access of 1, 2 or 4 bytes: a device's range on the bus, or
 * nothing - reads float to all ones, writes vanish (mem.h). */
static void mmio_access(struct vm *vm, uint64_t address, uint8_t *data, unsigned size, bool write)
{
    const struct mmio_range *range = NULL;
    if (address <= UINT32_MAX)
        range = bus_find_mmio(&vm->bus, (uint32_t)address);
    bool claimed = range && address + size <= (uint64_t)range->base + range->size;
    if (write) {
        if (claimed && range->write)
            range->write(range->device, (uint32_t)(address - range->base), size,
                         load_little_endian(data, size));
        return;
    }
    uint32_t value = claimed && range->read
                         ? range->read(range->device, (uint32_t)(address - range->base), size)
                         : 0xffffffffu;
    memcpy(data, &value, size);
}

/* KVM_EXIT_MMIO (KVM API): up to 8 bytes, split here into accesses of at
 * most 4, the widest a 32-bit device register has. */
static bool handle_mmio(struct vm *vm, struct hvm *hvm, uint64_t start)
{
    struct kvm_run *run = hvm->run;
    unsigned length = run->mmio.len <= 8 ? run->mmio.len : 8;
    for (unsigned done = 0; done < length;) {
        unsigned size = length - done >= 4 ? 4 : length - done >= 2 ? 2 : 1;
        mmio_access(vm, run->mmio.phys_addr + done, run->mmio.data + done, size,
                    run->mmio.is_write);
        done += size;
    }
    char detail[40];
    snprintf(detail, sizeof detail, "%s 0x%llx len %u", run->mmio.is_write ? "write" : "read",
             (unsigned long long)run->mmio.phys_addr, length);
    stats_log(&vm->stats, hvm->rows.mmio, stats_now_ns() - start, start, guest_eip(hvm), detail);
    return true;
}

/* Ends the slice with the given reason; returns "do not resume". */
static bool stop_with(enum vm_exit *exit, enum vm_exit why)
{
    *exit = why;
    return false;
}

/* KVM_EXIT_INTERNAL_ERROR: KVM met something it could not do for the guest
 * (KVM API: KVM_EXIT_INTERNAL_ERROR, suberror codes in linux/kvm.h). */
static const char *internal_error_text(uint32_t suberror)
{
    switch (suberror) {
    case KVM_INTERNAL_ERROR_SIMUL_EX:
        return "an exception occurred while KVM was delivering another";
    case KVM_INTERNAL_ERROR_DELIVERY_EV:
        return "delivering an event touched memory that is not RAM (an IDT, GDT or stack "
               "outside guest RAM?)";
    default:
        return "KVM internal error";
    }
}

static bool handle_exit(struct vm *vm, struct hvm *hvm, enum vm_exit *exit)
{
    struct kvm_run *run = hvm->run;
    uint64_t start = stats_now_ns();
    uint32_t eip = guest_eip(hvm);
    switch (run->exit_reason) {
    /* LAB 06: BEGIN the exits of I/O, the interrupt window and HLT */
    case KVM_EXIT_IO:
        return handle_io(vm, hvm, start, exit);
    case KVM_EXIT_MMIO:
        return handle_mmio(vm, hvm, start);
    case KVM_EXIT_IRQ_WINDOW_OPEN:
        /* Nothing to do here: the top of the loop now injects. */
        stats_count(hvm->rows.irq_window, 0);
        return true;
    case KVM_EXIT_HLT:
        /* KVM has already stepped EIP past the HLT. Without an in-kernel
         * local APIC it keeps no halted state: vmlab does (cpu->halted), and
         * the core sleeps until an interrupt is due (vm.c wait_while_halted). */
        stats_log(&vm->stats, hvm->rows.hlt, 0, start, eip, NULL);
        vm->cpu.halted = true;
        return stop_with(exit, VM_EXIT_HALT);
    /* LAB 06: STUB
    case KVM_EXIT_IO:
    case KVM_EXIT_MMIO:
    case KVM_EXIT_IRQ_WINDOW_OPEN:
    case KVM_EXIT_HLT:
        (void)handle_io;
        (void)handle_mmio;
        snprintf(vm->stop_reason, sizeof vm->stop_reason,
                 "hvm: not implemented (lab 06): KVM exit reason %u at EIP 0x%08x "
                 "(techniques/hvm/hvm.c, handle_exit)", run->exit_reason, eip);
        return stop_with(exit, VM_EXIT_ERROR);
       LAB 06: END */
    case KVM_EXIT_SHUTDOWN:
        /* A fault while delivering a double fault: the CPU shuts down
         * (SDM vol. 3, 6.15 "Interrupt 8"; APM vol. 2, 8.2.9). */
        stats_log(&vm->stats, hvm->rows.shutdown, 0, start, eip, NULL);
        snprintf(vm->stop_reason, sizeof vm->stop_reason,
                 "triple fault (reported by KVM) at EIP 0x%08x", eip);
        return stop_with(exit, VM_EXIT_TRIPLE_FAULT);
    case KVM_EXIT_FAIL_ENTRY:
        stats_log(&vm->stats, hvm->rows.fail_entry, 0, start, eip, NULL);
        snprintf(vm->stop_reason, sizeof vm->stop_reason,
                 "the CPU refused to enter the guest at EIP 0x%08x (hardware entry failure "
                 "reason 0x%llx): an invalid guest state (SDM vol. 3, VM-entry checks on the "
                 "guest-state area; APM vol. 2, 15.5 VMRUN)", eip,
                 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        return stop_with(exit, VM_EXIT_ERROR);
    case KVM_EXIT_INTERNAL_ERROR:
        if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
            return hvm_emulate_instruction(vm, hvm, exit);
        stats_log(&vm->stats, hvm->rows.internal_error, 0, start, eip, NULL);
        snprintf(vm->stop_reason, sizeof vm->stop_reason, "%s at EIP 0x%08x (suberror %u)",
                 internal_error_text(run->internal.suberror), eip, run->internal.suberror);
        return stop_with(exit, VM_EXIT_ERROR);
    default:
        stats_log(&vm->stats, hvm->rows.other, 0, start, eip, NULL);
        snprintf(vm->stop_reason, sizeof vm->stop_reason,
                 "unexpected KVM exit reason %u at EIP 0x%08x", run->exit_reason, eip);
        return stop_with(exit, VM_EXIT_ERROR);
    }
}

/* KVM_RUN returned -1. EINTR is the normal way out at a deadline: our timer
 * signal (or another, such as Ctrl-C) was pending (KVM_EXIT_INTR). */
static bool handle_run_failure(struct vm *vm, struct hvm *hvm, int error, enum vm_exit *exit)
{
    if (error == EAGAIN)
        return true;
    if (error != EINTR) {
        snprintf(vm->stop_reason, sizeof vm->stop_reason, "KVM_RUN failed: %s",
                 strerror(error));
        return stop_with(exit, VM_EXIT_ERROR);
    }
    stats_count(hvm->rows.intr, 0);
    hvm_deadline_consume(&hvm->deadline);
    if (atomic_load(&vm->stop_requested))
        return stop_with(exit, VM_EXIT_STOP);
    if (stats_now_ns() >= vm->deadline_ns)
        return stop_with(exit, VM_EXIT_DEADLINE);
    return true;   /* a stale signal from an earlier deadline */
}

/* ---- slices ----------------------------------------------------------------------- */

/* Before entering the guest: only from the thread the deadline timer
 * signals; a halted CPU stays halted until an interrupt can wake it
 * (SDM vol. 3, HLT: "resumes on an enabled interrupt, NMI, ... or reset"). */
static bool begin_slice(struct vm *vm, struct hvm *hvm, enum vm_exit *exit)
{
    if (!pthread_equal(pthread_self(), hvm->deadline.thread)) {
        snprintf(vm->stop_reason, sizeof vm->stop_reason,
                 "hvm: run() called from another thread than attach(): the deadline timer "
                 "signals the attaching thread only");
        return stop_with(exit, VM_EXIT_ERROR);
    }
    if (vm->cpu.halted) {
        if (!vm_intr(vm) || !(vm->cpu.eflags & EFLAGS_IF))
            return stop_with(exit, VM_EXIT_HALT);
        vm->cpu.halted = false;
    }
    if (hvm_deadline_arm(&hvm->deadline, vm->deadline_ns) < 0) {
        snprintf(vm->stop_reason, sizeof vm->stop_reason, "hvm: timer_settime: %s",
                 strerror(errno));
        return stop_with(exit, VM_EXIT_ERROR);
    }
    return true;
}

/* After the last exit of a slice: refresh what the core may look at before
 * detach - the general registers, EIP and EFLAGS (HLT needs EFLAGS.IF),
 * and KVM's own counters if the guest ran. The rest of struct cpu is
 * written on detach. */
static void end_slice(struct vm *vm, struct hvm *hvm, bool entered)
{
    if (!hvm->registers_in_run) {
        /* No KVM_RUN since the registers were last set from vm->cpu (a
         * halted CPU, or an instruction emulate.c ran): vm->cpu is current. */
    } else if (hvm->run->kvm_valid_regs & KVM_SYNC_X86_REGS) {
        hvm_save_registers_from_run(hvm, &vm->cpu);
    } else {
        struct kvm_regs regs;
        if (ioctl(hvm->vcpu_fd, KVM_GET_REGS, &regs) == 0) {
            hvm->run->s.regs.regs = regs;
            hvm_save_registers_from_run(hvm, &vm->cpu);
        }
    }
    if (!entered)
        return;
    kvm_stats_refresh(&hvm->vcpu_stats);
    kvm_stats_refresh(&hvm->vm_stats);
}

/* ---- available, attach, detach ------------------------------------------------------ */

static bool hvm_available(char *why, size_t why_len)
{
    return host_has(HOST_KVM, why, why_len) && hvm_kvm_usable(why, why_len);
}

static int create_rows(struct vm *vm, struct hvm *hvm)
{
    struct stats *stats = &vm->stats;
    hvm->rows = (struct hvm_rows){
        .io = stats_counter(stats, "exit", "io"),
        .mmio = stats_counter(stats, "exit", "mmio"),
        .hlt = stats_counter(stats, "exit", "hlt"),
        .irq_window = stats_counter(stats, "exit", "irq-window"),
        .intr = stats_counter(stats, "exit", "intr"),
        .shutdown = stats_counter(stats, "exit", "shutdown"),
        .fail_entry = stats_counter(stats, "exit", "fail-entry"),
        .internal_error = stats_counter(stats, "exit", "internal-error"),
        .other = stats_counter(stats, "exit", "other"),
        .reuse = stats_counter(stats, "attach", "hvm-reuse-reset"),
    };
    hvm->port_rows = calloc(65536, sizeof *hvm->port_rows);
    hvm->emulation = hvm_emulation_create(vm);
    return hvm->port_rows && hvm->emulation ? 0 : -1;
}

static void destroy_hvm(struct hvm *hvm)
{
    hvm_deadline_stop(&hvm->deadline);
    hvm_close_vm(hvm);
    free(hvm->port_rows);
    hvm_emulation_destroy(hvm->emulation);
    free(hvm);
}

/* The first attach of a VM: a KVM VM, its memory, a vCPU, the rows. */
static struct hvm *create_hvm(struct vm *vm, char *why, size_t why_len)
{
    struct hvm *hvm = calloc(1, sizeof *hvm);
    if (!hvm)
        return NULL;
    if (hvm_open_vm(hvm, vm, why, why_len) < 0 || create_rows(vm, hvm) < 0) {
        destroy_hvm(hvm);
        return NULL;
    }
    return hvm;
}

/* The KVM VM of this vmlab VM, kept from an earlier attach; NULL if none. */
static struct hvm *kept_hvm(struct vm *vm)
{
    return vm->kept_state[technique_index(&hvm_technique)];
}

static void keep_hvm(struct vm *vm, struct hvm *hvm)
{
    vm->kept_state[technique_index(&hvm_technique)] = hvm;
}

/* A kept VM, made ready for a guest that ran elsewhere since, or a new
 * one. Returns NULL with why set. */
static struct hvm *vm_for_attach(struct vm *vm, char *why, size_t why_len)
{
    struct hvm *hvm = kept_hvm(vm);
    if (hvm) {
        uint64_t start = stats_now_ns();
        if (hvm_reuse_vm(hvm, vm, why, why_len) == 0) {
            stats_count(hvm->rows.reuse, stats_now_ns() - start);
            return hvm;
        }
        /* KVM refused: this VM is of no further use; try a new one. */
        destroy_hvm(hvm);
        keep_hvm(vm, NULL);
    }
    hvm = create_hvm(vm, why, why_len);
    keep_hvm(vm, hvm);
    return hvm;
}

/*
 * trapemu runs the guest natively, where `push %ds` and `mov %ds, mem`
 * store the host's stand-in selector (guest selector | 4, an LDT selector;
 * core/direct/traps.c) in guest memory - they do not trap. The core's
 * segment loader maps such a selector back when the guest loads it again;
 * the real CPU under KVM would load it from an LDT the guest never made,
 * and fault. So a guest that has run under trapemu stays off hvm (cpu.h).
 */
static int refuse_stand_in_selectors(struct vm *vm)
{
    snprintf(vm->stop_reason, sizeof vm->stop_reason,
             "not possible: this guest has run under trapemu, so its memory may hold trapemu's "
             "stand-in selectors (guest selector | 4, an LDT selector) that a later pop or mov "
             "to a segment register loads; the real CPU under hvm would raise #GP on them "
             "(interp can take this guest: its segment loader maps them back)");
    return -1;
}

static int hvm_attach(struct vm *vm)
{
    uint64_t start = stats_now_ns();
    if (vm->cpu.stand_in_selectors_leaked)
        return refuse_stand_in_selectors(vm);
    if (vm->pv.enabled) {
        snprintf(vm->stop_reason, sizeof vm->stop_reason,
                 "a pv guest: hvm does not service the hypercall page yet (run it under "
                 "interp; docs/pv.md)");
        return -1;
    }
    char why[400] = "out of memory";
    struct hvm *hvm = vm_for_attach(vm, why, sizeof why);
    if (!hvm || hvm_load_cpu(hvm, &vm->cpu, true, why, sizeof why) < 0 ||
        hvm_deadline_start(&hvm->deadline, hvm->vcpu_fd, why, sizeof why) < 0) {
        /* KVM may have taken part of the state before refusing the rest
         * (PVM keeps CR3 and drops CR0.PG), and what that leaves behind in
         * KVM's MMU is not ours to reason about: a VM that refused a guest
         * is discarded, and the next attach creates a new one. Refusals are
         * remembered per CPU mode (core/switch.c), so this is rare. */
        if (hvm) {
            destroy_hvm(hvm);
            keep_hvm(vm, NULL);
        }
        snprintf(vm->stop_reason, sizeof vm->stop_reason, "%s", why);
        return -1;
    }
    vm->technique_state = hvm;
    /* What an attach costs, and which hardware this is - said on the first
     * attach, not on every switch of a stress schedule. */
    struct stats_counter *attaches = stats_counter(&vm->stats, "attach", "hvm");
    if (attaches->count == 0) {
        hvm_describe_host();
        if (hvm->cpuid_note[0])
            fprintf(stderr, "vmlab: hvm: %s\n", hvm->cpuid_note);
    }
    stats_count(attaches, stats_now_ns() - start);
    return 0;
}

/* vm_destroy, after the last detach: the KVM VM goes with the vmlab VM. */
static void hvm_release(struct vm *vm)
{
    struct hvm *hvm = kept_hvm(vm);
    if (!hvm)
        return;
    destroy_hvm(hvm);
    keep_hvm(vm, NULL);
}

/*
 * An I/O or MMIO exit is complete only once KVM_RUN is entered again: the
 * data of an IN is written to EAX, EIP stepped, then (KVM API, note under
 * "The kvm_run structure"). immediate_exit makes KVM do exactly that and
 * return before running any guest instruction.
 */
static void complete_pending_io(struct hvm *hvm)
{
    uint32_t last = hvm->run->exit_reason;
    if (last != KVM_EXIT_IO && last != KVM_EXIT_MMIO)
        return;   /* nothing to complete: spare the KVM_RUN */
    hvm->run->immediate_exit = 1;
    hvm->known.valid = hvm->known.events_valid = false;
    ioctl(hvm->vcpu_fd, KVM_RUN, 0);   /* returns -1 EINTR by design */
    hvm->run->immediate_exit = 0;
    /* KVM need not update exit_reason on this early return: say what
     * happened, so that a second call knows there is nothing left. */
    hvm->run->exit_reason = KVM_EXIT_INTR;
}

/*
 * struct cpu cannot hold an interrupt the PIC has already given (INTA) but
 * the vCPU has not yet delivered: on a live switch, let the guest run for a
 * few tens of microseconds so that KVM delivers it, and no further
 * interrupts are offered meanwhile. Not at the end of a run: the guest has
 * asked to stop, and must not execute (or print) anything more.
 */
static void deliver_events_in_flight(struct vm *vm, struct hvm *hvm)
{
    if (atomic_load(&vm->stop_requested))
        return;
    char reason[sizeof vm->stop_reason];
    memcpy(reason, vm->stop_reason, sizeof reason);
    bool in_flight = hvm_event_in_flight(hvm);
    for (int attempt = 0; attempt < 8 && in_flight; attempt++) {
        vm->deadline_ns = stats_now_ns() + (50000ull << attempt);
        hvm->draining = true;
        enum vm_exit exit = run_guest(vm, hvm);
        hvm->draining = false;
        in_flight = hvm_event_in_flight(hvm);
        if (exit == VM_EXIT_TRIPLE_FAULT || exit == VM_EXIT_ERROR)
            break;
    }
    if (in_flight)
        fprintf(stderr, "vmlab: hvm: an interrupt or exception accepted by KVM was not yet "
                "delivered at detach and is lost\n");
    memcpy(vm->stop_reason, reason, sizeof reason);
}

static void hvm_detach(struct vm *vm)
{
    struct hvm *hvm = vm->technique_state;
    if (!hvm)
        return;
    complete_pending_io(hvm);
    deliver_events_in_flight(vm, hvm);
    complete_pending_io(hvm);
    char why[400];
    if (hvm_save_cpu(hvm, &vm->cpu, why, sizeof why) < 0)
        fprintf(stderr, "vmlab: hvm: the CPU state could not be read back: %s\n", why);
    kvm_stats_refresh(&hvm->vcpu_stats);
    kvm_stats_refresh(&hvm->vm_stats);
    /* The thread's signal mask and handler go back to what the next
     * technique expects; the VM, the vCPU, kvm_run and the readers stay in
     * vm->kept_state for the next attach (hvm_release frees them). */
    hvm_deadline_stop(&hvm->deadline);
    vm->technique_state = NULL;
}
