/* far33_spin: a far jump to 64-bit code that never traps and never makes
 * a system call: only the deadline timer can take the CPU back. */
    .text
    .globl hostile_main
hostile_main:
    ljmp $0x33, $code64
    .code64
code64:
1:  jmp 1b
    .code32
