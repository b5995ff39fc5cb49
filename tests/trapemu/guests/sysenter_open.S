/* sysenter_open: SYSENTER asking for Linux open(canary). With
 * IA32_SYSENTER_CS = 0 the guest must see #GP(0) (SDM vol. 2, SYSENTER). */
    .text
    .globl hostile_main
hostile_main:
    movl $5, %eax
    movl $canary, %ebx
    movl $0x41, %ecx
    movl $0644, %edx
    movl %esp, %ebp
    sysenter
    movl $1, %eax
    ret
    .data
canary: .asciz "/tmp/vmlab-trapemu-canary"
