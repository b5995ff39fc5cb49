/*
 * start.S - the Multiboot v1 header and the first instructions of a guest.
 *
 * The boot loader (vmlab, QEMU -kernel, GRUB) leaves us in 32-bit protected
 * mode with paging off, flat segments, interrupts off, EAX = 0x2BADB002 and
 * EBX = the physical address of the Multiboot information structure
 * (Multiboot spec 3.2 "Machine state"). It guarantees no stack, no GDT and
 * no IDT, so we set up a stack here and let C load its own tables.
 */
#define MB_MAGIC  0x1BADB002
#define MB_FLAGS  0x00000003   /* bit 0: page-align modules; bit 1: give us mem_* */

    .section .multiboot, "a"
    .balign 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)    /* the three words sum to zero */

    .text
    .globl _start
_start:
    movl $stack_top, %esp
    cld                             /* the C ABI assumes DF = 0 */
    pushl $0                        /* EFLAGS = 0: IF and all flags clear */
    popfl
    pushl %ebx                      /* multiboot info */
    pushl %eax                      /* boot magic     */
    call guest_boot
    /* guest_boot never returns; if it does, report failure. */
    pushl $0x7e
    call guest_exit

    .bss
    .balign 16
stack_bottom:
    .skip 16384
stack_top:

    .section .note.GNU-stack, "", @progbits
