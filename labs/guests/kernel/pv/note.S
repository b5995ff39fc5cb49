/*
 * note.S - the ELF note that makes kernel-pv.elf a pv guest (core/pv/abi.h:
 * owner "vmlab", type 0x5056, descriptor = the ABI version and the address
 * of the hypercall page). vmlab gives the hypercall interface only to an
 * image that carries it, and fills that page before the kernel starts, so
 * that even PV_INIT is a call into the page, not an `out` of the kernel's.
 */
#ifdef PV
    .section .vmlab_pv, "a", @note
    .balign 4
    .long 6                 /* namesz: "vmlab" and its NUL */
    .long 8                 /* descsz */
    .long 0x5056            /* PV_NOTE_TYPE */
    .asciz "vmlab"
    .balign 4
    .long 1                 /* PV_ABI_VERSION */
    .long pv_hypercall_page
#endif
    .section .note.GNU-stack, "", @progbits
