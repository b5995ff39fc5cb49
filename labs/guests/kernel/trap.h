/*
 * trap.h - the registers saved on the kernel stack at every trap.
 *
 * Read bottom-up, this is what vectors.S pushes (pushal, then the segment
 * registers, then the vector number and error code) on top of what the CPU
 * pushed (EIP, CS, EFLAGS, and ESP and SS when the trap came from ring 3,
 * Intel SDM vol. 3, 6.12.1, figure 6-4).
 */
#ifndef TRAP_H
#define TRAP_H

#include <stdint.h>
#include "trapnum.h"

struct trapframe {
    uint32_t edi, esi, ebp, esp_ignored, ebx, edx, ecx, eax;   /* pushal */
    uint32_t gs, fs, es, ds;
    uint32_t trapno, error_code;
    uint32_t eip, cs, eflags;        /* pushed by the CPU */
    uint32_t user_esp, user_ss;      /* only on a change of privilege */
};

#define EFLAGS_IF  0x200
#define EFLAGS_RESERVED1 0x002       /* bit 1 always reads as 1 */

static inline int trap_from_user(const struct trapframe *tf)
{
    return (tf->cs & 3) == 3;
}

#endif
