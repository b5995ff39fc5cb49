/*
 * patch.S - the code the smc guest rewrites (see smc.c). Each routine is
 * on its own page or shares one with its writer, on purpose.
 */
    .section .text.smc, "ax"

/* uint32_t smc_far(void): "mov $imm32, %eax; ret", alone on a page that the
 * C code patches (smc_far_imm is the imm32). */
    .balign 4096
    .globl smc_far, smc_far_imm
smc_far:
    .byte 0xb8
smc_far_imm:
    .long 0
    ret

/* uint32_t smc_op(uint32_t x): x + 1 while smc_op_byte is 0x40 (inc %eax),
 * x - 1 once it is 0x48 (dec %eax). */
    .balign 64
    .globl smc_op, smc_op_byte
smc_op:
    movl 4(%esp), %eax
smc_op_byte:
    incl %eax
    ret

/* uint32_t smc_near(uint32_t v): writes v into the immediate of the very
 * next instruction, then executes it: the write must take effect even
 * though that instruction was already decoded with the rest of its block. */
    .balign 64
    .globl smc_near
smc_near:
    movl 4(%esp), %ecx
    movl %ecx, 1f + 1
1:  movl $0, %eax
    ret

    .section .note.GNU-stack, "", @progbits
