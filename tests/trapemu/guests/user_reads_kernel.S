/* user_reads_kernel: the guest kernel reads its secret (so a direct
 * execution VMM maps that page), then drops to ring 3, where user code
 * reads the same supervisor-only page. The guest must see #PF (vector 14,
 * error 5: user read, protection) - the host must not have left the page
 * readable just because guest kernel and user both run at host ring 3. */
    .text
    .globl hostile_main
hostile_main:
    xorl %ecx, %ecx
1:  movl %ecx, %eax                 /* identity map 0-4 MiB, supervisor only */
    shll $12, %eax
    orl $3, %eax
    movl %eax, page_table(, %ecx, 4)
    incl %ecx
    cmpl $1024, %ecx
    jne 1b
    movl $user_code, %eax           /* the user's code and stack pages: U */
    shrl $12, %eax
    orl $4, page_table(, %eax, 4)
    movl $user_stack, %eax
    shrl $12, %eax
    orl $4, page_table(, %eax, 4)
    movl $page_table, %eax
    orl $7, %eax
    movl %eax, page_directory
    movl $page_directory, %eax
    movl %eax, %cr3
    movl %cr0, %eax
    orl $0x80010000, %eax           /* PG, WP */
    movl %eax, %cr0
    movl $msg_kernel, %esi
    call print
    movl secret, %eax               /* the kernel may read it */
    call print_hex
    movl $msg_newline, %esi
    call print
    movl $user_code, %ebx
    movl $user_stack + 4096, %ecx
    jmp enter_user

    .data
msg_kernel: .asciz "kernel reads secret: "
msg_newline: .asciz "\n"
    .align 4096
secret: .long 0x5ec2e7ed
    .align 4096
user_code:
    movl secret, %eax               /* must fault */
    int $0x81                       /* reached only if the secret leaked */
1:  jmp 1b
    .align 4096
user_stack: .skip 4096

    .bss
    .align 4096
page_directory: .skip 4096
page_table: .skip 4096
