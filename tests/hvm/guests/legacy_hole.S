/*
 * legacy_hole.S - guest-physical addresses that are not RAM.
 *
 * vmlab's physical map (core/mem.h): 0xA0000-0xFFFFF (the VGA/BIOS hole of
 * a PC) and everything beyond guest RAM read as all ones and drop writes.
 * Under hvm these are the gaps between KVM's two memory slots, so each
 * access is a KVM_EXIT_MMIO answered by vmlab. The guest checks both, and
 * that RAM just below the hole is ordinary RAM, then exits through
 * isa-debug-exit: status 1 (value 0) if all is well, 3 (value 1) if not.
 */
#define BEYOND_RAM 0x10000000   /* 256 MiB: beyond the 64 MiB the test gives */

#include "../../guests/multiboot_header.inc"

    .text
    .globl _start
_start:
    movl $0x12345678, 0xA0000       /* dropped */
    movl 0xA0000, %eax
    cmpl $0xffffffff, %eax
    jne fail
    movw $0x1234, 0xFFFFE           /* the hole's last word: dropped */
    movzwl 0xFFFFE, %eax
    cmpl $0xffff, %eax
    jne fail
    movl $0x5555aaaa, BEYOND_RAM    /* dropped */
    movl BEYOND_RAM, %eax
    cmpl $0xffffffff, %eax
    jne fail
    movl $0xcafef00d, 0x9fffc       /* the last RAM word below the hole */
    movl 0x9fffc, %eax
    cmpl $0xcafef00d, %eax
    jne fail
    movb $0, %al
    outb %al, $0xf4
fail:
    movb $1, %al
    outb %al, $0xf4
    hlt

    .section .note.GNU-stack, "", @progbits
