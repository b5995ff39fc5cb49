/*
 * proc.h - a process: an address space, a kernel stack, and the state the
 * scheduler needs.
 */
#ifndef PROC_H
#define PROC_H

#include "kernel.h"
#include "trap.h"

#define NPROC 8
#define KERNEL_STACK_SIZE 8192

enum proc_state { UNUSED, RUNNABLE, RUNNING, SLEEPING, ZOMBIE };

/* The registers switch_context saves, in the order it pops them. */
struct context {
    uint32_t edi, esi, ebx, ebp, eip;
};

struct proc {
    int pid;
    const char *name;
    enum proc_state state;
    pte_t *directory;            /* this process's address space */
    uint8_t *kernel_stack;       /* KERNEL_STACK_SIZE bytes */
    struct context *context;     /* saved kernel registers, while switched out */
    struct trapframe *tf;        /* its user registers, at the top of the stack */
    void *channel;               /* what it sleeps on, if SLEEPING */
    uint32_t image_end;          /* end of the pages the loader filled */
    uint32_t brk;                /* end of the heap: demand-zero below this */
    uint32_t divide_handler;     /* user code to call on #DE, or 0 */
    uint32_t preemptions;        /* times the timer took the CPU away */
    int exit_status;
    bool killed;                 /* ended by the kernel, not by exit() */
};

struct proc *proc_current(void);

/* exec.c */
int exec_load(pte_t *directory, const uint8_t *elf, uint32_t size,
              uint32_t *entry, uint32_t *image_end);

#endif
