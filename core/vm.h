/*
 * vm.h - the virtual machine: one CPU, its RAM, the PC devices on the bus,
 * the statistics, and the technique currently running the CPU.
 *
 * The run loop (vm_run) owns time: it gives the technique a slice that ends
 * at the next timer deadline, updates the PIT and polls the console when the
 * technique returns, and puts a halted CPU to sleep until an interrupt is due
 * instead of spinning a host core.
 */
#ifndef VMLAB_VM_H
#define VMLAB_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "console.h"
#include "cpu.h"
#include "dev/ata.h"
#include "dev/bus.h"
#include "dev/cga.h"
#include "dev/debug_exit.h"
#include "dev/fw_cfg.h"
#include "dev/ioapic.h"
#include "dev/lapic.h"
#include "dev/pic8259.h"
#include "dev/pit8254.h"
#include "dev/uart16550.h"
#include "mem.h"
#include "pv/pv.h"
#include "stats.h"
#include "switch.h"
#include "technique.h"

/* vmlab's exit statuses. The guest's own status through isa-debug-exit is
 * always odd ((v << 1) | 1), so the VMM's own outcomes use even numbers. */
enum vmlab_status {
    VMLAB_STATUS_OK = 0,            /* --help, --version */
    VMLAB_STATUS_ERROR = 2,         /* bad input or a VMM error: nothing ran */
    VMLAB_STATUS_TRIPLE_FAULT = 4,  /* the guest shut the CPU down */
    VMLAB_STATUS_TIMEOUT = 6,       /* --timeout expired */
    VMLAB_STATUS_HALTED = 8,        /* HLT with interrupts off: the guest can never wake */
    VMLAB_STATUS_TECHNIQUE = 10,    /* the technique stopped with an error */
    VMLAB_STATUS_SIGNAL = 12,       /* SIGINT, SIGTERM or SIGHUP stopped the run */
    /* The guest ran, but a statistics file (--stats-json, --stats-out)
     * could not be written: a script must not take the missing numbers for
     * a clean run. The message says the status the guest's run had. */
    VMLAB_STATUS_STATS_LOST = 14,
};

struct vm_config {
    const char *technique;
    uint64_t memory_bytes;
    const char *disk_path;
    const char *slave_disk_path;    /* --disk slave=FILE, or a second --disk */
    const char *stats_json_path;
    const char *guest_path;
    const char *guest_command_line;
    double timeout_seconds;         /* 0: none */
    const char *switch_schedule;    /* --switch "hvm@200ms,interp@400ms" */
    const char *switch_every;       /* --switch-every 5ms */
    uint64_t switch_seed;           /* --switch-seed: the random schedule's seed */
    const char *switch_among;       /* --switch-among "interp,hvm": its candidates */
    /* Where the guest's serial console goes: 0 means stdin/stdout. The
     * dashboard passes its own pipes. */
    int console_input_fd, console_output_fd;
};

struct vm {
    struct cpu cpu;
    struct guest_ram ram;
    struct bus bus;
    struct stats stats;

    struct pic_pair pic;
    struct lapic lapic;
    struct ioapic ioapic;
    struct fw_cfg fw_cfg;
    struct cga cga;
    struct pit pit;
    struct uart16550 uart;
    struct debug_exit debug_exit;
    struct ata_disk disk, slave_disk;       /* the primary channel's master and slave */
    bool has_disk, has_slave_disk;
    struct ata_channel ata;
    struct pv pv;                   /* the hypercall interface, for a pv guest */
    struct console console;

    const struct technique *technique;
    void *technique_state;          /* owned by the attached technique */
    pthread_t attach_thread;        /* where it attached (vm_run attaches again elsewhere) */
    /* What a technique keeps from one attach to the next (hvm: its KVM VM
     * and vCPU), by technique_index; freed by its release() in vm_destroy. */
    void *kept_state[TECHNIQUE_MAX];
    struct switch_plan switches;
    _Atomic(const struct technique *) switch_request;   /* from another thread */
    uint64_t switch_count;

    /* The technique's run() must return by this host time (ns). */
    uint64_t deadline_ns;
    /* run() must return after one instruction (only asked of techniques
     * with can_single_step). */
    bool single_step;
    /* Pause and single-step requests, from any thread (the dashboard). */
    atomic_bool paused;
    atomic_int step_requests;
    /* Set from anywhere (a device, a signal, another thread) to make run()
     * return VM_EXIT_STOP promptly. */
    atomic_bool stop_requested;

    uint64_t timeout_at_ns;         /* 0: no timeout */
    uint64_t run_ns;                /* how long vm_run ran */
    /* Of run_ns, the time the guest did not run: asleep in HLT or paused.
     * Instructions per second are counted over run_ns - idle_ns, so an idle
     * guest does not look like a slow technique. */
    uint64_t idle_ns;

    /* How the run ended. */
    int exit_status;
    char stop_reason[512];

    struct vm_config config;
};

/* Builds the machine (RAM, devices, console) and loads the guest. Returns 0,
 * or -1 after printing a one-line error. */
int vm_create(struct vm *vm, const struct vm_config *config);
/* The same machine without a guest image and without a technique: RAM,
 * devices, console and statistics, vm->cpu all zero. For a harness that
 * writes code into vm->ram itself, sets vm->cpu, and then attaches a
 * technique by hand (tests/diff/bt_runner.c); config->technique and
 * config->guest_path are not used. vm_destroy frees it. */
int vm_create_empty(struct vm *vm, const struct vm_config *config);
/* Runs until the guest exits, faults, times out or is stopped; returns the
 * vmlab exit status. */
int vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);

/* The CPU's INTR pin: the local APIC has an interrupt for it, or passes
 * the 8259's INTR through (virtual wire). */
static inline bool vm_intr(const struct vm *vm)
{
    return lapic_intr(&vm->lapic, vm->pic.intr);
}

/* True when the interrupt controller asserts INTR and the CPU would take it
 * (EFLAGS.IF set, no interrupt shadow), or when a pv guest has an upcall
 * due (its own mask, not IF, decides: core/pv/events.c). Cheap: called
 * between instructions. */
static inline bool vm_interrupt_deliverable(const struct vm *vm)
{
    return (vm_intr(vm) && (vm->cpu.eflags & EFLAGS_IF) && !vm->cpu.interrupt_shadow) ||
           vm->pv.upcall_due;
}

/* The statistics name of an interrupt vector: "irq0".."irq15" by where the
 * guest programmed the PICs, else "vector-0x41". */
void vm_interrupt_name(const struct vm *vm, int vector, char *name, size_t length);

/* Acknowledge the highest-priority interrupt: returns its vector (INTA cycle);
 * a pv guest's due upcall comes first. */
int vm_acknowledge_interrupt(struct vm *vm);

/* Ask the run loop to switch technique at the end of the current slice
 * (within 10 ms); safe from any thread. */
void vm_request_switch(struct vm *vm, const struct technique *to);

/* Pause or resume the guest; while paused, vm_request_step runs one
 * instruction (techniques that can single-step) per request. Any thread. */
void vm_set_paused(struct vm *vm, bool paused);
void vm_request_step(struct vm *vm);

/* Stop with a message; used by devices, the timeout and techniques. */
void vm_request_stop(struct vm *vm, int exit_status, const char *reason);

#endif
