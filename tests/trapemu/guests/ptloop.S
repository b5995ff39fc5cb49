/* ptloop: the page directory's last entry points at the directory itself
 * (a loop: the directory is also a page table, so the page tables appear
 * at 0xffc00000). The guest edits a PTE through the loop, invalidates it,
 * and checks that the new mapping is used; it also reads its PDE through
 * the loop. A shadow MMU must see writes to the directory through any
 * alias. */
    .text
    .globl hostile_main
hostile_main:
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $12, %eax
    orl $3, %eax
    movl %eax, low_table(, %ecx, 4)
    incl %ecx
    cmpl $1024, %ecx
    jne 1b
    movl $low_table + 3, page_directory
    movl $page_directory + 3, page_directory + 4092
    movl $page_directory, %eax
    movl %eax, %cr3
    movl %cr0, %eax
    orl $0x80010000, %eax
    movl %eax, %cr0

    movl $0x0a0a0a0a, 0x300000      /* through the old mapping */
    movl $0x0b0b0b0b, 0x301000
    movl $msg_before, %esi
    call print
    movl 0x300000, %eax
    call print_hex
    movl $0x301003, 0xffc00000 + 0x300 * 4   /* the PTE of 0x300000, through the loop */
    invlpg 0x300000
    movl $msg_after, %esi
    call print
    movl 0x300000, %eax
    call print_hex
    movl $msg_pde, %esi
    call print
    movl 0xfffffffc, %eax           /* PDE 1023 through the loop */
    andl $0xfffff001, %eax          /* address and P: A/D depend on the walk order */
    call print_hex
    movl $msg_newline, %esi
    call print
    xorl %eax, %eax
    ret

    .data
msg_before: .asciz "0x300000 holds "
msg_after: .asciz "; after the PTE edit through the loop it holds "
msg_pde: .asciz "; PDE 1023 is "
msg_newline: .asciz "\n"

    .bss
    .align 4096
page_directory: .skip 4096
low_table: .skip 4096
