/* int80_open: Linux i386 open(canary, O_CREAT|O_WRONLY, 0644), then
 * execve("/bin/touch", ...), through int 0x80. Neither may reach Linux. */
    .text
    .globl hostile_main
hostile_main:
    movl $5, %eax                   /* i386 open */
    movl $canary, %ebx
    movl $0x41, %ecx
    movl $0644, %edx
    int $0x80
    movl $1, %eax
    ret
    .data
canary: .asciz "/tmp/vmlab-trapemu-canary"
