/*
 * switch.h - moving a running guest from one technique to another.
 *
 * A switch is old->detach(vm); new->attach(vm) between two run() calls, that
 * is between two guest instructions: the architectural state passes through
 * struct cpu, guest RAM is the same memfd under every technique, and the
 * devices live in the core. Nothing is copied but the CPU registers.
 *
 * Switches come from a schedule given on the command line (--switch
 * 'hvm@200ms,interp@400ms'), from a random stress schedule (--switch-every
 * 5ms), or from another thread (the dashboard's keys) through
 * vm_request_switch().
 */
#ifndef VMLAB_SWITCH_H
#define VMLAB_SWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "technique.h"

struct vm;
struct technique;

#define SWITCH_SCHEDULE_MAX 64   /* switch.c says "64" in its message */

struct switch_step {
    const struct technique *technique;
    uint64_t at_ns;                 /* since the start of the run */
};

struct switch_plan {
    struct switch_step steps[SWITCH_SCHEDULE_MAX];
    int step_count;
    int next_step;
    uint64_t every_ns;              /* --switch-every: 0 for none */
    uint64_t next_random_ns;        /* since the start of the run */
    uint64_t random_state;          /* xorshift64 state, from --switch-seed */
    bool among[TECHNIQUE_MAX];      /* --switch-among: the random candidates */
    /* Techniques that refused the guest, and the CPU mode (CR0, CR4) they
     * refused it in: the random schedule does not ask them again until the
     * mode changes, and the refusal is reported once, not every slice. A
     * technique this host cannot run (available() says no) refused in
     * every mode: its reason is a host fact, said once per run. */
    struct {
        const struct technique *technique;
        uint32_t cr0, cr4;
        bool every_mode;
    } refusals[8];
    int refusal_count;
    /* available() of every technique, asked once in vm_create before
     * anything attaches (techniques acquire their files there, before
     * trapemu's seccomp filter can forbid opening them). */
    bool available[TECHNIQUE_MAX];
};

/* Parses "hvm@200ms,interp@1.5s,..." (units ns, us, ms, s). Returns 0, or -1
 * with a one-line reason. */
int switch_parse_schedule(struct switch_plan *plan, const char *text, char *error, size_t len);
/* Parses "interp,hvm" into plan->among (every technique when text is NULL).
 * Returns 0, or -1 with a one-line reason. */
int switch_parse_among(struct switch_plan *plan, const char *text, char *error, size_t len);
/* Parses a duration such as "5ms" into ns; -1 on error. */
int64_t switch_parse_duration(const char *text);

/* The run loop's hooks: the host time of the next planned switch (UINT64_MAX
 * if none), and doing the switches that are due. */
uint64_t switch_next_deadline(const struct vm *vm);
void switch_run_due(struct vm *vm, uint64_t now_ns);

/* Switch now (from the run loop's thread, between two run() calls). If the
 * new technique cannot take the guest, the VM stays on the old one and the
 * reason is logged. Returns 0 on success. */
int vm_switch_technique(struct vm *vm, const struct technique *to);

#endif
