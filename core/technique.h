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
    /* Optional: can it run this guest at all, in any mode (pv: only a pv
     * guest)? If not, why. NULL: any guest. Asked once the image is loaded,
     * so that a random switching schedule never picks it in vain. */
    bool (*takes_guest)(const struct vm *vm, char *why, size_t why_len);
    /* Take the CPU from vm->cpu. Returns 0, or -1 with vm->stop_reason set. */
    int (*attach)(struct vm *vm);
    /* Run the guest until the core is needed. */
    enum vm_exit (*run)(struct vm *vm);
    /* Write the complete state back to vm->cpu and release resources. */
    void (*detach)(struct vm *vm);
    /* True if run() honours vm->single_step (returns after one instruction). */
    bool can_single_step;
    /* Optional: free what the technique keeps between attaches in
     * vm->kept_state[technique_index(t)] (hvm keeps its KVM VM and vCPU
     * there, so that a switch back is cheap). Called once by vm_destroy for
     * every technique, after the last detach; NULL if it keeps nothing. */
    void (*release)(struct vm *vm);
};

/* At most this many techniques are compiled in: the size of per-technique
 * arrays such as vm->kept_state. */
#define TECHNIQUE_MAX 8

/* All compiled-in techniques, NULL-terminated (the dashboard's keys follow
 * docs/design.md's order instead: core/ui/dashboard.h). */
extern const struct technique *const all_techniques[];
const struct technique *technique_find(const char *name);
/* The technique's position in all_techniques (< TECHNIQUE_MAX): the index of
 * its slot in per-technique arrays. */
int technique_index(const struct technique *technique);
/* True for the techniques of docs/design.md that this build does not have yet. */
bool technique_is_planned(const char *name);
/* Writes "interp, hvm, ...": the names of the compiled-in techniques. */
void technique_list(char *buffer, size_t length);

#endif
