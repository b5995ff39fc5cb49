/* page0_top: the guest maps linear page 0 (which the host may not map:
 * vm.mmap_min_addr) and the last page of the 4 GiB (0xfffff000), writes
 * and reads both, and reads the frames back through their identity
 * mapping. Every value must be what the guest wrote. */
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
    movl $0x200003, low_table       /* linear 0 -> physical 2 MiB */
    movl $0x201003, top_table + 4092 /* linear 0xfffff000 -> 2 MiB + 4 KiB */
    movl $low_table + 3, page_directory
    movl $top_table + 3, page_directory + 4092
    movl $page_directory, %eax
    movl %eax, %cr3
    movl %cr0, %eax
    orl $0x80010000, %eax
    movl %eax, %cr0

    movl $0x11223344, 0
    movl $0x55667788, 0xfffffffc
    movl $msg_zero, %esi
    call print
    movl 0, %eax
    call print_hex
    movl $msg_top, %esi
    call print
    movl 0xfffffffc, %eax
    call print_hex
    movl $msg_frames, %esi
    call print
    movl 0x200000, %eax
    call print_hex
    movl $msg_space, %esi
    call print
    movl 0x201ffc, %eax
    call print_hex
    movl $msg_newline, %esi
    call print
    xorl %eax, %eax
    ret

    .data
msg_zero: .asciz "page 0 holds "
msg_top: .asciz ", page 0xfffff000 holds "
msg_frames: .asciz "; the frames hold "
msg_space: .asciz " "
msg_newline: .asciz "\n"

    .bss
    .align 4096
page_directory: .skip 4096
low_table: .skip 4096
top_table: .skip 4096
