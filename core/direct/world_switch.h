/*
 * world_switch.h - the assembly of world_switch.c, internal to core/direct.
 */
#ifndef VMLAB_DIRECT_WORLD_SWITCH_H
#define VMLAB_DIRECT_WORLD_SWITCH_H

#include <signal.h>
#include <stdint.h>

/* What direct_world_enter loads; the layout is fixed by the assembly. */
struct direct_frame {
    uint64_t host_rsp;        /* the VMM's stack, for the way back */
    uint32_t regs[8];         /* enum reg32 order */
    uint32_t eip;
    uint32_t eflags;          /* host RFLAGS for the guest: native bits | IF */
    uint16_t ds, es;          /* host data selectors standing for the guest's (traps.c) */
};

/* Returns the exit code the trap handler put in RAX. */
uint64_t direct_world_enter(struct direct_frame *frame);
/* Not called: the address a signal returns to for the way back. */
void direct_world_exit(void);
/* The SA_SIGINFO handler of every signal the substrate takes. */
void direct_signal_entry(int signal_number, siginfo_t *info, void *ucontext);
/* The C part, entered by the stub once FS is the VMM's. */
void direct_signal_dispatch(int signal_number, siginfo_t *info, void *ucontext);

extern uint64_t direct_vmm_fs_base;
extern uint8_t direct_have_wrfsbase;

#endif
