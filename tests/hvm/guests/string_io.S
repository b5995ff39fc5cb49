/*
 * string_io.S - REP INSB and REP OUTSB: string I/O, which KVM hands to user
 * space as one KVM_EXIT_IO with count > 1 (KVM API: KVM_EXIT_IO).
 *
 * Writes 0x5a to the UART's scratch register (0x3ff, 16550A datasheet), reads
 * it back 64 times with REP INSB, checks every byte, then prints a line with
 * REP OUTSB to COM1 (0x3f8) and exits through isa-debug-exit: status 1 if
 * the 64 bytes were right, 3 if not. Expected output: "string io ok\n".
 */
#define COUNT 64

#include "../../guests/multiboot_header.inc"

    .text
    .globl _start
_start:
    cld
    movw $0x3ff, %dx
    movb $0x5a, %al
    outb %al, %dx
    movl $buffer, %edi
    movl $COUNT, %ecx
    rep insb
    movl $buffer, %esi
    movl $COUNT, %ecx
1:  lodsb
    cmpb $0x5a, %al
    jne fail
    loop 1b
    movw $0x3f8, %dx
    movl $message, %esi
    movl $message_end - message, %ecx
    rep outsb
    movb $0, %al
    outb %al, $0xf4
fail:
    movb $1, %al
    outb %al, $0xf4
    hlt

message:
    .ascii "string io ok\n"
message_end:

    .bss
buffer:
    .skip COUNT

    .section .note.GNU-stack, "", @progbits
