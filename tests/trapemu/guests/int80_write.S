/* int80_write: Linux i386 write(1, msg, len) through int 0x80. Under
 * trapemu the int 0x80 is a compat system call for Linux: seccomp must
 * trap it (by arch) and trapemu must deliver vector 0x80 to the guest. The
 * message must never reach vmlab's stdout. */
    .text
    .globl hostile_main
hostile_main:
    movl $4, %eax
    movl $1, %ebx
    movl $leak, %ecx
    movl $leak_end - leak, %edx
    int $0x80
    movl $1, %eax
    ret
    .data
leak: .ascii "LINUX-WRITE-LEAKED\n"
leak_end:
