/* int80_execve: Linux i386 execve("/bin/touch", [touch, canary], NULL). */
    .text
    .globl hostile_main
hostile_main:
    movl $11, %eax                  /* i386 execve */
    movl $touch, %ebx
    movl $argv, %ecx
    xorl %edx, %edx
    int $0x80
    movl $1, %eax
    ret
    .data
touch: .asciz "/bin/touch"
canary: .asciz "/tmp/vmlab-trapemu-canary"
    .align 4
argv: .long touch, canary, 0
