/*
 * test_decode.c - core/x86/decode.c against Capstone.
 *
 * Encodings are generated systematically: every opcode of the one- and
 * two-byte maps that we decode, under a set of prefix combinations, with
 * every ModRM byte (all mod/reg/rm) and, for SIB forms, a spread of SIB
 * bytes, followed by distinct filler bytes that become displacement and
 * immediates. For each encoding our decoder and Capstone (CS_MODE_32, detail
 * on) must agree on the length, the memory operand (base, index, scale,
 * displacement), the immediate and, for the plain r/m forms, the operand
 * size. Invalid encodings, the 15-byte limit and truncated input are
 * checked separately.
 */
#include <capstone/capstone.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/cpu.h"
#include "core/x86/decode.h"

static csh capstone;

static void setup(void)
{
    cr_assert_eq(cs_open(CS_ARCH_X86, CS_MODE_32, &capstone), CS_ERR_OK);
    cs_option(capstone, CS_OPT_DETAIL, CS_OPT_ON);
}

static void teardown(void)
{
    cs_close(&capstone);
}

static x86_reg capstone_register(int number, unsigned address_size)
{
    static const x86_reg r32[8] = { X86_REG_EAX, X86_REG_ECX, X86_REG_EDX, X86_REG_EBX,
                                    X86_REG_ESP, X86_REG_EBP, X86_REG_ESI, X86_REG_EDI };
    static const x86_reg r16[8] = { X86_REG_AX, X86_REG_CX, X86_REG_DX, X86_REG_BX,
                                    X86_REG_SP, X86_REG_BP, X86_REG_SI, X86_REG_DI };
    if (number < 0)
        return X86_REG_INVALID;
    return address_size == 2 ? r16[number] : r32[number];
}

/* Operations whose first Capstone operand is the r/m operand at operand size. */
static bool first_operand_has_operand_size(unsigned operation)
{
    switch (operation) {
    case OP_ALU_RM_REG: case OP_ALU_RM_IMM: case OP_TEST_RM_REG: case OP_XCHG_RM_REG:
    case OP_MOV_RM_REG: case OP_MOV_REG_RM: case OP_ALU_REG_RM: case OP_MOV_RM_IMM:
    case OP_INC_RM: case OP_DEC_RM: case OP_NOT: case OP_NEG: case OP_SHIFT: case OP_SHIFT_CL:
    case OP_TEST_RM_IMM: case OP_CMOVCC: case OP_BSF: case OP_BSR: case OP_XADD:
    case OP_CMPXCHG: case OP_SHLD_IMM: case OP_SHRD_IMM: case OP_SHLD_CL: case OP_SHRD_CL:
    case OP_IMUL_REG_RM: case OP_IMUL_REG_RM_IMM: case OP_MOVZX: case OP_MOVSX:
    case OP_BT_RM_REG: case OP_BT_RM_IMM: case OP_SETCC:
        return true;
    default:
        return false;
    }
}

static bool is_relative_branch(unsigned operation)
{
    switch (operation) {
    case OP_JCC: case OP_JMP_REL: case OP_CALL_REL: case OP_LOOP: case OP_LOOPE:
    case OP_LOOPNE: case OP_JCXZ:
        return true;
    default:
        return false;
    }
}

struct tally {
    unsigned compared;
    unsigned failures;
};

static void report(struct tally *tally, const uint8_t *bytes, unsigned length, const char *what,
                   long long ours, long long theirs)
{
    if (tally->failures++ < 20) {
        char hex[64] = "";
        for (unsigned i = 0; i < length && i < 15; i++)
            snprintf(hex + strlen(hex), sizeof hex - strlen(hex), "%02x ", bytes[i]);
        cr_log_error("%s: %s ours %llx capstone %llx", hex, what, ours, theirs);
    }
}

/* Compare one encoding; bytes has 16 valid bytes. */
static void compare(struct tally *tally, const uint8_t *bytes)
{
    struct x86_instruction insn;
    int length = x86_decode(&insn, bytes, 16, true);
    if (length <= 0 || insn.operation == OP_UNSUPPORTED)
        return;
    cs_insn *theirs;
    size_t count = cs_disasm(capstone, bytes, 16, 0x1000, 1, &theirs);
    tally->compared++;
    /* 0F 18-1F with a register operand: the SDM's "reserved NOP" hint
     * space, which hardware executes as NOP and Capstone 4 rejects. */
    bool hint_nop = insn.operation == OP_NOP && insn.has_modrm && !insn.has_memory;
    if (count != 1 && hint_nop)
        return;
    if (count != 1) {
        report(tally, bytes, (unsigned)length, "capstone cannot decode what we accept", length, 0);
        return;
    }
    const cs_x86 *x86 = &theirs->detail->x86;
    if (theirs->size != (unsigned)length) {
        report(tally, bytes, (unsigned)length, "length", length, theirs->size);
        goto out;
    }
    bool saw_memory = false, immediate_matched = false, saw_immediate = false;
    for (unsigned i = 0; i < x86->op_count; i++) {
        const cs_x86_op *op = &x86->operands[i];
        if (op->type == X86_OP_MEM && insn.has_memory && !saw_memory) {
            saw_memory = true;
            if (op->mem.base != capstone_register(insn.base, insn.address_size))
                report(tally, bytes, (unsigned)length, "base", insn.base, op->mem.base);
            if (op->mem.index != capstone_register(insn.index, insn.address_size))
                report(tally, bytes, (unsigned)length, "index", insn.index, op->mem.index);
            if (insn.index >= 0 && op->mem.scale != 1 << insn.scale)
                report(tally, bytes, (unsigned)length, "scale", 1 << insn.scale, op->mem.scale);
            uint32_t mask = insn.address_size == 2 ? 0xffff : 0xffffffffu;
            if ((insn.displacement & mask) != ((uint32_t)op->mem.disp & mask))
                report(tally, bytes, (unsigned)length, "displacement", insn.displacement,
                       op->mem.disp);
            if (first_operand_has_operand_size(insn.operation) && i == 0 &&
                op->size != insn.operand_size && insn.operation != OP_MOVZX &&
                insn.operation != OP_MOVSX && insn.operation != OP_SETCC)
                report(tally, bytes, (unsigned)length, "operand size", insn.operand_size, op->size);
        }
        if (op->type == X86_OP_REG && i == 0 && first_operand_has_operand_size(insn.operation) &&
            op->size != insn.operand_size && insn.operation != OP_SETCC)
            report(tally, bytes, (unsigned)length, "register operand size", insn.operand_size, op->size);
        if (op->type == X86_OP_IMM) {
            saw_immediate = true;
            uint32_t value = (uint32_t)op->imm;
            uint32_t masks[3] = { 0xff, 0xffff, 0xffffffffu };
            for (unsigned m = 0; m < 3; m++)
                if ((value & masks[m]) == (insn.immediate & masks[m]) ||
                    (value & masks[m]) == (insn.immediate2 & masks[m]))
                    immediate_matched = true;
            /* Capstone 4 mis-shows the target when 67 prefixes a branch. */
            if (is_relative_branch(insn.operation) && insn.address_size == 2)
                immediate_matched = true;
            else if (is_relative_branch(insn.operation)) {
                uint32_t target = 0x1000 + (uint32_t)length + insn.immediate;
                if (insn.operand_size == 2)
                    target &= 0xffff;
                immediate_matched = value == target;
            }
        }
    }
    if (insn.has_memory && !saw_memory && insn.operation != OP_NOP && insn.operation != OP_LEA &&
        insn.operation != OP_INVLPG)
        report(tally, bytes, (unsigned)length, "capstone shows no memory operand", 1, 0);
    if (saw_immediate && !immediate_matched)
        report(tally, bytes, (unsigned)length, "immediate", insn.immediate, 0);
out:
    cs_free(theirs, count);
}

/* ModRM/SIB tails: every ModRM byte; SIB forms get a spread of SIB bytes. */
static const uint8_t sib_samples[] = { 0x00, 0x24, 0x25, 0x44, 0x4d, 0x88, 0x9b, 0xc5, 0xe6, 0xff, 0x65, 0x20 };

static unsigned build(uint8_t *out, const uint8_t *prefix, unsigned prefix_length,
                      const uint8_t *opcode, unsigned opcode_length, int modrm, int sib)
{
    unsigned n = 0;
    if (prefix_length)
        memcpy(out, prefix, prefix_length);
    n += prefix_length;
    memcpy(out + n, opcode, opcode_length);
    n += opcode_length;
    if (modrm >= 0)
        out[n++] = (uint8_t)modrm;
    if (sib >= 0)
        out[n++] = (uint8_t)sib;
    /* Distinct filler: displacement and immediates become recognisable. */
    for (unsigned i = n, v = 0x81; i < 16; i++, v += 0x13)
        out[i] = (uint8_t)v;
    return n;
}

static bool has_modrm(const uint8_t *opcode, unsigned opcode_length)
{
    uint8_t probe[16];
    struct x86_instruction insn;
    build(probe, NULL, 0, opcode, opcode_length, 0xc0, -1);
    if (x86_decode(&insn, probe, 16, true) > 0)
        return insn.has_modrm;
    build(probe, NULL, 0, opcode, opcode_length, 0x00, -1);
    return x86_decode(&insn, probe, 16, true) > 0 && insn.has_modrm;
}

static void sweep_opcode(struct tally *tally, const uint8_t *prefix, unsigned prefix_length,
                         const uint8_t *opcode, unsigned opcode_length)
{
    uint8_t bytes[16];
    if (!has_modrm(opcode, opcode_length)) {
        build(bytes, prefix, prefix_length, opcode, opcode_length, -1, -1);
        compare(tally, bytes);
        return;
    }
    for (int modrm = 0; modrm < 256; modrm++) {
        bool sib = (modrm >> 6) != 3 && (modrm & 7) == 4;
        if (!sib) {
            build(bytes, prefix, prefix_length, opcode, opcode_length, modrm, -1);
            compare(tally, bytes);
            continue;
        }
        for (unsigned s = 0; s < sizeof sib_samples; s++) {
            build(bytes, prefix, prefix_length, opcode, opcode_length, modrm, sib_samples[s]);
            compare(tally, bytes);
        }
    }
}

static bool is_prefix_or_escape(unsigned byte)
{
    switch (byte) {
    case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65: case 0x66: case 0x67:
    case 0xf0: case 0xf2: case 0xf3: case 0x0f:
        return true;
    default:
        return false;
    }
}

static const struct { uint8_t bytes[2]; unsigned length; } prefix_sets[] = {
    { { 0 }, 0 }, { { 0x66 }, 1 }, { { 0x67 }, 1 }, { { 0x66, 0x67 }, 2 }, { { 0x2e }, 1 },
    { { 0x64 }, 1 }, { { 0x36, 0x66 }, 2 },
};

Test(decode, one_byte_map_matches_capstone, .init = setup, .fini = teardown)
{
    struct tally tally = { 0 };
    for (unsigned p = 0; p < sizeof prefix_sets / sizeof prefix_sets[0]; p++)
        for (unsigned byte = 0; byte < 256; byte++) {
            if (is_prefix_or_escape(byte))
                continue;
            uint8_t opcode[1] = { (uint8_t)byte };
            sweep_opcode(&tally, prefix_sets[p].bytes, prefix_sets[p].length, opcode, 1);
        }
    cr_log_info("one-byte map: %u encodings compared", tally.compared);
    cr_assert_gt(tally.compared, 100000);
    cr_assert_eq(tally.failures, 0, "%u mismatches (first ones logged above)", tally.failures);
}

Test(decode, two_byte_map_matches_capstone, .init = setup, .fini = teardown)
{
    struct tally tally = { 0 };
    for (unsigned p = 0; p < sizeof prefix_sets / sizeof prefix_sets[0]; p++)
        for (unsigned byte = 0; byte < 256; byte++) {
            uint8_t opcode[2] = { 0x0f, (uint8_t)byte };
            sweep_opcode(&tally, prefix_sets[p].bytes, prefix_sets[p].length, opcode, 2);
        }
    cr_log_info("two-byte map: %u encodings compared", tally.compared);
    cr_assert_gt(tally.compared, 50000);
    cr_assert_eq(tally.failures, 0, "%u mismatches (first ones logged above)", tally.failures);
}

/* Every byte of the one-byte map (except prefixes) is handled: either decoded
 * or rejected, never left as an accidental hole in the table. */
Test(decode, every_opcode_is_classified)
{
    static const uint8_t undefined_one_byte[] = { 0xd6 /* SALC is decoded */ };
    (void)undefined_one_byte;
    for (unsigned byte = 0; byte < 256; byte++) {
        if (is_prefix_or_escape(byte))
            continue;
        uint8_t bytes[16] = { (uint8_t)byte, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        struct x86_instruction insn;
        int length = x86_decode(&insn, bytes, 16, true);
        /* Only group members (FE, FF, 8F, C6, C7 with /0 are all valid) and
         * the VEX-shaped LES/LDS forms can be invalid with ModRM 00. */
        cr_assert(length > 0, "opcode %02x with ModRM 00 should decode", byte);
    }
}

static int decode_bytes(struct x86_instruction *insn, const uint8_t *bytes, unsigned length)
{
    return x86_decode(insn, bytes, length, true);
}

Test(decode, invalid_encodings_are_rejected)
{
    static const struct { uint8_t bytes[4]; unsigned length; const char *why; } invalid[] = {
        { { 0xfe, 0xd0 }, 2, "FE /2" },
        { { 0xff, 0xf8 }, 2, "FF /7" },
        { { 0xff, 0xd8 }, 2, "FF /3 with a register (far call needs memory)" },
        { { 0xff, 0xe8 }, 2, "FF /5 with a register" },
        { { 0x8f, 0xc8 }, 2, "8F /1" },
        { { 0xc6, 0xc8, 0x01 }, 3, "C6 /1" },
        { { 0x8d, 0xc0 }, 2, "LEA with a register" },
        { { 0x62, 0xc0 }, 2, "BOUND with a register" },
        { { 0xc4, 0xc0 }, 2, "LES with a register" },
        { { 0x0f, 0xb2, 0xc0 }, 3, "LSS with a register" },
        { { 0x8e, 0xc8 }, 2, "MOV CS, r/m" },
        { { 0x8e, 0xf0 }, 2, "MOV Sreg 6" },
        { { 0x0f, 0x20, 0xc8 }, 3, "MOV r, CR1" },
        { { 0x0f, 0x22, 0xe8 }, 3, "MOV CR5, r" },
        { { 0xf0, 0x90 }, 2, "LOCK NOP" },
        { { 0xf0, 0x01, 0xc0 }, 3, "LOCK ADD with a register destination" },
        { { 0xf0, 0x39, 0x00 }, 3, "LOCK CMP" },
        { { 0x0f, 0xc7, 0xc8 }, 3, "CMPXCHG8B with a register" },
        { { 0x0f, 0xba, 0xe0 - 0x20, 1 }, 4, "0F BA /0" },
        { { 0x0f, 0x00, 0xf0 }, 3, "0F 00 /6" },
    };
    for (unsigned i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        struct x86_instruction insn;
        cr_assert_eq(decode_bytes(&insn, invalid[i].bytes, invalid[i].length), X86_DECODE_INVALID,
                     "%s", invalid[i].why);
    }
    /* UD0 and the SSE/MMX space decode as unsupported: the executor raises #UD. */
    static const uint8_t ud0[] = { 0x0f, 0xff, 0xc0 }, sse[] = { 0x0f, 0x58, 0xc1 };
    struct x86_instruction unsupported;
    cr_assert_eq(decode_bytes(&unsupported, ud0, 3), 3);
    cr_assert_eq(unsupported.operation, OP_UNSUPPORTED);
    cr_assert_eq(decode_bytes(&unsupported, sse, 3), 3);
    cr_assert_eq(unsupported.operation, OP_UNSUPPORTED);
    /* Valid neighbours of the above. */
    static const struct { uint8_t bytes[4]; unsigned length; } valid[] = {
        { { 0xf0, 0x01, 0x00 }, 3 }, { { 0x0f, 0xc7, 0x08 }, 3 }, { { 0x0f, 0x0b }, 2 },
        { { 0x0f, 0x20, 0xc0 }, 3 }, { { 0x8e, 0xd0 }, 2 },
    };
    for (unsigned i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        struct x86_instruction insn;
        cr_assert_eq(decode_bytes(&insn, valid[i].bytes, valid[i].length), (int)valid[i].length);
    }
}

Test(decode, fifteen_byte_limit)
{
    uint8_t bytes[20];
    struct x86_instruction insn;
    memset(bytes, 0x66, sizeof bytes);
    bytes[14] = 0x90;                      /* 14 prefixes + NOP = 15 bytes: fine */
    cr_assert_eq(x86_decode(&insn, bytes, 20, true), 15);
    memset(bytes, 0x66, sizeof bytes);
    bytes[15] = 0x90;                      /* 16 bytes: #GP */
    cr_assert_eq(x86_decode(&insn, bytes, 20, true), X86_DECODE_TOO_LONG);
    /* A long immediate form pushed past 15 by prefixes. */
    static const uint8_t tail[] = { 0x81, 0x84, 0x88, 1, 2, 3, 4, 5, 6, 7, 8 };   /* 11 bytes */
    memset(bytes, 0x3e, sizeof bytes);
    memcpy(bytes + 5, tail, sizeof tail);   /* 16 bytes */
    cr_assert_eq(x86_decode(&insn, bytes, 20, true), X86_DECODE_TOO_LONG);
    memcpy(bytes + 4, tail, sizeof tail);   /* 15 bytes */
    cr_assert_eq(x86_decode(&insn, bytes, 20, true), 15);
}

Test(decode, truncated_input_asks_for_more)
{
    static const uint8_t full[] = { 0x81, 0x84, 0x88, 1, 2, 3, 4, 5, 6, 7, 8 };
    struct x86_instruction insn;
    for (unsigned available = 0; available < sizeof full; available++)
        cr_assert_eq(x86_decode(&insn, full, available, true), X86_DECODE_NEED_MORE,
                     "with %u bytes", available);
    cr_assert_eq(x86_decode(&insn, full, sizeof full, true), (int)sizeof full);
    cr_assert_eq(insn.operation, OP_ALU_RM_IMM);
    cr_assert_eq(insn.base, REG_EAX);
    cr_assert_eq(insn.index, REG_ECX);
    cr_assert_eq(insn.scale, 2);
    cr_assert_eq(insn.displacement, 0x04030201);
    cr_assert_eq(insn.immediate, 0x08070605);
}

Test(decode, default_segment_and_sizes)
{
    struct x86_instruction insn;
    static const uint8_t ebp_based[] = { 0x8b, 0x45, 0xfc };       /* mov eax, [ebp-4] */
    cr_assert_eq(x86_decode(&insn, ebp_based, 3, true), 3);
    cr_assert_eq(insn.segment, SEG_SS);
    cr_assert_eq(insn.displacement, 0xfffffffc);
    static const uint8_t esp_based[] = { 0x8b, 0x04, 0x24 };        /* mov eax, [esp] */
    cr_assert_eq(x86_decode(&insn, esp_based, 3, true), 3);
    cr_assert_eq(insn.segment, SEG_SS);
    static const uint8_t overridden[] = { 0x26, 0x8b, 0x45, 0x00 }; /* mov eax, es:[ebp] */
    cr_assert_eq(x86_decode(&insn, overridden, 4, true), 4);
    cr_assert_eq(insn.segment, SEG_ES);
    static const uint8_t bp16[] = { 0x67, 0x8b, 0x46, 0x02 };       /* mov eax, [bp+2] */
    cr_assert_eq(x86_decode(&insn, bp16, 4, true), 4);
    cr_assert_eq(insn.segment, SEG_SS);
    cr_assert_eq(insn.address_size, 2);
    /* In a 16-bit code segment the sizes flip. */
    static const uint8_t mov16[] = { 0xb8, 0x34, 0x12 };            /* mov ax, 0x1234 */
    cr_assert_eq(x86_decode(&insn, mov16, 3, false), 3);
    cr_assert_eq(insn.operand_size, 2);
    cr_assert_eq(insn.immediate & 0xffff, 0x1234);
    static const uint8_t shift1[] = { 0xd1, 0xe0 };                 /* shl eax, 1 */
    cr_assert_eq(x86_decode(&insn, shift1, 2, true), 2);
    cr_assert_eq(insn.operation, OP_SHIFT);
    cr_assert_eq(insn.sub, SHIFT_SHL);
    cr_assert_eq(insn.immediate, 1);
}
