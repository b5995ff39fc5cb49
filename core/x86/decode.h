/*
 * decode.h - the i386 instruction decoder.
 *
 * Turns instruction bytes into a struct x86_instruction: what to do (an
 * operation id the executor switches on), at which operand and address size,
 * and with which operands (a register or a ModRM memory operand, immediates).
 * The decoder is pure: it reads only the bytes it is given and knows nothing
 * about the CPU state except the default operand/address size of CS (the D
 * bit, SDM vol. 3, 3.4.5).
 *
 * Coverage: every one-byte integer opcode and the 0F map that gcc -m32 code
 * and a protected-mode kernel use (SDM vol. 2, appendix A). x87, MMX and SSE
 * opcodes decode as OP_UNSUPPORTED so the executor can raise #UD loudly.
 */
#ifndef VMLAB_X86_DECODE_H
#define VMLAB_X86_DECODE_H

#include <stdbool.h>
#include <stdint.h>

/* SDM vol. 2, 2.3.11: an instruction longer than 15 bytes raises #GP(0). */
#define X86_MAX_INSTRUCTION_LENGTH 15

/* x86_decode results besides a positive length. */
#define X86_DECODE_NEED_MORE 0
#define X86_DECODE_INVALID (-1)    /* #UD */
#define X86_DECODE_TOO_LONG (-2)   /* #GP(0) */

/* Operation ids. The comment gives the opcode(s) and what `sub` holds. */
enum x86_operation {
    OP_INVALID = 0,        /* undefined encoding: #UD */
    OP_UNSUPPORTED,        /* x87/MMX/SSE and others vmlab does not model: #UD */

    /* ALU: sub = enum x86_alu (ADD OR ADC SBB AND SUB XOR CMP). */
    OP_ALU_RM_REG,         /* 00-39 even forms: r/m op= reg */
    OP_ALU_REG_RM,         /* 02,03,...: reg op= r/m */
    OP_ALU_ACC_IMM,        /* 04,05,...: AL/eAX op= imm */
    OP_ALU_RM_IMM,         /* 80,81,82,83 */

    OP_INC_REG, OP_DEC_REG,            /* 40-4F: register in `reg` */
    OP_PUSH_REG, OP_POP_REG,           /* 50-5F */
    OP_PUSH_SEG, OP_POP_SEG,           /* 06/07/0E/16/17/1E/1F, 0F A0/A1/A8/A9: sub = segment */
    OP_DAA, OP_DAS, OP_AAA, OP_AAS,
    OP_PUSHA, OP_POPA, OP_BOUND, OP_ARPL,
    OP_PUSH_IMM,                       /* 68, 6A */
    OP_IMUL_REG_RM_IMM,                /* 69, 6B */
    OP_INS, OP_OUTS,                   /* 6C-6F */
    OP_JCC,                            /* 70-7F, 0F 80-8F: sub = condition */
    OP_TEST_RM_REG, OP_XCHG_RM_REG,
    OP_MOV_RM_REG, OP_MOV_REG_RM,
    OP_MOV_RM_SEG, OP_MOV_SEG_RM,      /* 8C, 8E */
    OP_LEA, OP_POP_RM,
    OP_NOP,                            /* 90, F3 90 (pause), 0F 1F, hint NOPs */
    OP_XCHG_ACC_REG,                   /* 91-97 */
    OP_CBW, OP_CWD,                    /* 98 (cbw/cwde), 99 (cwd/cdq) */
    OP_CALL_FAR_IMM, OP_JMP_FAR_IMM,   /* 9A, EA: immediate = offset, immediate2 = selector */
    OP_PUSHF, OP_POPF, OP_SAHF, OP_LAHF,
    OP_MOV_ACC_MOFFS, OP_MOV_MOFFS_ACC,/* A0/A1, A2/A3: displacement = offset */
    OP_MOVS, OP_CMPS, OP_STOS, OP_LODS, OP_SCAS,
    OP_TEST_ACC_IMM,
    OP_MOV_REG_IMM,                    /* B0-BF */
    OP_SHIFT,                          /* C0/C1 (imm8), D0/D1 (immediate = 1): sub = shift op */
    OP_SHIFT_CL,                       /* D2/D3 */
    OP_RET_NEAR, OP_RET_FAR,           /* C2/C3, CA/CB: immediate = bytes to pop */
    OP_LOAD_FAR_POINTER,               /* C4 les, C5 lds, 0F B2 lss, 0F B4 lfs, 0F B5 lgs: sub = segment */
    OP_MOV_RM_IMM,                     /* C6, C7 */
    OP_ENTER, OP_LEAVE,                /* C8: immediate = frame size, immediate2 = level */
    OP_INT3, OP_INT, OP_INTO, OP_IRET,
    OP_AAM, OP_AAD, OP_SALC, OP_XLAT,
    OP_LOOPNE, OP_LOOPE, OP_LOOP, OP_JCXZ,
    OP_IN_IMM, OP_OUT_IMM, OP_IN_DX, OP_OUT_DX,
    OP_CALL_REL, OP_JMP_REL,
    OP_HLT, OP_CMC,
    OP_TEST_RM_IMM, OP_NOT, OP_NEG, OP_MUL, OP_IMUL_ACC, OP_DIV, OP_IDIV, /* group 3 */
    OP_CLC, OP_STC, OP_CLI, OP_STI, OP_CLD, OP_STD,
    OP_INC_RM, OP_DEC_RM,              /* group 4/5 */
    OP_CALL_RM, OP_CALL_FAR_MEM, OP_JMP_RM, OP_JMP_FAR_MEM, OP_PUSH_RM,

    /* Two-byte map. */
    OP_SLDT, OP_STR, OP_LLDT, OP_LTR, OP_VERR, OP_VERW,
    OP_SGDT, OP_SIDT, OP_LGDT, OP_LIDT, OP_SMSW, OP_LMSW, OP_INVLPG,
    OP_LAR, OP_LSL, OP_CLTS, OP_INVD, OP_WBINVD, OP_UD2,
    OP_MOV_REG_CR, OP_MOV_CR_REG, OP_MOV_REG_DR, OP_MOV_DR_REG, /* reg = CR/DR number, rm = GPR */
    OP_WRMSR, OP_RDTSC, OP_RDMSR, OP_SYSENTER, OP_SYSEXIT,
    OP_CMOVCC, OP_SETCC,               /* sub = condition */
    OP_CPUID,
    OP_BT_RM_REG, OP_BT_RM_IMM,        /* sub = enum x86_bit_op */
    OP_SHLD_IMM, OP_SHLD_CL, OP_SHRD_IMM, OP_SHRD_CL,
    OP_CMPXCHG, OP_XADD, OP_CMPXCHG8B,
    OP_MOVZX, OP_MOVSX,                /* source_size = 1 or 2 */
    OP_BSF, OP_BSR, OP_BSWAP,          /* BSWAP: register in rm */
    OP_IMUL_REG_RM,                    /* 0F AF */
    OP_COUNT
};

enum x86_alu { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP };
enum x86_shift { SHIFT_ROL, SHIFT_ROR, SHIFT_RCL, SHIFT_RCR, SHIFT_SHL, SHIFT_SHR, SHIFT_SAL, SHIFT_SAR };
enum x86_bit_op { BIT_BT, BIT_BTS, BIT_BTR, BIT_BTC };

/* Repeat prefixes (SDM vol. 2, 2.1.1 group 1). */
enum x86_repeat { REPEAT_NONE = 0, REPEAT_REPE = 1 /* F3 */, REPEAT_REPNE = 2 /* F2 */ };

#define X86_NO_REGISTER (-1)

struct x86_instruction {
    uint8_t operation;        /* enum x86_operation */
    uint8_t sub;              /* see the enum comments */
    uint8_t length;           /* bytes, prefixes included */
    uint8_t operand_size;     /* 1, 2 or 4 bytes */
    uint8_t address_size;     /* 2 or 4 bytes */
    uint8_t segment;          /* enum segment_register for the memory operand / string source */
    uint8_t repeat;           /* enum x86_repeat */
    uint8_t lock;             /* F0 seen (validated by the decoder) */
    uint8_t default_32bit;    /* the CS.D this was decoded under */
    uint8_t has_modrm;
    uint8_t has_memory;       /* ModRM names memory (mod != 3) */
    uint8_t reg;              /* ModRM.reg, or the register in the opcode */
    uint8_t rm;               /* ModRM.rm register when !has_memory */
    int8_t base, index;       /* memory operand registers or X86_NO_REGISTER */
    uint8_t scale;            /* log2 of the SIB scale */
    uint8_t source_size;      /* MOVZX/MOVSX source width */
    uint8_t segment_override; /* a segment prefix was given */
    uint32_t displacement;    /* sign-extended to 32 bits */
    uint32_t immediate;       /* sign- or zero-extended as the opcode defines */
    uint32_t immediate2;      /* far pointer selector, ENTER nesting level */
};

/* Decode one instruction. Returns its length (1..15); X86_DECODE_NEED_MORE
 * if `available` bytes end before the instruction does (and are fewer than
 * 15); X86_DECODE_INVALID for an undefined encoding (#UD); or
 * X86_DECODE_TOO_LONG when the instruction would exceed 15 bytes (#GP(0)). */
int x86_decode(struct x86_instruction *out, const uint8_t *bytes, unsigned available,
               bool default_32bit);

/* A short name for an operation, for traces and "not implemented" messages. */
const char *x86_operation_name(unsigned operation);

#endif
