/* A guest that writes to its serial port as fast as it can, forever: the
 * stalled-reader test (tests/cli/run.sh) pipes it into a reader that never
 * reads, and vmlab must still stop at --timeout and on SIGTERM/SIGINT. */
    .text
    .globl _start
    .align 4
multiboot_header:
    .long 0x1BADB002
    .long 0
    .long -0x1BADB002
_start:
    mov $0x3f8, %dx         /* COM1 data register */
1:  mov $'x', %al
    mov $63, %ecx
2:  out %al, %dx
    loop 2b
    mov $'\n', %al           /* a line at a time: each one is a flush */
    out %al, %dx
    jmp 1b
