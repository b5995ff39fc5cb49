/*
 * start.S - where every user program begins. The kernel starts it with
 * two arguments in EAX and EBX (proc.c); main's return value is its exit
 * status.
 */
    .section .text.start, "ax"
    .globl _start
_start:
    pushl %ebx
    pushl %eax
    call main
    pushl %eax
    call exit
1:  jmp 1b

    .section .note.GNU-stack, "", @progbits
