/* eflags_nt: found by tests/fuzz (trapemu seed 136). The guest sets
 * EFLAGS.NT with popf and keeps running until the deadline timer sends
 * trapemu back to the VMM. rt_sigreturn does not restore NT from the signal
 * context (it is not among the kernel's FIX_EFLAGS), so vmlab's own code
 * continues with the guest's NT = 1, and the IRETQ of the next
 * direct_world_enter raises #GP (IRET with NT = 1 in 64-bit mode): "internal
 * error: signal 11 in the VMM itself" and a core dump. Expected: status 6
 * (--timeout). Links with tests/trapemu/guests/common.S. */
    .text
    .globl hostile_main
hostile_main:
    pushl $0x4002                   /* NT = 1, IF = 0 */
    popfl
1:  jmp 1b
