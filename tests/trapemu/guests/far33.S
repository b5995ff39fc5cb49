/* far33: a far jump to selector 0x33 - the host's 64-bit user code
 * segment - then 64-bit Linux system calls: open(canary, O_CREAT) and
 * execve. The guest's GDT has no entry 6, so the guest should see #GP; a
 * direct-execution VMM must stop the VM (status 10), and seccomp must keep
 * the system calls from Linux. */
    .text
    .globl hostile_main
hostile_main:
    ljmp $0x33, $code64
    .code64
code64:
    movl $2, %eax                   /* x86-64 open */
    leaq canary(%rip), %rdi
    movl $0x41, %esi
    movl $0644, %edx
    syscall
    movl $59, %eax                  /* x86-64 execve */
    leaq touch(%rip), %rdi
    leaq argv(%rip), %rsi
    xorl %edx, %edx
    syscall
1:  jmp 1b
    .code32
    .data
touch: .asciz "/bin/touch"
canary: .asciz "/tmp/vmlab-trapemu-canary"
    .align 8
argv: .long touch, 0, canary, 0, 0, 0    /* 64-bit pointers, high halves 0 */
