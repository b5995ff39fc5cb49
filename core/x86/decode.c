/*
 * decode.c - table-driven i386 decoder (SDM vol. 2, chapter 2 and appendix A).
 *
 * An instruction is: prefixes, one or two opcode bytes, an optional ModRM
 * byte (with SIB and displacement), and optional immediates. Each opcode
 * byte has a table entry saying which of those follow and what operation it
 * is; "group" opcodes (80, C0, F6, FF, 0F 01, ...) take the operation from
 * ModRM.reg and are resolved in resolve_group().
 */
#include "decode.h"

#include "../cpu.h"

/* What follows the opcode byte. */
enum immediate_kind {
    IMM_NONE,
    IMM_U8,      /* zero-extended byte (port, vector, shift count) */
    IMM_S8,      /* sign-extended byte (83 /x, 6A, 6B, rel8) */
    IMM_Z,       /* 16 or 32 bits by operand size, sign-extended */
    IMM_U16,     /* RET imm16 */
    IMM_MOFFS,   /* A0-A3: an offset of address size */
    IMM_FAR,     /* 9A, EA: offset (z) then 16-bit selector */
    IMM_ENTER,   /* C8: imm16 frame size, imm8 level */
    IMM_GROUP3,  /* F6/F7: an immediate only for /0 and /1 (TEST) */
};

enum entry_flags {
    F_MODRM = 1 << 0,
    F_BYTE = 1 << 1,       /* operand size 1 */
    F_SUB_REG = 1 << 2,    /* sub = ModRM.reg (ALU and shift groups) */
    F_REG_OPCODE = 1 << 3, /* register number in the low 3 opcode bits */
    F_MEM_ONLY = 1 << 4,   /* ModRM must name memory, else #UD */
    F_GROUP = 1 << 5,      /* operation holds a group id */
    F_PREFIX = 1 << 6,
    F_SIZE16 = 1 << 7,     /* operand is 16 bits whatever the prefixes (ARPL, MOV Sreg) */
    F_SIZE32 = 1 << 8,     /* operand is 32 bits whatever the prefixes (MOV CR/DR) */
    F_MOD_IGNORED = 1 << 9 /* MOV CR/DR: ModRM always names a register (SDM vol. 2, MOV CR) */
};

enum group_id { GROUP_3 = 1, GROUP_4, GROUP_5, GROUP_1A, GROUP_11, GROUP_6, GROUP_7, GROUP_8,
                GROUP_9 };

struct opcode_entry {
    uint8_t operation;
    uint8_t sub;
    uint8_t immediate;   /* enum immediate_kind */
    uint16_t flags;
};

#define E(op, sub_, imm, fl) { (op), (sub_), (imm), (fl) }

/* The eight classic ALU rows 00-3F: Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib / eAX,Iz. */
#define ALU_ROW(alu)                                                          \
    E(OP_ALU_RM_REG, alu, IMM_NONE, F_MODRM | F_BYTE),                        \
    E(OP_ALU_RM_REG, alu, IMM_NONE, F_MODRM),                                 \
    E(OP_ALU_REG_RM, alu, IMM_NONE, F_MODRM | F_BYTE),                        \
    E(OP_ALU_REG_RM, alu, IMM_NONE, F_MODRM),                                 \
    E(OP_ALU_ACC_IMM, alu, IMM_U8, F_BYTE),                                   \
    E(OP_ALU_ACC_IMM, alu, IMM_Z, 0)

#define PREFIX E(OP_INVALID, 0, IMM_NONE, F_PREFIX)
#define X87 E(OP_UNSUPPORTED, 0, IMM_NONE, F_MODRM)
#define EIGHT(x) x, x, x, x, x, x, x, x
#define SIXTEEN(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x

static const struct opcode_entry one_byte_map[256] = {
    /* 00 */ ALU_ROW(ALU_ADD), E(OP_PUSH_SEG, SEG_ES, 0, 0), E(OP_POP_SEG, SEG_ES, 0, 0),
    /* 08 */ ALU_ROW(ALU_OR), E(OP_PUSH_SEG, SEG_CS, 0, 0), E(OP_INVALID, 0, 0, 0) /* 0F: escape */,
    /* 10 */ ALU_ROW(ALU_ADC), E(OP_PUSH_SEG, SEG_SS, 0, 0), E(OP_POP_SEG, SEG_SS, 0, 0),
    /* 18 */ ALU_ROW(ALU_SBB), E(OP_PUSH_SEG, SEG_DS, 0, 0), E(OP_POP_SEG, SEG_DS, 0, 0),
    /* 20 */ ALU_ROW(ALU_AND), PREFIX, E(OP_DAA, 0, 0, 0),
    /* 28 */ ALU_ROW(ALU_SUB), PREFIX, E(OP_DAS, 0, 0, 0),
    /* 30 */ ALU_ROW(ALU_XOR), PREFIX, E(OP_AAA, 0, 0, 0),
    /* 38 */ ALU_ROW(ALU_CMP), PREFIX, E(OP_AAS, 0, 0, 0),
    /* 40 */ EIGHT(E(OP_INC_REG, 0, 0, F_REG_OPCODE)),
    /* 48 */ EIGHT(E(OP_DEC_REG, 0, 0, F_REG_OPCODE)),
    /* 50 */ EIGHT(E(OP_PUSH_REG, 0, 0, F_REG_OPCODE)),
    /* 58 */ EIGHT(E(OP_POP_REG, 0, 0, F_REG_OPCODE)),
    /* 60 */ E(OP_PUSHA, 0, 0, 0), E(OP_POPA, 0, 0, 0), E(OP_BOUND, 0, 0, F_MODRM | F_MEM_ONLY),
             E(OP_ARPL, 0, 0, F_MODRM | F_SIZE16), PREFIX, PREFIX, PREFIX, PREFIX,
    /* 68 */ E(OP_PUSH_IMM, 0, IMM_Z, 0), E(OP_IMUL_REG_RM_IMM, 0, IMM_Z, F_MODRM),
             E(OP_PUSH_IMM, 0, IMM_S8, 0), E(OP_IMUL_REG_RM_IMM, 0, IMM_S8, F_MODRM),
             E(OP_INS, 0, 0, F_BYTE), E(OP_INS, 0, 0, 0), E(OP_OUTS, 0, 0, F_BYTE), E(OP_OUTS, 0, 0, 0),
    /* 70 */ E(OP_JCC, 0, IMM_S8, 0), E(OP_JCC, 1, IMM_S8, 0), E(OP_JCC, 2, IMM_S8, 0),
             E(OP_JCC, 3, IMM_S8, 0), E(OP_JCC, 4, IMM_S8, 0), E(OP_JCC, 5, IMM_S8, 0),
             E(OP_JCC, 6, IMM_S8, 0), E(OP_JCC, 7, IMM_S8, 0), E(OP_JCC, 8, IMM_S8, 0),
             E(OP_JCC, 9, IMM_S8, 0), E(OP_JCC, 10, IMM_S8, 0), E(OP_JCC, 11, IMM_S8, 0),
             E(OP_JCC, 12, IMM_S8, 0), E(OP_JCC, 13, IMM_S8, 0), E(OP_JCC, 14, IMM_S8, 0),
             E(OP_JCC, 15, IMM_S8, 0),
    /* 80 */ E(OP_ALU_RM_IMM, 0, IMM_U8, F_MODRM | F_BYTE | F_SUB_REG),
             E(OP_ALU_RM_IMM, 0, IMM_Z, F_MODRM | F_SUB_REG),
             E(OP_ALU_RM_IMM, 0, IMM_U8, F_MODRM | F_BYTE | F_SUB_REG), /* 82: alias of 80 */
             E(OP_ALU_RM_IMM, 0, IMM_S8, F_MODRM | F_SUB_REG),
             E(OP_TEST_RM_REG, 0, 0, F_MODRM | F_BYTE), E(OP_TEST_RM_REG, 0, 0, F_MODRM),
             E(OP_XCHG_RM_REG, 0, 0, F_MODRM | F_BYTE), E(OP_XCHG_RM_REG, 0, 0, F_MODRM),
    /* 88 */ E(OP_MOV_RM_REG, 0, 0, F_MODRM | F_BYTE), E(OP_MOV_RM_REG, 0, 0, F_MODRM),
             E(OP_MOV_REG_RM, 0, 0, F_MODRM | F_BYTE), E(OP_MOV_REG_RM, 0, 0, F_MODRM),
             E(OP_MOV_RM_SEG, 0, 0, F_MODRM), E(OP_LEA, 0, 0, F_MODRM | F_MEM_ONLY),
             E(OP_MOV_SEG_RM, 0, 0, F_MODRM | F_SIZE16), E(GROUP_1A, 0, 0, F_MODRM | F_GROUP),
    /* 90 */ E(OP_NOP, 0, 0, 0) /* also F3 90 PAUSE */, E(OP_XCHG_ACC_REG, 0, 0, F_REG_OPCODE),
             E(OP_XCHG_ACC_REG, 0, 0, F_REG_OPCODE), E(OP_XCHG_ACC_REG, 0, 0, F_REG_OPCODE),
             E(OP_XCHG_ACC_REG, 0, 0, F_REG_OPCODE), E(OP_XCHG_ACC_REG, 0, 0, F_REG_OPCODE),
             E(OP_XCHG_ACC_REG, 0, 0, F_REG_OPCODE), E(OP_XCHG_ACC_REG, 0, 0, F_REG_OPCODE),
    /* 98 */ E(OP_CBW, 0, 0, 0), E(OP_CWD, 0, 0, 0), E(OP_CALL_FAR_IMM, 0, IMM_FAR, 0),
             E(OP_UNSUPPORTED, 0, 0, 0) /* FWAIT: x87 */, E(OP_PUSHF, 0, 0, 0),
             E(OP_POPF, 0, 0, 0), E(OP_SAHF, 0, 0, 0), E(OP_LAHF, 0, 0, 0),
    /* A0 */ E(OP_MOV_ACC_MOFFS, 0, IMM_MOFFS, F_BYTE), E(OP_MOV_ACC_MOFFS, 0, IMM_MOFFS, 0),
             E(OP_MOV_MOFFS_ACC, 0, IMM_MOFFS, F_BYTE), E(OP_MOV_MOFFS_ACC, 0, IMM_MOFFS, 0),
             E(OP_MOVS, 0, 0, F_BYTE), E(OP_MOVS, 0, 0, 0), E(OP_CMPS, 0, 0, F_BYTE),
             E(OP_CMPS, 0, 0, 0),
    /* A8 */ E(OP_TEST_ACC_IMM, 0, IMM_U8, F_BYTE), E(OP_TEST_ACC_IMM, 0, IMM_Z, 0),
             E(OP_STOS, 0, 0, F_BYTE), E(OP_STOS, 0, 0, 0), E(OP_LODS, 0, 0, F_BYTE),
             E(OP_LODS, 0, 0, 0), E(OP_SCAS, 0, 0, F_BYTE), E(OP_SCAS, 0, 0, 0),
    /* B0 */ EIGHT(E(OP_MOV_REG_IMM, 0, IMM_U8, F_REG_OPCODE | F_BYTE)),
    /* B8 */ EIGHT(E(OP_MOV_REG_IMM, 0, IMM_Z, F_REG_OPCODE)),
    /* C0 */ E(OP_SHIFT, 0, IMM_U8, F_MODRM | F_BYTE | F_SUB_REG),
             E(OP_SHIFT, 0, IMM_U8, F_MODRM | F_SUB_REG), E(OP_RET_NEAR, 0, IMM_U16, 0),
             E(OP_RET_NEAR, 0, 0, 0), E(OP_LOAD_FAR_POINTER, SEG_ES, 0, F_MODRM | F_MEM_ONLY),
             E(OP_LOAD_FAR_POINTER, SEG_DS, 0, F_MODRM | F_MEM_ONLY),
             E(GROUP_11, 0, IMM_U8, F_MODRM | F_BYTE | F_GROUP),
             E(GROUP_11, 0, IMM_Z, F_MODRM | F_GROUP),
    /* C8 */ E(OP_ENTER, 0, IMM_ENTER, 0), E(OP_LEAVE, 0, 0, 0), E(OP_RET_FAR, 0, IMM_U16, 0),
             E(OP_RET_FAR, 0, 0, 0), E(OP_INT3, 0, 0, 0), E(OP_INT, 0, IMM_U8, 0),
             E(OP_INTO, 0, 0, 0), E(OP_IRET, 0, 0, 0),
    /* D0 */ E(OP_SHIFT, 0, IMM_NONE, F_MODRM | F_BYTE | F_SUB_REG),
             E(OP_SHIFT, 0, IMM_NONE, F_MODRM | F_SUB_REG),
             E(OP_SHIFT_CL, 0, 0, F_MODRM | F_BYTE | F_SUB_REG),
             E(OP_SHIFT_CL, 0, 0, F_MODRM | F_SUB_REG), E(OP_AAM, 0, IMM_U8, 0),
             E(OP_AAD, 0, IMM_U8, 0), E(OP_SALC, 0, 0, 0), E(OP_XLAT, 0, 0, F_BYTE),
    /* D8 */ EIGHT(X87),
    /* E0 */ E(OP_LOOPNE, 0, IMM_S8, 0), E(OP_LOOPE, 0, IMM_S8, 0), E(OP_LOOP, 0, IMM_S8, 0),
             E(OP_JCXZ, 0, IMM_S8, 0), E(OP_IN_IMM, 0, IMM_U8, F_BYTE), E(OP_IN_IMM, 0, IMM_U8, 0),
             E(OP_OUT_IMM, 0, IMM_U8, F_BYTE), E(OP_OUT_IMM, 0, IMM_U8, 0),
    /* E8 */ E(OP_CALL_REL, 0, IMM_Z, 0), E(OP_JMP_REL, 0, IMM_Z, 0),
             E(OP_JMP_FAR_IMM, 0, IMM_FAR, 0), E(OP_JMP_REL, 0, IMM_S8, 0),
             E(OP_IN_DX, 0, 0, F_BYTE), E(OP_IN_DX, 0, 0, 0), E(OP_OUT_DX, 0, 0, F_BYTE),
             E(OP_OUT_DX, 0, 0, 0),
    /* F0 */ PREFIX, E(OP_UNSUPPORTED, 0, 0, 0) /* INT1/ICEBP */, PREFIX, PREFIX,
             E(OP_HLT, 0, 0, 0), E(OP_CMC, 0, 0, 0),
             E(GROUP_3, 0, IMM_GROUP3, F_MODRM | F_BYTE | F_GROUP),
             E(GROUP_3, 0, IMM_GROUP3, F_MODRM | F_GROUP),
    /* F8 */ E(OP_CLC, 0, 0, 0), E(OP_STC, 0, 0, 0), E(OP_CLI, 0, 0, 0), E(OP_STI, 0, 0, 0),
             E(OP_CLD, 0, 0, 0), E(OP_STD, 0, 0, 0), E(GROUP_4, 0, 0, F_MODRM | F_BYTE | F_GROUP),
             E(GROUP_5, 0, 0, F_MODRM | F_GROUP),
};

#define INVALID E(OP_INVALID, 0, 0, 0)
#define SSE E(OP_UNSUPPORTED, 0, 0, F_MODRM)
#define CMOV(cc) E(OP_CMOVCC, cc, 0, F_MODRM)
#define JCC32(cc) E(OP_JCC, cc, IMM_Z, 0)
#define SETCC(cc) E(OP_SETCC, cc, 0, F_MODRM | F_BYTE)

static const struct opcode_entry two_byte_map[256] = {
    /* 00 */ E(GROUP_6, 0, 0, F_MODRM | F_GROUP), E(GROUP_7, 0, 0, F_MODRM | F_GROUP),
             E(OP_LAR, 0, 0, F_MODRM), E(OP_LSL, 0, 0, F_MODRM), INVALID,
             INVALID /* SYSCALL: #UD on Intel outside 64-bit mode */, E(OP_CLTS, 0, 0, 0),
             INVALID,
    /* 08 */ E(OP_INVD, 0, 0, 0), E(OP_WBINVD, 0, 0, 0), INVALID, E(OP_UD2, 0, 0, 0), INVALID,
             INVALID, INVALID, INVALID,
    /* 10 */ EIGHT(SSE),
    /* 18 */ EIGHT(E(OP_NOP, 0, 0, F_MODRM)), /* prefetch hints and NOP r/m: no effect */
    /* 20 */ E(OP_MOV_REG_CR, 0, 0, F_MODRM | F_SIZE32 | F_MOD_IGNORED),
             E(OP_MOV_REG_DR, 0, 0, F_MODRM | F_SIZE32 | F_MOD_IGNORED),
             E(OP_MOV_CR_REG, 0, 0, F_MODRM | F_SIZE32 | F_MOD_IGNORED),
             E(OP_MOV_DR_REG, 0, 0, F_MODRM | F_SIZE32 | F_MOD_IGNORED),
             INVALID, INVALID, INVALID, INVALID,
    /* 28 */ EIGHT(SSE),
    /* 30 */ E(OP_WRMSR, 0, 0, 0), E(OP_RDTSC, 0, 0, 0), E(OP_RDMSR, 0, 0, 0),
             E(OP_UNSUPPORTED, 0, 0, 0) /* RDPMC */, E(OP_SYSENTER, 0, 0, 0),
             E(OP_SYSEXIT, 0, 0, 0), INVALID, INVALID,
    /* 38 */ EIGHT(INVALID), /* three-byte maps (SSSE3+): not modelled */
    /* 40 */ CMOV(0), CMOV(1), CMOV(2), CMOV(3), CMOV(4), CMOV(5), CMOV(6), CMOV(7),
    /* 48 */ CMOV(8), CMOV(9), CMOV(10), CMOV(11), CMOV(12), CMOV(13), CMOV(14), CMOV(15),
    /* 50 */ SIXTEEN(SSE), SIXTEEN(SSE), SIXTEEN(SSE),
    /* 80 */ JCC32(0), JCC32(1), JCC32(2), JCC32(3), JCC32(4), JCC32(5), JCC32(6), JCC32(7),
    /* 88 */ JCC32(8), JCC32(9), JCC32(10), JCC32(11), JCC32(12), JCC32(13), JCC32(14), JCC32(15),
    /* 90 */ SETCC(0), SETCC(1), SETCC(2), SETCC(3), SETCC(4), SETCC(5), SETCC(6), SETCC(7),
    /* 98 */ SETCC(8), SETCC(9), SETCC(10), SETCC(11), SETCC(12), SETCC(13), SETCC(14), SETCC(15),
    /* A0 */ E(OP_PUSH_SEG, SEG_FS, 0, 0), E(OP_POP_SEG, SEG_FS, 0, 0), E(OP_CPUID, 0, 0, 0),
             E(OP_BT_RM_REG, BIT_BT, 0, F_MODRM), E(OP_SHLD_IMM, 0, IMM_U8, F_MODRM),
             E(OP_SHLD_CL, 0, 0, F_MODRM), INVALID, INVALID,
    /* A8 */ E(OP_PUSH_SEG, SEG_GS, 0, 0), E(OP_POP_SEG, SEG_GS, 0, 0), INVALID /* RSM */,
             E(OP_BT_RM_REG, BIT_BTS, 0, F_MODRM), E(OP_SHRD_IMM, 0, IMM_U8, F_MODRM),
             E(OP_SHRD_CL, 0, 0, F_MODRM), SSE /* group 15: fxsave, fences */,
             E(OP_IMUL_REG_RM, 0, 0, F_MODRM),
    /* B0 */ E(OP_CMPXCHG, 0, 0, F_MODRM | F_BYTE), E(OP_CMPXCHG, 0, 0, F_MODRM),
             E(OP_LOAD_FAR_POINTER, SEG_SS, 0, F_MODRM | F_MEM_ONLY),
             E(OP_BT_RM_REG, BIT_BTR, 0, F_MODRM),
             E(OP_LOAD_FAR_POINTER, SEG_FS, 0, F_MODRM | F_MEM_ONLY),
             E(OP_LOAD_FAR_POINTER, SEG_GS, 0, F_MODRM | F_MEM_ONLY),
             E(OP_MOVZX, 1, 0, F_MODRM), E(OP_MOVZX, 2, 0, F_MODRM),
    /* B8 */ INVALID /* POPCNT: not advertised */, INVALID /* UD1 */,
             E(GROUP_8, 0, IMM_U8, F_MODRM | F_GROUP), E(OP_BT_RM_REG, BIT_BTC, 0, F_MODRM),
             E(OP_BSF, 0, 0, F_MODRM), E(OP_BSR, 0, 0, F_MODRM), E(OP_MOVSX, 1, 0, F_MODRM),
             E(OP_MOVSX, 2, 0, F_MODRM),
    /* C0 */ E(OP_XADD, 0, 0, F_MODRM | F_BYTE), E(OP_XADD, 0, 0, F_MODRM), SSE, SSE, SSE, SSE,
             SSE, E(GROUP_9, 0, 0, F_MODRM | F_GROUP),
    /* C8 */ EIGHT(E(OP_BSWAP, 0, 0, F_REG_OPCODE)),
    /* D0 */ SIXTEEN(SSE), SIXTEEN(SSE), SIXTEEN(SSE),
};

/* Reads bytes within the 15-byte window; running out is recorded, not fatal,
 * so the decode can finish and report NEED_MORE or TOO_LONG once. */
struct cursor {
    const uint8_t *bytes;
    unsigned available;
    unsigned position;
    bool ran_out;
};

static uint8_t next_byte(struct cursor *cursor)
{
    if (cursor->position >= cursor->available || cursor->position >= X86_MAX_INSTRUCTION_LENGTH) {
        cursor->ran_out = true;
        cursor->position++;
        return 0;
    }
    return cursor->bytes[cursor->position++];
}

static uint32_t next_u16(struct cursor *cursor)
{
    uint32_t low = next_byte(cursor);
    return low | (uint32_t)next_byte(cursor) << 8;
}

static uint32_t next_u32(struct cursor *cursor)
{
    uint32_t low = next_u16(cursor);
    return low | next_u16(cursor) << 16;
}

static uint32_t sign_extend8(uint32_t value) { return (uint32_t)(int32_t)(int8_t)value; }
static uint32_t sign_extend16(uint32_t value) { return (uint32_t)(int32_t)(int16_t)value; }

/* 16-bit addressing forms (SDM vol. 2, table 2-1). */
static const int8_t base16[8] = { REG_EBX, REG_EBX, REG_EBP, REG_EBP, REG_ESI, REG_EDI, REG_EBP, REG_EBX };
static const int8_t index16[8] = { REG_ESI, REG_EDI, REG_ESI, REG_EDI, -1, -1, -1, -1 };

static void decode_modrm16(struct x86_instruction *insn, struct cursor *cursor, unsigned mod,
                           unsigned rm)
{
    insn->base = base16[rm];
    insn->index = index16[rm];
    if (mod == 0 && rm == 6) {
        insn->base = X86_NO_REGISTER;
        insn->displacement = sign_extend16(next_u16(cursor));
    } else if (mod == 1) {
        insn->displacement = sign_extend8(next_byte(cursor));
    } else if (mod == 2) {
        insn->displacement = sign_extend16(next_u16(cursor));
    }
}

/* 32-bit addressing forms (SDM vol. 2, tables 2-2 and 2-3). */
static void decode_modrm32(struct x86_instruction *insn, struct cursor *cursor, unsigned mod,
                           unsigned rm)
{
    insn->base = (int8_t)rm;
    if (rm == 4) {
        uint8_t sib = next_byte(cursor);
        unsigned index = (sib >> 3) & 7, base = sib & 7;
        insn->scale = sib >> 6;
        insn->index = index == 4 ? X86_NO_REGISTER : (int8_t)index;
        insn->base = (int8_t)base;
        if (base == 5 && mod == 0) {
            insn->base = X86_NO_REGISTER;
            insn->displacement = next_u32(cursor);
        }
    } else if (rm == 5 && mod == 0) {
        insn->base = X86_NO_REGISTER;
        insn->displacement = next_u32(cursor);
    }
    if (mod == 1)
        insn->displacement = sign_extend8(next_byte(cursor));
    else if (mod == 2)
        insn->displacement = next_u32(cursor);
}

static void decode_modrm(struct x86_instruction *insn, struct cursor *cursor, bool mod_ignored)
{
    uint8_t modrm = next_byte(cursor);
    unsigned mod = modrm >> 6, rm = modrm & 7;
    insn->has_modrm = 1;
    insn->reg = (modrm >> 3) & 7;
    insn->rm = (uint8_t)rm;
    if (mod == 3 || mod_ignored)
        return;
    insn->has_memory = 1;
    if (insn->address_size == 2)
        decode_modrm16(insn, cursor, mod, rm);
    else
        decode_modrm32(insn, cursor, mod, rm);
    /* SS is the default segment for EBP/ESP-based addressing (SDM vol. 1, 3.7.5). */
    if (!insn->segment_override && (insn->base == REG_EBP || insn->base == REG_ESP))
        insn->segment = SEG_SS;
}

static uint8_t resolve_group(unsigned group, struct x86_instruction *insn)
{
    static const uint8_t group3[8] = { OP_TEST_RM_IMM, OP_TEST_RM_IMM, OP_NOT, OP_NEG, OP_MUL,
                                       OP_IMUL_ACC, OP_DIV, OP_IDIV };
    static const uint8_t group5[8] = { OP_INC_RM, OP_DEC_RM, OP_CALL_RM, OP_CALL_FAR_MEM,
                                       OP_JMP_RM, OP_JMP_FAR_MEM, OP_PUSH_RM, OP_INVALID };
    static const uint8_t group6[8] = { OP_SLDT, OP_STR, OP_LLDT, OP_LTR, OP_VERR, OP_VERW,
                                       OP_INVALID, OP_INVALID };
    static const uint8_t group7[8] = { OP_SGDT, OP_SIDT, OP_LGDT, OP_LIDT, OP_SMSW, OP_INVALID,
                                       OP_LMSW, OP_INVLPG };
    unsigned reg = insn->reg;
    bool memory = insn->has_memory;
    switch (group) {
    case GROUP_3: return group3[reg];
    case GROUP_4: return reg == 0 ? OP_INC_RM : reg == 1 ? OP_DEC_RM : OP_INVALID;
    case GROUP_5:
        if ((reg == 3 || reg == 5) && !memory)
            return OP_INVALID;   /* far call/jmp need a memory pointer */
        return group5[reg];
    case GROUP_1A: return reg == 0 ? OP_POP_RM : OP_INVALID;
    case GROUP_11: return reg == 0 ? OP_MOV_RM_IMM : OP_INVALID;
    case GROUP_6: return group6[reg];
    case GROUP_7:
        /* With mod = 3 only SMSW/LMSW keep their meaning; the rest of the
         * register forms are VMX/MONITOR/SWAPGS/RDTSCP, not modelled. */
        if (!memory)
            return reg == 4 || reg == 6 ? group7[reg] : OP_UNSUPPORTED;
        return group7[reg];
    case GROUP_8:
        if (reg < 4)
            return OP_INVALID;
        insn->sub = (uint8_t)(reg - 4);
        return OP_BT_RM_IMM;
    case GROUP_9: return reg == 1 && memory ? OP_CMPXCHG8B : OP_INVALID;
    }
    return OP_INVALID;
}

/* SDM vol. 2, LOCK: only these read-modify-write forms with a memory
 * destination accept the prefix; anything else raises #UD. */
static bool lock_allowed(const struct x86_instruction *insn)
{
    if (!insn->has_memory)
        return false;
    switch (insn->operation) {
    case OP_ALU_RM_REG:
    case OP_ALU_RM_IMM:
        return insn->sub != ALU_CMP;
    case OP_BT_RM_REG:
    case OP_BT_RM_IMM:
        return insn->sub != BIT_BT;
    case OP_INC_RM: case OP_DEC_RM: case OP_NOT: case OP_NEG: case OP_XCHG_RM_REG:
    case OP_XADD: case OP_CMPXCHG: case OP_CMPXCHG8B:
        return true;
    default:
        return false;
    }
}

static void decode_immediates(struct x86_instruction *insn, struct cursor *cursor, unsigned kind)
{
    switch (kind) {
    case IMM_NONE:
        break;
    case IMM_GROUP3:
        if (insn->reg > 1)
            break;
        /* TEST r/m, imm: fall through with the operand-size immediate. */
        if (insn->operand_size == 1) {
            insn->immediate = next_byte(cursor);
            break;
        }
        /* fall through */
    case IMM_Z:
        insn->immediate = insn->operand_size == 2 ? sign_extend16(next_u16(cursor))
                                                  : next_u32(cursor);
        break;
    case IMM_U8:
        insn->immediate = next_byte(cursor);
        break;
    case IMM_S8:
        insn->immediate = sign_extend8(next_byte(cursor));
        break;
    case IMM_U16:
        insn->immediate = next_u16(cursor);
        break;
    case IMM_MOFFS:
        insn->has_memory = 1;
        insn->displacement = insn->address_size == 2 ? next_u16(cursor) : next_u32(cursor);
        break;
    case IMM_FAR:
        insn->immediate = insn->operand_size == 2 ? next_u16(cursor) : next_u32(cursor);
        insn->immediate2 = next_u16(cursor);
        break;
    case IMM_ENTER:
        insn->immediate = next_u16(cursor);
        insn->immediate2 = next_byte(cursor);
        break;
    }
}

/* Decode legacy prefixes (SDM vol. 2, 2.1.1). Returns the first opcode byte. */
static uint8_t decode_prefixes(struct x86_instruction *insn, struct cursor *cursor,
                               bool *operand_override, bool *address_override)
{
    for (;;) {
        uint8_t byte = next_byte(cursor);
        if (cursor->ran_out)
            return byte;
        switch (byte) {
        case 0x26: case 0x2e: case 0x36: case 0x3e:
            insn->segment = (uint8_t)((byte >> 3) & 3);   /* ES CS SS DS */
            insn->segment_override = 1;
            break;
        case 0x64: case 0x65:
            insn->segment = byte == 0x64 ? SEG_FS : SEG_GS;
            insn->segment_override = 1;
            break;
        case 0x66: *operand_override = true; break;
        case 0x67: *address_override = true; break;
        case 0xf0: insn->lock = 1; break;
        case 0xf2: insn->repeat = REPEAT_REPNE; break;
        case 0xf3: insn->repeat = REPEAT_REPE; break;
        default:
            return byte;
        }
    }
}

static unsigned operand_size_for(uint16_t flags, bool big)
{
    if (flags & F_BYTE)
        return 1;
    if (flags & F_SIZE16)
        return 2;
    if (flags & F_SIZE32)
        return 4;
    return big ? 4 : 2;
}

int x86_decode(struct x86_instruction *out, const uint8_t *bytes, unsigned available,
               bool default_32bit)
{
    struct x86_instruction insn = { 0 };
    struct cursor cursor = { bytes, available, 0, false };
    bool operand_override = false, address_override = false;

    insn.segment = SEG_DS;
    insn.base = insn.index = X86_NO_REGISTER;
    insn.default_32bit = default_32bit;
    uint8_t opcode = decode_prefixes(&insn, &cursor, &operand_override, &address_override);
    insn.address_size = (default_32bit != address_override) ? 4 : 2;

    const struct opcode_entry *entry = &one_byte_map[opcode];
    bool two_byte = opcode == 0x0f;
    if (two_byte) {
        opcode = next_byte(&cursor);
        entry = &two_byte_map[opcode];
    }
    insn.operation = entry->operation;
    insn.sub = entry->sub;
    insn.source_size = entry->sub;   /* MOVZX/MOVSX keep their width in sub */
    insn.operand_size = (uint8_t)operand_size_for(entry->flags, default_32bit != operand_override);
    if (entry->flags & F_REG_OPCODE)
        insn.reg = insn.rm = opcode & 7;
    if (entry->flags & F_MODRM)
        decode_modrm(&insn, &cursor, entry->flags & F_MOD_IGNORED);
    if (entry->flags & F_SUB_REG)
        insn.sub = insn.reg;
    if (entry->flags & F_GROUP)
        insn.operation = resolve_group(entry->operation, &insn);
    decode_immediates(&insn, &cursor, entry->immediate);
    /* D0-D3 /x by 1 carry no immediate byte; make the count explicit. */
    if (insn.operation == OP_SHIFT && entry->immediate == IMM_NONE)
        insn.immediate = 1;

    if (cursor.ran_out)
        return available >= X86_MAX_INSTRUCTION_LENGTH || cursor.position > X86_MAX_INSTRUCTION_LENGTH
                   ? X86_DECODE_TOO_LONG : X86_DECODE_NEED_MORE;
    if (insn.operation == OP_INVALID)
        return X86_DECODE_INVALID;
    if ((entry->flags & F_MEM_ONLY) && !insn.has_memory)
        return X86_DECODE_INVALID;
    if (insn.lock && !lock_allowed(&insn))
        return X86_DECODE_INVALID;
    /* CR1, CR5-CR7 do not exist (SDM vol. 2, MOV CR: #UD). */
    if ((insn.operation == OP_MOV_REG_CR || insn.operation == OP_MOV_CR_REG) &&
        (insn.reg == 1 || insn.reg > 4))
        return X86_DECODE_INVALID;
    /* MOV to CS is #UD; MOV Sreg with reg 6, 7 is #UD. */
    if ((insn.operation == OP_MOV_SEG_RM && (insn.reg == SEG_CS || insn.reg > SEG_GS)) ||
        (insn.operation == OP_MOV_RM_SEG && insn.reg > SEG_GS))
        return X86_DECODE_INVALID;
    insn.length = (uint8_t)cursor.position;
    *out = insn;
    return (int)cursor.position;
}

const char *x86_operation_name(unsigned operation)
{
    static const char *const names[OP_COUNT] = {
        [OP_INVALID] = "invalid", [OP_UNSUPPORTED] = "unsupported (x87/MMX/SSE)",
        [OP_ALU_RM_REG] = "alu r/m,reg", [OP_ALU_REG_RM] = "alu reg,r/m",
        [OP_ALU_ACC_IMM] = "alu acc,imm", [OP_ALU_RM_IMM] = "alu r/m,imm",
        [OP_INC_REG] = "inc", [OP_DEC_REG] = "dec", [OP_PUSH_REG] = "push", [OP_POP_REG] = "pop",
        [OP_PUSH_SEG] = "push sreg", [OP_POP_SEG] = "pop sreg", [OP_DAA] = "daa",
        [OP_DAS] = "das", [OP_AAA] = "aaa", [OP_AAS] = "aas", [OP_PUSHA] = "pusha",
        [OP_POPA] = "popa", [OP_BOUND] = "bound", [OP_ARPL] = "arpl", [OP_PUSH_IMM] = "push imm",
        [OP_IMUL_REG_RM_IMM] = "imul r,r/m,imm", [OP_INS] = "ins", [OP_OUTS] = "outs",
        [OP_JCC] = "jcc", [OP_TEST_RM_REG] = "test", [OP_XCHG_RM_REG] = "xchg",
        [OP_MOV_RM_REG] = "mov", [OP_MOV_REG_RM] = "mov", [OP_MOV_RM_SEG] = "mov r/m,sreg",
        [OP_MOV_SEG_RM] = "mov sreg,r/m", [OP_LEA] = "lea", [OP_POP_RM] = "pop r/m",
        [OP_NOP] = "nop", [OP_XCHG_ACC_REG] = "xchg", [OP_CBW] = "cbw", [OP_CWD] = "cwd",
        [OP_CALL_FAR_IMM] = "call far", [OP_JMP_FAR_IMM] = "jmp far", [OP_PUSHF] = "pushf",
        [OP_POPF] = "popf", [OP_SAHF] = "sahf", [OP_LAHF] = "lahf", [OP_MOV_ACC_MOFFS] = "mov",
        [OP_MOV_MOFFS_ACC] = "mov", [OP_MOVS] = "movs", [OP_CMPS] = "cmps", [OP_STOS] = "stos",
        [OP_LODS] = "lods", [OP_SCAS] = "scas", [OP_TEST_ACC_IMM] = "test",
        [OP_MOV_REG_IMM] = "mov", [OP_SHIFT] = "shift", [OP_SHIFT_CL] = "shift cl",
        [OP_RET_NEAR] = "ret", [OP_RET_FAR] = "retf", [OP_LOAD_FAR_POINTER] = "lds/les/lss/lfs/lgs",
        [OP_MOV_RM_IMM] = "mov", [OP_ENTER] = "enter", [OP_LEAVE] = "leave", [OP_INT3] = "int3",
        [OP_INT] = "int", [OP_INTO] = "into", [OP_IRET] = "iret", [OP_AAM] = "aam",
        [OP_AAD] = "aad", [OP_SALC] = "salc", [OP_XLAT] = "xlat", [OP_LOOPNE] = "loopne",
        [OP_LOOPE] = "loope", [OP_LOOP] = "loop", [OP_JCXZ] = "jcxz", [OP_IN_IMM] = "in",
        [OP_OUT_IMM] = "out", [OP_IN_DX] = "in", [OP_OUT_DX] = "out", [OP_CALL_REL] = "call",
        [OP_JMP_REL] = "jmp", [OP_HLT] = "hlt", [OP_CMC] = "cmc", [OP_TEST_RM_IMM] = "test",
        [OP_NOT] = "not", [OP_NEG] = "neg", [OP_MUL] = "mul", [OP_IMUL_ACC] = "imul",
        [OP_DIV] = "div", [OP_IDIV] = "idiv", [OP_CLC] = "clc", [OP_STC] = "stc",
        [OP_CLI] = "cli", [OP_STI] = "sti", [OP_CLD] = "cld", [OP_STD] = "std",
        [OP_INC_RM] = "inc", [OP_DEC_RM] = "dec", [OP_CALL_RM] = "call",
        [OP_CALL_FAR_MEM] = "call far", [OP_JMP_RM] = "jmp", [OP_JMP_FAR_MEM] = "jmp far",
        [OP_PUSH_RM] = "push", [OP_SLDT] = "sldt", [OP_STR] = "str", [OP_LLDT] = "lldt",
        [OP_LTR] = "ltr", [OP_VERR] = "verr", [OP_VERW] = "verw", [OP_SGDT] = "sgdt",
        [OP_SIDT] = "sidt", [OP_LGDT] = "lgdt", [OP_LIDT] = "lidt", [OP_SMSW] = "smsw",
        [OP_LMSW] = "lmsw", [OP_INVLPG] = "invlpg", [OP_LAR] = "lar", [OP_LSL] = "lsl",
        [OP_CLTS] = "clts", [OP_INVD] = "invd", [OP_WBINVD] = "wbinvd", [OP_UD2] = "ud2",
        [OP_MOV_REG_CR] = "mov r,cr", [OP_MOV_CR_REG] = "mov cr,r", [OP_MOV_REG_DR] = "mov r,dr",
        [OP_MOV_DR_REG] = "mov dr,r", [OP_WRMSR] = "wrmsr", [OP_RDTSC] = "rdtsc",
        [OP_RDMSR] = "rdmsr", [OP_SYSENTER] = "sysenter", [OP_SYSEXIT] = "sysexit",
        [OP_CMOVCC] = "cmovcc", [OP_SETCC] = "setcc", [OP_CPUID] = "cpuid",
        [OP_BT_RM_REG] = "bt*", [OP_BT_RM_IMM] = "bt* imm", [OP_SHLD_IMM] = "shld",
        [OP_SHLD_CL] = "shld cl", [OP_SHRD_IMM] = "shrd", [OP_SHRD_CL] = "shrd cl",
        [OP_CMPXCHG] = "cmpxchg", [OP_XADD] = "xadd", [OP_CMPXCHG8B] = "cmpxchg8b",
        [OP_MOVZX] = "movzx", [OP_MOVSX] = "movsx", [OP_BSF] = "bsf", [OP_BSR] = "bsr",
        [OP_BSWAP] = "bswap", [OP_IMUL_REG_RM] = "imul r,r/m",
    };
    if (operation >= OP_COUNT || !names[operation])
        return "?";
    return names[operation];
}
