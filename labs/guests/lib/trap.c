/*
 * trap.c - where every trap stub lands: a per-vector handler if the guest
 * installed one, else the "catch" a test armed, else a fatal report.
 */
#include "guest.h"

static trap_handler handlers[256];
volatile struct trap_record last_trap;
volatile uint32_t trap_resume_eip;

void trap_set_handler(int vector, trap_handler h)
{
    handlers[vector] = h;
}

void trap_dispatch(struct trapframe *tf)
{
    if (handlers[tf->vector]) {
        handlers[tf->vector](tf);
        return;
    }
    if (trap_resume_eip) {
        last_trap.vector = tf->vector;
        last_trap.error = tf->error;
        last_trap.eip = tf->eip;
        last_trap.cs = tf->cs;
        last_trap.cr2 = read_cr2();
        last_trap.count++;
        tf->eip = trap_resume_eip;
        trap_resume_eip = 0;
        return;
    }
    printf("FAIL: unexpected trap: vector %u error %x eip %08x cs %x cr2 %08x\n",
           tf->vector, tf->error, tf->eip, tf->cs, read_cr2());
    guest_exit(0x7c);
}
