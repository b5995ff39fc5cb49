/*
 * technique.h - the interface every way of running a guest implements.
 *
 * A technique borrows the CPU state from vm->cpu on attach, runs the guest
 * until the core is needed, and gives the state back on detach. A live
 * switch is old->detach(vm); new->attach(vm) between two instructions.
 * Device accesses go through vm->bus from inside the technique.
 */
#ifndef VMLAB_TECHNIQUE_H
#define VMLAB_TECHNIQUE_H

#include <stdbool.h>
#include <stddef.h>

struct vm;

/* Why run() gave control back to the core. */
enum vm_exit {
    VM_EXIT_DEADLINE,       /* vm->deadline_ns passed: the core updates timers */
    VM_EXIT_HALT,           /* the guest executed HLT: wait for an interrupt */
    VM_EXIT_STOP,           /* vm->stop_requested was set (debug-exit, timeout, user) */
    VM_EXIT_TRIPLE_FAULT,   /* the CPU shut down: vm->stop_reason says why */
    VM_EXIT_ERROR,          /* the technique cannot go on: vm->stop_reason says why */
};

struct technique {
    const char *name;
    const char *summary;
    /* Can this technique run here? If not, why (e.g. "/dev/kvm: permission denied"). */
    bool (*available)(char *why, size_t why_len);
    /* Take the CPU from vm->cpu. Returns 0, or -1 with vm->stop_reason set. */
    int (*attach)(struct vm *vm);
    /* Run the guest until the core is needed. */
    enum vm_exit (*run)(struct vm *vm);
    /* Write the complete state back to vm->cpu and release resources. */
    void (*detach)(struct vm *vm);
    /* True if run() honours vm->single_step (returns after one instruction). */
    bool can_single_step;
    /* Optional: can the guest leave this technique now? A technique whose
     * guest state has picked up host values another technique cannot use
     * says no, and why. NULL means always. */
    bool (*can_detach)(struct vm *vm, char *why, size_t why_len);
};

/* All compiled-in techniques, NULL-terminated, in dashboard-key order. */
extern const struct technique *const all_techniques[];
const struct technique *technique_find(const char *name);
/* True for the techniques of DESIGN.md that this build does not have yet. */
bool technique_is_planned(const char *name);
/* Writes "interp, hvm, ...": the names of the compiled-in techniques. */
void technique_list(char *buffer, size_t length);

#endif
