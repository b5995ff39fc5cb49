/* syscall_open: the SYSCALL instruction (not an i386 instruction) asking
 * for Linux i386 open(canary, O_CREAT). On AMD it is a compat system call
 * for Linux; trapemu cannot recover its EIP and must stop the VM (status
 * 10) without Linux running it. Under interp it is #UD (vector 6). */
    .text
    .globl hostile_main
hostile_main:
    movl $5, %eax
    movl $canary, %ebx
    movl $0x41, %ecx
    movl $0644, %edx
    syscall
    movl $1, %eax
    ret
    .data
canary: .asciz "/tmp/vmlab-trapemu-canary"
