/*
 * entry.S - the Multiboot header and the kernel's first instructions.
 *
 * The boot loader (QEMU -kernel, vmlab, GRUB) leaves the CPU in 32-bit
 * protected mode, paging off, flat segments, interrupts off, EAX =
 * 0x2BADB002, EBX = the Multiboot information (Multiboot spec 3.2,
 * "Machine state"). There is no stack, so that comes first.
 */
#define MULTIBOOT_MAGIC 0x1BADB002
#define MULTIBOOT_FLAGS 0x00000003   /* page-align modules; give us mem_* and mmap */

    .section .multiboot, "a"
    .balign 4
    .long MULTIBOOT_MAGIC
    .long MULTIBOOT_FLAGS
    .long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)   /* the three words sum to 0 */

    .text
    .globl _start
_start:
    movl $boot_stack_top, %esp
    cld                             /* the C ABI expects DF = 0 */
    pushl %ebx                      /* Multiboot information */
    pushl %eax                      /* boot loader magic */
    call kernel_main
1:
#ifndef PV
    cli                             /* not reached: kernel_main ends the machine */
    hlt
#endif
    jmp 1b

    .bss
    .balign 4096
    .globl boot_stack_top
boot_stack:
    .skip 16384
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
