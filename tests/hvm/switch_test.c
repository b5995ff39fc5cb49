/*
 * switch_test.c - live switches between interp and hvm, every time slice.
 *
 *   switch_test [--disk IMG] GUEST.elf [GUEST COMMAND LINE]
 *
 * Boots the guest under interp and, after every one, two or three slices of
 * at most a millisecond, switches technique: detach writes the CPU back into struct
 * cpu, attach of the other technique takes it from there (docs/design.md, "The
 * technique interface"). Guest RAM and devices never move. If a switch lost
 * any state the guest would notice, its serial output would differ from an
 * undisturbed run: tests/hvm/run.sh compares it with QEMU's.
 *
 * Every 8th switch to hvm also checks the state conversion itself: attach
 * hvm and detach again at once, without running, and compare struct cpu
 * field by field (cpu_state.c must give back exactly what it took, up to the
 * bits the CPU hard-wires: CR0.ET, DR6/DR7's fixed ones, the segment fields
 * that do not matter for an unusable segment).
 *
 * The loop is a small copy of vm_run (core/vm.c): its helpers are private
 * to vm.c, and the test must choose the slices itself anyway. Serial output
 * on stdout; the result on stderr; exit status: the guest's (as vmlab), or
 * 70 if a round trip changed the CPU state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/technique.h"
#include "core/vm.h"

#define SLICE_NS 1000000ull
#define ROUND_TRIP_EVERY 8
#define STATUS_ROUND_TRIP_BROKEN 70

static bool same_segment(const struct segment *a, const struct segment *b)
{
    bool a_unusable = a->attributes & SEG_ATTR_UNUSABLE;
    bool b_unusable = b->attributes & SEG_ATTR_UNUSABLE;
    if (a_unusable || b_unusable)
        return a_unusable == b_unusable && a->selector == b->selector;
    return a->selector == b->selector && a->base == b->base && a->limit == b->limit &&
           a->attributes == b->attributes;
}

/* Prints every field that differs; returns the number of differences. */
static int compare_cpu(const struct cpu *before, const struct cpu *after)
{
    int differences = 0;
#define CHECK(field, ok)                                                                     \
    do {                                                                                     \
        if (!(ok)) {                                                                         \
            fprintf(stderr, "switch_test: round trip changed %s\n", field);                  \
            differences++;                                                                   \
        }                                                                                    \
    } while (0)
    for (int i = 0; i < 8; i++)
        CHECK("a general register", before->regs[i] == after->regs[i]);
    CHECK("EIP", before->eip == after->eip);
    CHECK("EFLAGS", (before->eflags | EFLAGS_FIXED) == after->eflags);
    for (int i = 0; i < SEG_COUNT; i++)
        CHECK("a segment register", same_segment(&before->segments[i], &after->segments[i]));
    CHECK("LDTR", same_segment(&before->ldtr, &after->ldtr));
    CHECK("TR", same_segment(&before->tr, &after->tr));
    CHECK("GDTR", before->gdtr.base == after->gdtr.base && before->gdtr.limit == after->gdtr.limit);
    CHECK("IDTR", before->idtr.base == after->idtr.base && before->idtr.limit == after->idtr.limit);
    CHECK("CR0", (before->cr0 | CR0_ET) == (after->cr0 | CR0_ET));
    CHECK("CR2", before->cr2 == after->cr2);
    CHECK("CR3", before->cr3 == after->cr3);
    CHECK("CR4", before->cr4 == after->cr4);
    for (int i = 0; i < 4; i++)
        CHECK("DR0-3", before->dr[i] == after->dr[i]);
    CHECK("DR6", (before->dr[6] | 0xffff0ff0u) == after->dr[6]);
    CHECK("DR7", (before->dr[7] | 0x400u) == after->dr[7]);
    long long tsc_drift = (long long)(after->tsc_offset - before->tsc_offset);
    CHECK("the TSC offset (by more than 10^7 cycles)", llabs(tsc_drift) < 10000000);
    CHECK("SYSENTER_CS/ESP/EIP", before->sysenter_cs == after->sysenter_cs &&
                                     before->sysenter_esp == after->sysenter_esp &&
                                     before->sysenter_eip == after->sysenter_eip);
    CHECK("halted", before->halted == after->halted);
    CHECK("the interrupt shadow", before->interrupt_shadow == after->interrupt_shadow);
    CHECK("stand_in_selectors_leaked",
          before->stand_in_selectors_leaked == after->stand_in_selectors_leaked);
#undef CHECK
    return differences;
}

static int switch_to(struct vm *vm, const struct technique *next)
{
    vm->technique->detach(vm);
    vm->technique = next;
    if (next->attach(vm) < 0) {
        fprintf(stderr, "switch_test: attach %s: %s\n", next->name, vm->stop_reason);
        return -1;
    }
    return 0;
}

static int round_trip(struct vm *vm, const struct technique *hvm)
{
    struct cpu before = vm->cpu;
    if (hvm->attach(vm) < 0) {
        fprintf(stderr, "switch_test: attach hvm: %s\n", vm->stop_reason);
        return -1;
    }
    hvm->detach(vm);
    return compare_cpu(&before, &vm->cpu);
}

static void sleep_until(uint64_t deadline_ns)
{
    uint64_t now = stats_now_ns();
    if (deadline_ns <= now)
        return;
    struct timespec pause = {.tv_sec = (time_t)((deadline_ns - now) / 1000000000u),
                             .tv_nsec = (long)((deadline_ns - now) % 1000000000u)};
    nanosleep(&pause, NULL);
}

/* One slice, as vm_run does it. Returns false when the run is over. */
static bool run_slice(struct vm *vm)
{
    pit_update(&vm->pit);
    uint64_t now = stats_now_ns(), deadline = now + SLICE_NS;
    uint64_t timer = pit_next_deadline_ns(&vm->pit);
    vm->deadline_ns = timer < deadline ? timer : deadline;
    enum vm_exit exit = vm->technique->run(vm);
    switch (exit) {
    case VM_EXIT_HALT:
        if (!(vm->cpu.eflags & EFLAGS_IF) && !vm->pic.intr) {
            char reason[96];
            snprintf(reason, sizeof reason, "HLT with interrupts off at EIP 0x%08x under %s",
                     vm->cpu.eip, vm->technique->name);
            vm_request_stop(vm, VMLAB_STATUS_HALTED, reason);
            return false;
        }
        if (!vm->pic.intr)
            sleep_until(vm->deadline_ns);
        return true;
    case VM_EXIT_TRIPLE_FAULT: {
        char reason[sizeof vm->stop_reason];
        snprintf(reason, sizeof reason, "%s", vm->stop_reason);
        vm_request_stop(vm, VMLAB_STATUS_TRIPLE_FAULT, reason);
        return false;
    }
    case VM_EXIT_ERROR: {
        char reason[sizeof vm->stop_reason];
        snprintf(reason, sizeof reason, "%s", vm->stop_reason);
        vm_request_stop(vm, VMLAB_STATUS_TECHNIQUE, reason);
        return false;
    }
    default:
        return !atomic_load(&vm->stop_requested);
    }
}

int main(int argc, char **argv)
{
    struct vm_config config = {.technique = "interp", .memory_bytes = 64u << 20,
                               .guest_command_line = ""};
    int first = 1;
    if (argc > 3 && strcmp(argv[1], "--disk") == 0) {
        config.disk_path = argv[2];
        first = 3;
    }
    if (argc <= first) {
        fprintf(stderr, "usage: switch_test [--disk IMG] GUEST.elf [COMMAND LINE]\n");
        return 2;
    }
    config.guest_path = argv[first];
    if (argc > first + 1)
        config.guest_command_line = argv[first + 1];
    const struct technique *interp = technique_find("interp"), *hvm = technique_find("hvm");
    static struct vm vm;
    if (!interp || !hvm || vm_create(&vm, &config) < 0)
        return 2;
    vm.stats.start_ns = stats_now_ns();
    int switches = 0, broken = 0, slices = 0;
    uint64_t deadline_at = stats_now_ns() + 120ull * 1000000000u;
    while (run_slice(&vm) && stats_now_ns() < deadline_at) {
        /* Stay 1, 2 or 3 slices: a technique must also meet the state the
         * other one left after a halt, an interrupt, a time slice. */
        if (++slices < 1 + switches % 3)
            continue;
        slices = 0;
        const struct technique *next = vm.technique == interp ? hvm : interp;
        if (next == hvm && switches % (2 * ROUND_TRIP_EVERY) == 0) {
            int differences = round_trip(&vm, hvm);
            broken += differences > 0;
            if (differences < 0)
                break;
        }
        if (switch_to(&vm, next) < 0)
            break;
        switches++;
    }
    console_flush(&vm.console);
    fprintf(stderr, "switch_test: %d switches, %d broken round trips; %s\n", switches, broken,
            vm.stop_reason[0] ? vm.stop_reason : "did not finish in 120 s");
    vm_destroy(&vm);
    if (broken)
        return STATUS_ROUND_TRIP_BROKEN;
    return vm.stop_reason[0] ? vm.exit_status : VMLAB_STATUS_TIMEOUT;
}
