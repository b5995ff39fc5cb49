/*
 * note.S - the ELF note that makes this image a pv guest (core/pv/abi.h:
 * owner "vmlab", type 0x5056, descriptor = the ABI version), and the
 * upcall entry, returning through the hypercall page's iret entry.
 */
    .section .vmlab_pv, "a", @note
    .balign 4
    .long 6                 /* namesz: "vmlab" and its NUL */
    .long 4                 /* descsz */
    .long 0x5056            /* PV_NOTE_TYPE */
    .asciz "vmlab"
    .balign 4
    .long 1                 /* PV_ABI_VERSION */

    .text
    .globl upcall_entry
upcall_entry:
    pushal
    cld
    call upcall_handler
    popal
    jmp *pv_iret_entry

    .section .note.GNU-stack, "", @progbits
