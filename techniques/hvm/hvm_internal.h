/*
 * hvm_internal.h - what the files of techniques/hvm share, and nobody else.
 *
 *   hvm.c         the technique table, the run loop and the exit handler
 *   kvm_setup.c   /dev/kvm, the VM, its memory slots, the vCPU, CPUID, reuse
 *   cpu_state.c   struct cpu <-> kvm_regs, kvm_sregs, MSRs, events
 *   interrupts.c  8259A interrupts into the vCPU (KVM_INTERRUPT)
 *   deadline.c    leaving KVM_RUN at vm->deadline_ns (a per-thread timer)
 *   kvm_stats.c   KVM's own counters (binary statistics) into vmlab's table
 *   emulate.c     an instruction KVM cannot emulate, run by core/x86 instead
 *
 * References: the KVM API documentation (Documentation/virt/kvm/api.rst,
 * cited as "KVM API" with its section), the Intel SDM and the AMD APM.
 */
#ifndef VMLAB_HVM_INTERNAL_H
#define VMLAB_HVM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/vm.h"

/* ---- deadline.c ---------------------------------------------------------- */

/*
 * KVM_RUN must return by vm->deadline_ns even if the guest never exits. A
 * POSIX timer signals the thread that runs the vCPU; the signal is blocked
 * in that thread except inside KVM_RUN (KVM_SET_SIGNAL_MASK), so it can only
 * ever interrupt the guest, never the VMM, and a signal that fires while the
 * VMM handles an exit waits for the next KVM_RUN, which then returns at once
 * with EINTR (KVM API: KVM_SET_SIGNAL_MASK, and the
 * note on KVM_RUN and pending signals). No global state, no race.
 */
struct hvm_deadline {
    int signal_number;
    pthread_t thread;                /* the thread that attached: the only one that may run */
    timer_t timer;
    bool timer_created;
    bool handler_installed;
    uint64_t armed_ns;               /* the deadline the timer is set for; 0: not armed */
    /* The mask last given to KVM_SET_SIGNAL_MASK: the vCPU keeps it from
     * one attach to the next, so it is set again only if it changed. */
    bool kvm_mask_set;
    uint8_t kvm_mask[8];
    sigset_t thread_mask_before;     /* restored on detach */
    struct sigaction action_before;  /* restored on detach */
};

/* On every attach; the vCPU (vcpu_fd) may be one deadline has seen before. */
int hvm_deadline_start(struct hvm_deadline *deadline, int vcpu_fd, char *why, size_t why_len);
/* Arms the timer for an absolute CLOCK_MONOTONIC time (stats_now_ns()). */
int hvm_deadline_arm(struct hvm_deadline *deadline, uint64_t deadline_ns);
/* After KVM_RUN returned EINTR: takes our signal if it is pending. */
void hvm_deadline_consume(struct hvm_deadline *deadline);
void hvm_deadline_stop(struct hvm_deadline *deadline);

/* ---- kvm_stats.c --------------------------------------------------------- */

/* One KVM binary statistics file (KVM API: KVM_GET_STATS_FD). */
struct kvm_stats_reader {
    int fd;                          /* -1: this kernel has no binary statistics */
    uint32_t data_offset, data_size;
    uint64_t *data;
    int value_count;
    struct kvm_stats_value {
        uint32_t index;              /* into data, in u64 units */
        uint64_t base;               /* the row's count when we attached */
        struct stats_counter *row;   /* ("kvm", name) */
    } *values;
};

/* prefix goes before each statistic's name ("" for the vCPU, "vm." for the VM). */
void kvm_stats_open(struct kvm_stats_reader *reader, int kvm_object_fd, const char *prefix,
                    struct stats *stats);
/* Copies KVM's current values into the rows (count = value since vmlab started). */
void kvm_stats_refresh(struct kvm_stats_reader *reader);
void kvm_stats_close(struct kvm_stats_reader *reader);

/* ---- the vCPU and its VM ------------------------------------------------- */

/*
 * One VM's KVM VM and vCPU. Created at the first attach and kept, with the
 * rows and readers below, in vm->kept_state until vm_destroy calls
 * release(): a switch back to hvm then costs the loading of the state, not
 * the creation of a VM (hvm.c). Only deadline, registers_in_run, draining
 * and the tr_* fields describe a single attach.
 */
struct hvm {
    int kvm_fd;                      /* the process's /dev/kvm (kvm_setup.c): not ours */
    int vm_fd, vcpu_fd;
    struct kvm_run *run;             /* the vCPU's shared page(s) (KVM API: "The kvm_run
                                        structure") */
    size_t run_size;
    bool has_tsc_offset_attribute;   /* KVM_VCPU_TSC_OFFSET: set the offset directly */
    char cpuid_note[160];            /* "" or how KVM changed the CPUID we set */
    bool registers_in_run;           /* kvm_run->s.regs is newer than vm->cpu */
    bool draining;                   /* detach: deliver what is in flight, offer nothing new */

    struct hvm_deadline deadline;
    struct kvm_stats_reader vcpu_stats, vm_stats;

    /* Rows of vmlab's statistics, looked up once (stats.h). */
    struct hvm_rows {
        struct stats_counter *io, *mmio, *hlt, *irq_window, *intr, *shutdown, *fail_entry,
            *internal_error, *other;
        struct stats_counter *reuse;   /* ("attach", "hvm-reuse-reset"): hvm_reuse_vm */
    } rows;
    struct hvm_emulation *emulation;   /* emulate.c */
    struct stats_counter **port_rows;  /* 65536 entries: ("exit", "io-port-0x...") */
    struct stats_counter *irq_rows[16]; /* ("inject", "irqN") */

    /* What the vCPU holds, as cpu_state.c last read or wrote it; valid
     * only until the next KVM_RUN (run_guest clears it). */
    struct hvm_known {
        bool valid;
        struct kvm_sregs sregs;
        struct kvm_debugregs debug;
        uint64_t sysenter[3];        /* SYSENTER_CS, _ESP, _EIP */
        int64_t tsc_offset;          /* with has_tsc_offset_attribute */
        bool events_valid;           /* events, as read by hvm_event_in_flight */
        struct kvm_vcpu_events events;
    } known;

    /* The task register we invented on attach (see cpu_state.c), to give
     * the core back exactly what it gave us if the guest never loaded one. */
    bool tr_invented;
    struct segment tr_given;
};

/* kvm_setup.c */
bool hvm_kvm_usable(char *why, size_t why_len);
int hvm_open_vm(struct hvm *hvm, struct vm *vm, char *why, size_t why_len);
/* Makes a kept VM forget what KVM cached while another technique ran the
 * guest (translations, events, kvm_run's interrupt state). */
int hvm_reuse_vm(struct hvm *hvm, struct vm *vm, char *why, size_t why_len);
void hvm_close_vm(struct hvm *hvm);
void hvm_describe_host(void);

/* cpu_state.c: 0, or -1 with a reason in why. */
/* discard_past: on attach, drop every interrupt, exception and NMI KVM
 * still holds from an earlier attach. */
int hvm_load_cpu(struct hvm *hvm, const struct cpu *cpu, bool discard_past, char *why,
                 size_t why_len);
int hvm_save_cpu(struct hvm *hvm, struct cpu *cpu, char *why, size_t why_len);
/* The general registers, EIP and EFLAGS from the registers KVM copied into
 * kvm_run on the last exit (kvm_valid_regs = KVM_SYNC_X86_REGS). */
void hvm_save_registers_from_run(const struct hvm *hvm, struct cpu *cpu);

/* emulate.c: returns true to re-enter the guest, else sets *exit. */
struct hvm_emulation *hvm_emulation_create(struct vm *vm);
void hvm_emulation_destroy(struct hvm_emulation *emulation);
bool hvm_emulate_instruction(struct vm *vm, struct hvm *hvm, enum vm_exit *exit);

/* interrupts.c */
void hvm_offer_interrupt(struct vm *vm, struct hvm *hvm);
bool hvm_event_in_flight(struct hvm *hvm);

#endif
