/*
 * probe.c - touch memory that may fault, and survive it.
 *
 * The access runs with the library's trap catch armed (lib/trap.c): if it
 * faults, the trap is recorded in last_trap and execution resumes after the
 * access instead of retrying it. The result says whether it faulted.
 */
#include "guest.h"

bool probe_read32(const volatile uint32_t *p, uint32_t *value)
{
    int before = last_trap.count;
    uint32_t v = 0;
    asm volatile("movl $1f, trap_resume_eip\n\tmovl (%1), %0\n1:"
                 : "+r"(v) : "r"(p) : "memory");
    trap_resume_eip = 0;
    *value = v;
    return last_trap.count == before;
}

bool probe_write32(volatile uint32_t *p, uint32_t value)
{
    int before = last_trap.count;
    asm volatile("movl $1f, trap_resume_eip\n\tmovl %1, (%0)\n1:"
                 : : "r"(p), "r"(value) : "memory");
    trap_resume_eip = 0;
    return last_trap.count == before;
}
