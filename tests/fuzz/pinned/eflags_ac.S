/* eflags_ac: found by tests/fuzz (trapemu seeds 31, 108, 115, ...). The
 * guest sets EFLAGS.AC with popf - allowed at any CPL - then traps. Under
 * trapemu Linux delivers the signal with the guest's AC still set (signal
 * delivery clears only DF, TF and RF), the host runs at ring 3 with
 * CR0.AM = 1, so the first misaligned access in vmlab's C signal handler is
 * an #AC: SIGBUS while SIGBUS is blocked, and vmlab dies with a core dump.
 * Expected: vector 3 reported by the guest, status 0x43 * 2 + 1 = 135 -
 * the same number as death by SIGBUS, so run.sh looks for vmlab's closing
 * line too. Links with tests/trapemu/guests/common.S. */
    .text
    .globl hostile_main
hostile_main:
    pushl $0x40002                  /* AC = 1, IF = 0 */
    popfl
    int3
    movl $1, %eax
    ret
