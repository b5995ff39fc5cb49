/*
 * generate.c - the sequence generator (see generate.h).
 *
 * Encodings follow SDM vol. 2, chapter 2 and appendix A. Every
 * undefined-flag rule below cites the instruction's "Flags Affected"
 * section of SDM vol. 2 (or vol. 1, appendix A, table A-2).
 */
#include "generate.h"

#include <stdbool.h>
#include <string.h>

#include "core/cpu.h"
#include "core/mem.h"

#define ARITHMETIC_FLAGS EFLAGS_ARITHMETIC

bool generate_16bit_addressing;
bool generate_sensitive;
unsigned generate_fault_percent = 5;

struct generator {
    uint64_t rng;
    uint8_t *code;
    unsigned length;
    uint32_t undefined;       /* arithmetic flags the SDM leaves undefined here */
    uint32_t esp;             /* ESP is always known: only stack ops change it */
    bool in_skipped_block;    /* inside a forward jump's block: no stack ops */
    bool user_mode;           /* the interpreter runs at CPL 3 (struct interp_setup) */
    uint32_t undefined_within;/* every flag undefined at some point of the current item */
};

/* ---- randomness ------------------------------------------------------------ */

/* splitmix64 (Steele, Lea, Flood 2014): a full-period 64-bit generator. */
static uint64_t next_random(struct generator *g)
{
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static unsigned below(struct generator *g, unsigned n)
{
    return (unsigned)(next_random(g) % n);
}

static bool chance(struct generator *g, unsigned percent)
{
    return below(g, 100) < percent;
}

uint64_t sequence_seed(uint64_t campaign_seed, uint64_t index)
{
    struct generator g = { .rng = campaign_seed ^ (index * 0xd1b54a32d192ed03ull) };
    next_random(&g);
    return next_random(&g);
}

static const uint32_t edge_values[] = {
    0, 1, 2, 3, 7, 8, 9, 0xf, 0x10, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0x81, 0xff, 0x100, 0x7fff,
    0x8000, 0x8001, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe,
    0xffffffff, 0x99, 0x09, 0x0a, 0xfa, 0x55555555, 0xaaaaaaaa,
};

/* Operand values: edges (where flags change) half the time. */
static uint32_t interesting_value(struct generator *g)
{
    if (chance(g, 50))
        return edge_values[below(g, sizeof edge_values / sizeof edge_values[0])];
    uint32_t value = (uint32_t)next_random(g);
    switch (below(g, 4)) {
    case 0: return value & 0xff;
    case 1: return value & 0xffff;
    default: return value;
    }
}

/* Shift counts: every value 0-33 often, now and then any byte. */
static unsigned shift_count(struct generator *g)
{
    return chance(g, 80) ? below(g, 34) : below(g, 256);
}

/* ---- emitting bytes -------------------------------------------------------- */

static void emit8(struct generator *g, uint32_t byte)
{
    g->code[g->length++] = (uint8_t)byte;
}

static void emit16(struct generator *g, uint32_t value)
{
    emit8(g, value);
    emit8(g, value >> 8);
}

static void emit32(struct generator *g, uint32_t value)
{
    emit16(g, value);
    emit16(g, value >> 16);
}

static void emit_immediate(struct generator *g, unsigned size, uint32_t value)
{
    if (size == 1)
        emit8(g, value);
    else if (size == 2)
        emit16(g, value);
    else
        emit32(g, value);
}

/* mov r32, imm32 (B8+r): a setup that leaves the flags alone. */
static void emit_mov_reg_imm32(struct generator *g, unsigned reg, uint32_t value)
{
    emit8(g, 0xb8 + reg);
    emit32(g, value);
}

/* ---- the flag bookkeeping ----------------------------------------------- */

/* The instruction writes `written` (defined values) and leaves `undefined`
 * undefined; other flags keep their state. */
static void flag_effect(struct generator *g, uint32_t written, uint32_t undefined)
{
    g->undefined = (g->undefined & ~(written | undefined)) | undefined;
    g->undefined_within |= g->undefined;
}

/* Before an instruction that reads `reads`: if any of them is undefined,
 * define all six with CMP r32, r32 (changes no register). */
static void need_flags(struct generator *g, uint32_t reads)
{
    if (!(g->undefined & reads))
        return;
    emit8(g, 0x39);
    emit8(g, 0xc0 | below(g, 8) << 3 | below(g, 8));
    g->undefined = 0;
}

/* The flags condition code cc reads (SDM vol. 1, appendix B, table B-1). */
static uint32_t condition_reads(unsigned cc)
{
    static const uint32_t reads[8] = {
        EFLAGS_OF, EFLAGS_CF, EFLAGS_ZF, EFLAGS_CF | EFLAGS_ZF, EFLAGS_SF, EFLAGS_PF,
        EFLAGS_SF | EFLAGS_OF, EFLAGS_ZF | EFLAGS_SF | EFLAGS_OF,
    };
    return reads[(cc >> 1) & 7];
}

/* ---- registers and operand sizes ------------------------------------------ */

static unsigned random_size(struct generator *g)
{
    static const unsigned sizes[3] = { 1, 2, 4 };
    return sizes[below(g, 3)];
}

/* A register the instruction may write: at size 2 and 4 not (E)SP, which
 * must keep pointing at the stack in the data area. AH-BH are fine. */
static unsigned writable_reg(struct generator *g, unsigned size)
{
    unsigned reg;
    do
        reg = below(g, 8);
    while (size != 1 && reg == REG_ESP);
    return reg;
}

/* A 32-bit register outside `avoid` (a mask of 1 << reg), not ESP. */
static unsigned free_reg(struct generator *g, unsigned avoid)
{
    unsigned reg;
    do
        reg = below(g, 8);
    while (reg == REG_ESP || (avoid >> reg & 1));
    return reg;
}

/* ---- memory operands ------------------------------------------------------ */

/* A ModRM operand: a register, or memory with its ModRM/SIB/displacement
 * bytes (reg field zero) and an optional segment-override prefix. */
struct operand {
    bool memory;
    unsigned reg;
    uint8_t bytes[6];
    unsigned byte_count;
    uint8_t segment_prefix;       /* 0, or 26/36/3E: ES, SS, DS are flat here */
    bool address16;               /* 16-bit addressing: needs the 67h prefix */
    uint32_t address;             /* the linear address, for memory */
};

static void operand_byte(struct operand *op, uint32_t byte)
{
    op->bytes[op->byte_count++] = (uint8_t)byte;
}

static void operand_disp32(struct operand *op, uint32_t value)
{
    for (unsigned i = 0; i < 4; i++)
        operand_byte(op, value >> (8 * i));
}

/* A target address of `size` bytes in the data area: anywhere, sometimes
 * straddling a page boundary (both sides must split the access alike). */
static uint32_t data_target(struct generator *g, unsigned size)
{
    uint32_t span = DATA_SIZE - 2 * DATA_MARGIN;
    if (chance(g, 10)) {
        uint32_t page = DATA_BASE + DATA_MARGIN + (below(g, span / PAGE_SIZE - 1) + 1) * PAGE_SIZE;
        return page - 1 - below(g, size > 1 ? size - 1 : 1);
    }
    return DATA_BASE + DATA_MARGIN + below(g, span - 16);
}

/* [disp32] (mod 00, r/m 101). */
static void absolute_form(struct operand *op, uint32_t target)
{
    operand_byte(op, 0x05);
    operand_disp32(op, target);
}

/* [base + disp] without SIB; the base register is set by a setup. */
static void base_form(struct generator *g, struct operand *op, uint32_t target, unsigned avoid)
{
    unsigned base = free_reg(g, avoid);
    unsigned mod = below(g, 3);
    if (mod == 0 && base == REG_EBP)
        mod = 1;                              /* mod 00 r/m 101 means [disp32] */
    uint32_t disp = mod == 1 ? (uint32_t)(int32_t)(int8_t)below(g, 256)
                  : mod == 2 ? (uint32_t)next_random(g) : 0;
    emit_mov_reg_imm32(g, base, target - disp);
    operand_byte(op, mod << 6 | base);
    if (mod == 1)
        operand_byte(op, disp);
    else if (mod == 2)
        operand_disp32(op, disp);
}

/* [base + index*scale + disp] with a SIB byte. The base may be ESP (its
 * value is known; `esp_bias` is added for POP m, which computes the
 * address after incrementing ESP, SDM vol. 2 POP); index 100 means none,
 * and then the scale bits are ignored. */
static void sib_form(struct generator *g, struct operand *op, uint32_t target, unsigned avoid,
                     uint32_t esp_bias)
{
    unsigned base = chance(g, 25) ? REG_ESP : free_reg(g, avoid);
    unsigned index = chance(g, 20) ? REG_ESP : free_reg(g, avoid);
    unsigned scale = below(g, 4);
    unsigned mod = below(g, 3);
    bool no_base = mod == 0 && base == REG_EBP;   /* SIB base 101, mod 00: [index*s + disp32] */
    uint32_t index_value = index == REG_ESP ? 0 : (chance(g, 50) ? (uint32_t)next_random(g) : below(g, 64));
    uint32_t scaled = index == REG_ESP ? 0 : index_value << scale;
    uint32_t disp;

    if (base == index && index != REG_ESP) {
        mod = 2;                                   /* the displacement absorbs the rest */
        disp = target - index_value - scaled;
    } else if (no_base) {
        disp = target - scaled;
    } else if (base == REG_ESP) {
        uint32_t rest = target - (g->esp + esp_bias) - scaled;
        if (mod == 0 && rest != 0)
            mod = 2;
        if (mod == 1 && (int32_t)rest != (int8_t)rest)
            mod = 2;
        disp = rest;
    } else {
        disp = mod == 1 ? (uint32_t)(int32_t)(int8_t)below(g, 256) : mod == 2 ? (uint32_t)next_random(g) : 0;
    }
    if (index != REG_ESP)
        emit_mov_reg_imm32(g, index, index_value);
    if (!no_base && base != REG_ESP && base != index)
        emit_mov_reg_imm32(g, base, target - disp - scaled);
    operand_byte(op, mod << 6 | 4);
    operand_byte(op, scale << 6 | index << 3 | base);
    if (mod == 1)
        operand_byte(op, disp);
    else if (mod == 2 || no_base)
        operand_disp32(op, disp);
}

/*
 * The 16-bit ModRM forms (SDM vol. 2, table 2-1): [BX+SI] [BX+DI] [BP+SI]
 * [BP+DI] [SI] [DI] [BP] [BX], and [disp16] for mod 00 r/m 110. The
 * effective address wraps at 64 KiB and ignores the registers' upper
 * halves, so those are random. Returns false if the form would use a
 * register in `avoid`.
 */
static bool address16_form(struct generator *g, struct operand *op, unsigned size, unsigned avoid)
{
    static const int8_t first[8] = { REG_EBX, REG_EBX, REG_EBP, REG_EBP, REG_ESI, REG_EDI, REG_EBP, REG_EBX };
    static const int8_t second[8] = { REG_ESI, REG_EDI, REG_ESI, REG_EDI, -1, -1, -1, -1 };
    unsigned rm = below(g, 8), mod = below(g, 3);
    bool absolute = mod == 0 && rm == 6;
    if (!absolute && ((avoid >> first[rm] & 1) || (second[rm] >= 0 && (avoid >> second[rm] & 1))))
        return false;
    uint32_t span = LOW_DATA_SIZE - 2 * DATA_MARGIN - 16;
    uint32_t target = LOW_DATA_BASE + DATA_MARGIN + below(g, span);
    if (chance(g, 10)) {                               /* straddle an inner page boundary */
        uint32_t page = LOW_DATA_BASE + PAGE_SIZE * (1 + below(g, LOW_DATA_SIZE / PAGE_SIZE - 2));
        target = page - 1 - below(g, size > 1 ? size - 1 : 1);
    }
    uint32_t disp = mod == 1 ? (uint32_t)(int32_t)(int8_t)below(g, 256) : mod == 2 ? below(g, 0x10000) : 0;
    if (absolute) {
        disp = target;
    } else {
        uint32_t other = second[rm] >= 0 ? (uint32_t)next_random(g) : 0;
        uint32_t base = (target - disp - other) & 0xffff;
        emit_mov_reg_imm32(g, (unsigned)first[rm], ((uint32_t)next_random(g) & 0xffff0000u) | base);
        if (second[rm] >= 0)
            emit_mov_reg_imm32(g, (unsigned)second[rm], other);
    }
    operand_byte(op, mod << 6 | rm);
    if (mod == 1)
        operand_byte(op, disp);
    else if (mod == 2 || absolute)
        operand_byte(op, disp), operand_byte(op, disp >> 8);
    op->address16 = true;
    op->address = target;
    return true;
}

/* A memory operand of `size` bytes inside the data area, using every
 * 32-bit addressing form (SDM vol. 2, tables 2-2 and 2-3). Registers in
 * `avoid` are not used for the address (the item changes them after the
 * setup). 16-bit addressing (67h) cannot reach the data area: the first
 * 64 KiB are below mmap_min_addr on the host. */
static struct operand memory_operand(struct generator *g, unsigned size, unsigned avoid,
                                     uint32_t esp_bias)
{
    struct operand op = { .memory = true };
    if (!(generate_16bit_addressing && chance(g, 15) && address16_form(g, &op, size, avoid))) {
        op.address = data_target(g, size);
        switch (below(g, 3)) {
        case 0: absolute_form(&op, op.address); break;
        case 1: base_form(g, &op, op.address, avoid); break;
        default: sib_form(g, &op, op.address, avoid, esp_bias); break;
        }
    }
    static const uint8_t prefixes[5] = { 0x26, 0x36, 0x3e, 0x64, 0x65 };   /* ES SS DS FS GS */
    if (chance(g, 20))
        op.segment_prefix = prefixes[below(g, generate_sensitive ? 5 : 3)];
    return op;
}

/* A register (writable if `written`) or, half the time, memory. */
static struct operand rm_operand(struct generator *g, unsigned size, bool written, unsigned avoid)
{
    if (chance(g, 50))
        return memory_operand(g, size, avoid, 0);
    struct operand op = { .memory = false };
    op.reg = written ? writable_reg(g, size) : below(g, 8);
    return op;
}

/* Prefixes in a random order: operand size (66), address size (67),
 * segment, LOCK (F0). */
static void emit_prefixes(struct generator *g, unsigned size, const struct operand *op, bool lock)
{
    uint8_t prefixes[4];
    unsigned count = 0;
    if (size == 2)
        prefixes[count++] = 0x66;
    if (op && op->memory && op->address16)
        prefixes[count++] = 0x67;
    if (op && op->memory && op->segment_prefix)
        prefixes[count++] = op->segment_prefix;
    if (lock)
        prefixes[count++] = 0xf0;
    for (unsigned i = count; i > 1; i--) {
        unsigned j = below(g, i);
        uint8_t t = prefixes[i - 1];
        prefixes[i - 1] = prefixes[j];
        prefixes[j] = t;
    }
    for (unsigned i = 0; i < count; i++)
        emit8(g, prefixes[i]);
}

static void emit_modrm(struct generator *g, const struct operand *op, unsigned reg_field)
{
    if (!op->memory) {
        emit8(g, 0xc0 | reg_field << 3 | op->reg);
        return;
    }
    emit8(g, op->bytes[0] | reg_field << 3);
    for (unsigned i = 1; i < op->byte_count; i++)
        emit8(g, op->bytes[i]);
}

/* LOCK only on a read-modify-write memory destination (else #UD). */
static bool maybe_lock(struct generator *g, const struct operand *op)
{
    return op->memory && chance(g, 20);
}

/* Opcode for byte (base) or word/dword (base + 1) forms. */
static unsigned sized(unsigned opcode, unsigned size)
{
    return size == 1 ? opcode : opcode + 1;
}

/* ---- integer ALU ---------------------------------------------------------- */

enum { ALU_ADD_, ALU_OR_, ALU_ADC_, ALU_SBB_, ALU_AND_, ALU_SUB_, ALU_XOR_, ALU_CMP_ };

/* ADD..CMP: all six flags; AF undefined after AND/OR/XOR (SDM vol. 2 AND,
 * OR, XOR "Flags Affected"). ADC and SBB read CF. */
static void alu_flags(struct generator *g, unsigned alu)
{
    bool logic = alu == ALU_OR_ || alu == ALU_AND_ || alu == ALU_XOR_;
    flag_effect(g, ARITHMETIC_FLAGS, logic ? EFLAGS_AF : 0);
}

static void gen_alu(struct generator *g)
{
    unsigned alu = below(g, 8), size = random_size(g), form = below(g, 5);
    bool writes = alu != ALU_CMP_;
    if (alu == ALU_ADC_ || alu == ALU_SBB_)
        need_flags(g, EFLAGS_CF);
    if (form == 2) {                                   /* AL/AX/EAX, imm */
        emit_prefixes(g, size, NULL, false);
        emit8(g, alu << 3 | sized(4, size));
        emit_immediate(g, size, interesting_value(g));
    } else if (form == 1) {                            /* reg op= r/m */
        struct operand src = rm_operand(g, size, false, 0);
        unsigned reg = writes ? writable_reg(g, size) : below(g, 8);
        emit_prefixes(g, size, &src, false);
        emit8(g, alu << 3 | sized(2, size));
        emit_modrm(g, &src, reg);
    } else {
        struct operand dst = rm_operand(g, size, writes, 0);
        bool lock = writes && maybe_lock(g, &dst);
        emit_prefixes(g, size, &dst, lock);
        if (form == 0) {                               /* r/m op= reg */
            emit8(g, alu << 3 | sized(0, size));
            emit_modrm(g, &dst, below(g, 8));
        } else if (form == 4 && size != 1) {           /* 83: imm8 sign-extended */
            emit8(g, 0x83);
            emit_modrm(g, &dst, alu);
            emit8(g, interesting_value(g));
        } else {                                       /* 80/81 (82: the 32-bit-only alias of 80) */
            emit8(g, size == 1 ? (chance(g, 10) ? 0x82 : 0x80) : 0x81);
            emit_modrm(g, &dst, alu);
            emit_immediate(g, size, interesting_value(g));
        }
    }
    alu_flags(g, alu);
}

/* INC/DEC: OF SF ZF AF PF, CF unchanged (SDM vol. 2 INC, DEC). */
static void gen_inc_dec(struct generator *g)
{
    unsigned size = random_size(g), dec = below(g, 2);
    if (size != 1 && chance(g, 40)) {
        emit_prefixes(g, size, NULL, false);
        emit8(g, (dec ? 0x48 : 0x40) + writable_reg(g, size));
    } else {
        struct operand dst = rm_operand(g, size, true, 0);
        emit_prefixes(g, size, &dst, maybe_lock(g, &dst));
        emit8(g, sized(0xfe, size));
        emit_modrm(g, &dst, dec);
    }
    flag_effect(g, ARITHMETIC_FLAGS & ~EFLAGS_CF, 0);
}

/* NOT (no flags) and NEG (all six, SDM vol. 2 NEG). */
static void gen_not_neg(struct generator *g)
{
    unsigned size = random_size(g), neg = below(g, 2);
    struct operand dst = rm_operand(g, size, true, 0);
    emit_prefixes(g, size, &dst, maybe_lock(g, &dst));
    emit8(g, sized(0xf6, size));
    emit_modrm(g, &dst, 2 + neg);
    if (neg)
        flag_effect(g, ARITHMETIC_FLAGS, 0);
}

/* TEST: like AND, AF undefined (SDM vol. 2 TEST). */
static void gen_test(struct generator *g)
{
    unsigned size = random_size(g), form = below(g, 3);
    if (form == 0) {
        emit_prefixes(g, size, NULL, false);
        emit8(g, sized(0xa8, size));
        emit_immediate(g, size, interesting_value(g));
    } else {
        struct operand op = rm_operand(g, size, false, 0);
        emit_prefixes(g, size, &op, false);
        emit8(g, form == 1 ? sized(0x84, size) : sized(0xf6, size));
        emit_modrm(g, &op, form == 1 ? below(g, 8) : 0);
        if (form == 2)
            emit_immediate(g, size, interesting_value(g));
    }
    flag_effect(g, ARITHMETIC_FLAGS, EFLAGS_AF);
}

/* ---- shifts and rotates --------------------------------------------------- */

/*
 * SDM vol. 2 SAL/SAR/SHL/SHR and RCL/RCR/ROL/ROR "Flags Affected". The
 * count is masked to 5 bits; a masked count of 0 affects no flag.
 * Shifts: SF ZF PF from the result, AF undefined, OF undefined unless the
 * count is 1, CF undefined for SHL/SHR when the count >= the operand width.
 * Rotates: only CF and OF; OF undefined unless the count is 1; RCL/RCR
 * read CF.
 */
static void shift_flags(struct generator *g, unsigned op, unsigned size, unsigned count)
{
    unsigned masked = count & 31;
    if (masked == 0)
        return;
    uint32_t undefined_of = masked != 1 ? EFLAGS_OF : 0;
    if (op <= 3) {                                     /* ROL ROR RCL RCR */
        flag_effect(g, EFLAGS_CF | EFLAGS_OF, undefined_of);
        return;
    }
    uint32_t undefined = EFLAGS_AF | undefined_of;
    bool logical = op == 4 || op == 5 || op == 6;      /* SHL SHR SAL(/6) */
    if (logical && masked >= size * 8)
        undefined |= EFLAGS_CF;
    flag_effect(g, ARITHMETIC_FLAGS, undefined);
}

static void gen_shift(struct generator *g)
{
    unsigned op = below(g, 8), size = random_size(g), form = below(g, 3);
    unsigned count = form == 1 ? 1 : shift_count(g);
    if (op == 2 || op == 3)
        need_flags(g, EFLAGS_CF);
    struct operand dst = rm_operand(g, size, true, form == 2 ? 1u << REG_ECX : 0);
    if (form == 2)
        emit8(g, 0xb1), emit8(g, count);               /* mov cl, count */
    emit_prefixes(g, size, &dst, false);
    emit8(g, form == 0 ? sized(0xc0, size) : form == 1 ? sized(0xd0, size) : sized(0xd2, size));
    emit_modrm(g, &dst, op);
    if (form == 0)
        emit8(g, count);
    shift_flags(g, op, size, count);
}

/* SHLD/SHRD (SDM vol. 2): count masked to 5 bits, 0 changes nothing; a
 * count above the operand width leaves result and flags undefined, so a
 * 16-bit count stays <= 16. AF undefined, OF undefined unless count 1. */
static void gen_double_shift(struct generator *g)
{
    unsigned size = below(g, 2) ? 2 : 4, right = below(g, 2), by_cl = below(g, 2);
    unsigned count;
    do
        count = shift_count(g);
    while (size == 2 && (count & 31) > 16);
    struct operand dst = rm_operand(g, size, true, by_cl ? 1u << REG_ECX : 0);
    if (by_cl)
        emit8(g, 0xb1), emit8(g, count);
    emit_prefixes(g, size, &dst, false);
    emit8(g, 0x0f);
    emit8(g, (right ? 0xac : 0xa4) + by_cl);
    emit_modrm(g, &dst, below(g, 8));
    if (!by_cl)
        emit8(g, count);
    if (count & 31)
        flag_effect(g, ARITHMETIC_FLAGS, EFLAGS_AF | ((count & 31) != 1 ? EFLAGS_OF : 0));
}

/* ---- multiply and divide -------------------------------------------------- */

/* MUL/IMUL: CF OF defined, SF ZF AF PF undefined (SDM vol. 2 MUL, IMUL). */
static void mul_flags(struct generator *g)
{
    flag_effect(g, EFLAGS_CF | EFLAGS_OF, EFLAGS_SF | EFLAGS_ZF | EFLAGS_AF | EFLAGS_PF);
}

static void gen_mul(struct generator *g)
{
    unsigned size = random_size(g), form = below(g, 4);
    if (form <= 1 || size == 1) {                      /* F6/F7 /4 MUL, /5 IMUL */
        struct operand src = rm_operand(g, size, false, 0);
        emit_prefixes(g, size, &src, false);
        emit8(g, sized(0xf6, size));
        emit_modrm(g, &src, 4 + (form & 1));
    } else {                                           /* 0F AF, 69, 6B */
        struct operand src = rm_operand(g, size, false, 0);
        unsigned reg = writable_reg(g, size);
        emit_prefixes(g, size, &src, false);
        if (form == 2) {
            emit8(g, 0x0f), emit8(g, 0xaf);
            emit_modrm(g, &src, reg);
        } else {
            bool imm8 = below(g, 2);
            emit8(g, imm8 ? 0x6b : 0x69);
            emit_modrm(g, &src, reg);
            emit_immediate(g, imm8 ? 1 : size, interesting_value(g));
        }
    }
    mul_flags(g);
}

/* Store `value` in the operand (B0+r/B8+r, or C6/C7 /0 through the same
 * address): the divisor or BSF source the item needs. */
static void set_operand(struct generator *g, const struct operand *op, unsigned size, uint32_t value)
{
    if (!op->memory) {
        emit_prefixes(g, size, NULL, false);
        emit8(g, (size == 1 ? 0xb0 : 0xb8) + op->reg);
    } else {
        emit_prefixes(g, size, op, false);
        emit8(g, sized(0xc6, size));
        emit_modrm(g, op, 0);
    }
    emit_immediate(g, size, value);
}

/*
 * DIV/IDIV with operands that cannot raise #DE (SDM vol. 2 DIV/IDIV): an
 * unsigned dividend whose high half is below the divisor always fits; a
 * sign-extended dividend (CBW/CWD/CDQ) divided by |d| >= 2 always fits.
 * All six flags are undefined afterwards.
 */
static void gen_divide(struct generator *g)
{
    unsigned size = random_size(g), is_signed = below(g, 2);
    unsigned implicit = 1u << REG_EAX | 1u << REG_EDX;
    struct operand divisor = chance(g, 50) ? memory_operand(g, size, implicit, 0)
                                           : (struct operand){ .reg = free_reg(g, implicit) };
    uint32_t mask = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    uint32_t d = interesting_value(g) & mask;
    if (is_signed) {
        if (d <= 1 || d == mask)                       /* 0, 1, -1 */
            d = 2 + below(g, 100);
        set_operand(g, &divisor, size, d);
        emit_prefixes(g, size == 1 ? 2 : size, NULL, false);
        emit8(g, size == 1 ? 0x98 : 0x99);             /* cbw / cwd / cdq */
    } else {
        if (d == 0)
            d = 1 + below(g, 255);
        set_operand(g, &divisor, size, d);
        uint32_t high = (uint32_t)(next_random(g) % d);
        if (size == 1)
            emit8(g, 0xb4), emit8(g, high);            /* mov ah, high */
        else
            emit_prefixes(g, size, NULL, false), emit8(g, 0xba), emit_immediate(g, size, high);
    }
    emit_prefixes(g, size, &divisor, false);
    emit8(g, sized(0xf6, size));
    emit_modrm(g, &divisor, 6 + is_signed);
    flag_effect(g, 0, ARITHMETIC_FLAGS);
}

/* ---- string instructions ---------------------------------------------------- */

/*
 * MOVS CMPS STOS LODS SCAS, with and without REP/REPE/REPNE, both
 * directions. ESI/EDI point into the middle of the data area and ECX is
 * small, so every element stays inside it. CMPS/SCAS set the flags like
 * CMP (if they run at all: REP with ECX = 0 runs nothing).
 */
static void gen_string(struct generator *g)
{
    static const uint8_t opcodes[5] = { 0xa4, 0xa6, 0xaa, 0xac, 0xae };
    unsigned kind = below(g, 5), size = random_size(g);
    bool compares = kind == 1 || kind == 4;
    unsigned repeat = below(g, 3);                     /* none, F3, F2 (F2 only for compares) */
    if (!compares && repeat == 2)
        repeat = 1;
    unsigned count = chance(g, 10) ? 0 : chance(g, 80) ? below(g, 24) : below(g, 600);
    /* With 67h the string instructions use SI, DI and CX (SDM vol. 2 MOVS
     * "Operation"): their upper halves are random and must survive. */
    bool address16 = generate_16bit_addressing && chance(g, 20);
    uint32_t middle = address16 ? LOW_DATA_BASE + LOW_DATA_SIZE / 2 : DATA_BASE + DATA_SIZE / 2;
    uint32_t upper = address16 ? (uint32_t)next_random(g) & 0xffff0000u : 0;
    uint32_t from = middle - 0x2000 + below(g, 0x4000), to = middle - 0x2000 + below(g, 0x4000);
    /* Which of its two operands CMPS reads first is not architectural (this
     * AMD host reads ES:EDI first, the SDM pseudo-code names DS:ESI first):
     * its source stays clear of READ_ONLY_DATA_PAGE, so a fault there is
     * always the destination's. */
    if (kind == 1)
        from = middle - 0x2000 + below(g, 0x1000);
    if (chance(g, 30))                                 /* overlapping: REP MOVS copies element by element */
        to = from - 16 + below(g, 33);
    emit_mov_reg_imm32(g, REG_ESI, upper | from);
    emit_mov_reg_imm32(g, REG_EDI, upper | to);
    if (repeat)
        emit_mov_reg_imm32(g, REG_ECX, upper | count);
    if (chance(g, 40))
        emit8(g, chance(g, 50) ? 0xfd : 0xfc);         /* std / cld */
    struct operand source = { .memory = true, .address16 = address16 };
    static const uint8_t segments[3] = { 0x26, 0x36, 0x3e };
    if ((kind == 0 || kind == 1 || kind == 3) && chance(g, 20))
        source.segment_prefix = segments[below(g, 3)];   /* overrides DS:ESI only */
    if (repeat)
        emit8(g, repeat == 1 ? 0xf3 : 0xf2);
    emit_prefixes(g, size, &source, false);
    emit8(g, sized(opcodes[kind], size));
    if (compares && (!repeat || count))
        flag_effect(g, ARITHMETIC_FLAGS, 0);
}

/* ---- flag readers and writers ----------------------------------------------- */

static void gen_setcc(struct generator *g)
{
    unsigned cc = below(g, 16);
    need_flags(g, condition_reads(cc));
    struct operand dst = rm_operand(g, 1, true, 0);
    emit_prefixes(g, 1, &dst, false);
    emit8(g, 0x0f), emit8(g, 0x90 + cc);
    emit_modrm(g, &dst, below(g, 8));                  /* reg field ignored (SDM vol. 2 SETcc) */
}

/* CMOVcc reads its source even when the condition is false. */
static void gen_cmov(struct generator *g)
{
    unsigned cc = below(g, 16), size = below(g, 2) ? 2 : 4;
    need_flags(g, condition_reads(cc));
    struct operand src = rm_operand(g, size, false, 0);
    emit_prefixes(g, size, &src, false);
    emit8(g, 0x0f), emit8(g, 0x40 + cc);
    emit_modrm(g, &src, writable_reg(g, size));
}

/* LAHF reads SF ZF AF PF CF; SAHF writes them (SDM vol. 2 LAHF, SAHF). */
static void gen_lahf_sahf(struct generator *g)
{
    if (below(g, 2)) {
        need_flags(g, ARITHMETIC_FLAGS & ~EFLAGS_OF);
        emit8(g, 0x9f);
    } else {
        emit8(g, 0x9e);
        flag_effect(g, ARITHMETIC_FLAGS & ~EFLAGS_OF, 0);
    }
}

/* CLC STC CMC CLD STD, and SALC (D6: AL = CF ? FF : 00, valid outside
 * 64-bit mode; AMD documents it, Intel reserves the opcode). */
static void gen_flag_instruction(struct generator *g)
{
    switch (below(g, 6)) {
    case 0: emit8(g, 0xf8); flag_effect(g, EFLAGS_CF, 0); break;
    case 1: emit8(g, 0xf9); flag_effect(g, EFLAGS_CF, 0); break;
    case 2: need_flags(g, EFLAGS_CF); emit8(g, 0xf5); flag_effect(g, EFLAGS_CF, 0); break;
    case 3: emit8(g, 0xfc); break;
    case 4: emit8(g, 0xfd); break;
    default: need_flags(g, EFLAGS_CF); emit8(g, 0xd6); break;
    }
}

/* ---- the stack ------------------------------------------------------------------ */

static bool stack_room_below(const struct generator *g, unsigned bytes)
{
    return g->esp - bytes >= STACK_LOWEST;
}

static bool stack_room_above(const struct generator *g, unsigned bytes)
{
    return g->esp + bytes <= STACK_HIGHEST;
}

/* PUSHF stores all of EFLAGS, so every arithmetic flag must be defined.
 * POPF loads a value the generator chose: arithmetic flags and DF random,
 * IF set (user mode cannot change it, and the interpreter runs with it
 * set), TF AC NT IOPL clear (AC would enable alignment checks on Linux). */
static void gen_pushf_popf(struct generator *g)
{
    unsigned size = below(g, 4) ? 4 : 2;
    if (below(g, 2) && stack_room_below(g, size)) {
        need_flags(g, ARITHMETIC_FLAGS);
        emit_prefixes(g, size, NULL, false);
        emit8(g, 0x9c);
        g->esp -= size;
        return;
    }
    uint32_t value = ((uint32_t)next_random(g) & (ARITHMETIC_FLAGS | EFLAGS_DF)) | EFLAGS_FIXED | EFLAGS_IF;
    if (g->user_mode)                                  /* CPL 3 > IOPL: IF and IOPL are kept; NT, ID load */
        value ^= (uint32_t)next_random(g) & (EFLAGS_IF | EFLAGS_IOPL | EFLAGS_NT | EFLAGS_ID);
    if (!stack_room_below(g, size))
        return;
    emit_prefixes(g, size, NULL, false);               /* push imm */
    emit8(g, 0x68);
    emit_immediate(g, size, value);
    emit_prefixes(g, size, NULL, false);               /* popf */
    emit8(g, 0x9d);
    flag_effect(g, ARITHMETIC_FLAGS, 0);
}

static void gen_push(struct generator *g)
{
    unsigned size = below(g, 4) ? 4 : 2, form = below(g, 4);
    if (!stack_room_below(g, 8 * size))
        return;
    if (form == 0) {                                   /* push r (ESP: the old value) */
        emit_prefixes(g, size, NULL, false);
        emit8(g, 0x50 + below(g, 8));
    } else if (form == 1) {                            /* push imm8 / imm */
        bool imm8 = below(g, 2);
        emit_prefixes(g, size, NULL, false);
        emit8(g, imm8 ? 0x6a : 0x68);
        emit_immediate(g, imm8 ? 1 : size, interesting_value(g));
    } else if (form == 2) {                            /* push r/m: address taken before the push */
        struct operand src = memory_operand(g, size, 0, 0);
        emit_prefixes(g, size, &src, false);
        emit8(g, 0xff);
        emit_modrm(g, &src, 6);
    } else {                                           /* pusha */
        emit_prefixes(g, size, NULL, false);
        emit8(g, 0x60);
        g->esp -= 8 * size;
        return;
    }
    g->esp -= size;
}

static void gen_pop(struct generator *g)
{
    unsigned size = below(g, 4) ? 4 : 2, form = below(g, 3);
    if (!stack_room_above(g, 32))
        return;
    if (form == 0) {                                   /* pop r */
        emit_prefixes(g, size, NULL, false);
        emit8(g, 0x58 + writable_reg(g, size));
    } else if (form == 1) {                            /* pop r/m: ESP-based address after the pop */
        struct operand dst = memory_operand(g, size, 0, size);
        emit_prefixes(g, size, &dst, false);
        emit8(g, 0x8f);
        emit_modrm(g, &dst, 0);
    } else {                                           /* popa: skips (E)SP */
        emit_prefixes(g, size, NULL, false);
        emit8(g, 0x61);
        g->esp += 8 * size;
        return;
    }
    g->esp += size;
}

/* ---- moves ---------------------------------------------------------------------- */

static void gen_mov(struct generator *g)
{
    unsigned size = random_size(g), form = below(g, 5);
    if (form == 0 || form == 1) {                      /* 88/89 and 8A/8B */
        struct operand rm = rm_operand(g, size, form == 0, 0);
        emit_prefixes(g, size, &rm, false);
        emit8(g, sized(form == 0 ? 0x88 : 0x8a, size));
        emit_modrm(g, &rm, form == 0 ? below(g, 8) : writable_reg(g, size));
    } else if (form == 2) {                            /* C6/C7 /0 */
        struct operand dst = rm_operand(g, size, true, 0);
        emit_prefixes(g, size, &dst, false);
        emit8(g, sized(0xc6, size));
        emit_modrm(g, &dst, 0);
        emit_immediate(g, size, interesting_value(g));
    } else if (form == 3) {                            /* B0+r / B8+r */
        emit_prefixes(g, size, NULL, false);
        emit8(g, (size == 1 ? 0xb0 : 0xb8) + writable_reg(g, size));
        emit_immediate(g, size, interesting_value(g));
    } else {                                           /* A0-A3: moffs */
        struct operand moffs = { .memory = true, .address16 = generate_16bit_addressing && chance(g, 20) };
        static const uint8_t segments[3] = { 0x26, 0x36, 0x3e };
        if (chance(g, 20))
            moffs.segment_prefix = segments[below(g, 3)];
        emit_prefixes(g, size, &moffs, false);
        emit8(g, sized(below(g, 2) ? 0xa0 : 0xa2, size));
        if (moffs.address16)                           /* 67h: a 16-bit offset */
            emit16(g, LOW_DATA_BASE + DATA_MARGIN + below(g, LOW_DATA_SIZE - 2 * DATA_MARGIN));
        else
            emit32(g, data_target(g, size));
    }
}

/* MOVZX/MOVSX 0F B6/B7/BE/BF; a 16-bit destination with a 16-bit source
 * is a plain move. */
static void gen_move_extend(struct generator *g)
{
    unsigned source_size = below(g, 2) ? 1 : 2, size = below(g, 3) ? 4 : 2;
    struct operand src = rm_operand(g, source_size, false, 0);
    emit_prefixes(g, size, &src, false);
    emit8(g, 0x0f);
    emit8(g, (below(g, 2) ? 0xbe : 0xb6) + (source_size == 2));
    emit_modrm(g, &src, writable_reg(g, size));
}

static void gen_xchg(struct generator *g)
{
    unsigned size = random_size(g);
    if (size != 1 && chance(g, 30)) {                  /* 90+r: xchg eAX, r */
        emit_prefixes(g, size, NULL, false);
        emit8(g, 0x90 + writable_reg(g, size));
        return;
    }
    struct operand rm = rm_operand(g, size, true, 0);
    emit_prefixes(g, size, &rm, maybe_lock(g, &rm));
    emit8(g, sized(0x86, size));
    emit_modrm(g, &rm, writable_reg(g, size));
}

/* A random memory-form ModRM with no setup: LEA and the 0F 1F NOP compute
 * or ignore the address but never access it. */
static void emit_any_address(struct generator *g, unsigned reg_field, bool address16)
{
    unsigned mod = below(g, 3), rm = below(g, 8);
    if (address16) {                                  /* the caller emitted 67h: 16-bit ModRM, no SIB */
        emit8(g, mod << 6 | reg_field << 3 | rm);
        if (mod == 1)
            emit8(g, below(g, 256));
        else if (mod == 2 || (mod == 0 && rm == 6))
            emit16(g, below(g, 0x10000));
        return;
    }
    emit8(g, mod << 6 | reg_field << 3 | rm);
    if (rm == 4) {
        unsigned sib = below(g, 256);
        emit8(g, sib);
        if (mod == 0 && (sib & 7) == 5)
            emit32(g, (uint32_t)next_random(g));
    }
    if (mod == 1)
        emit8(g, below(g, 256));
    else if (mod == 2 || (mod == 0 && rm == 5))
        emit32(g, chance(g, 50) ? (uint32_t)next_random(g) : interesting_value(g));
}

static void gen_lea(struct generator *g)
{
    unsigned size = below(g, 3) ? 4 : 2;
    bool address16 = chance(g, 20);
    emit_prefixes(g, size, NULL, false);
    if (address16)
        emit8(g, 0x67);
    emit8(g, 0x8d);
    emit_any_address(g, writable_reg(g, size), address16);
}

/* ---- bit instructions ---------------------------------------------------------- */

/* BT BTS BTR BTC (SDM vol. 2 BT): CF = the bit, ZF unchanged, OF SF AF PF
 * undefined. With a register bit offset and a memory operand the offset
 * is signed and reaches outside the operand: it is set to stay within
 * DATA_MARGIN bytes of the address. */
static void gen_bit_test(struct generator *g)
{
    unsigned size = below(g, 2) ? 2 : 4, op = below(g, 4), by_imm = below(g, 2);
    bool writes = op != 0;
    unsigned offset_reg = free_reg(g, 0);
    struct operand dst = rm_operand(g, size, writes, 1u << offset_reg);
    if (dst.memory && !by_imm) {
        int32_t bits = (int32_t)below(g, 2 * (DATA_MARGIN - 8) * 8) - (int32_t)((DATA_MARGIN - 8) * 8);
        emit_mov_reg_imm32(g, offset_reg, (uint32_t)bits);
    }
    emit_prefixes(g, size, &dst, writes && maybe_lock(g, &dst));
    emit8(g, 0x0f);
    if (by_imm) {
        emit8(g, 0xba);
        emit_modrm(g, &dst, 4 + op);
        emit8(g, below(g, 256));
    } else {
        emit8(g, 0xa3 + 8 * op);
        emit_modrm(g, &dst, offset_reg);
    }
    flag_effect(g, EFLAGS_CF, EFLAGS_OF | EFLAGS_SF | EFLAGS_AF | EFLAGS_PF);
}

/* BSF/BSR (SDM vol. 2): with a zero source the destination is undefined,
 * so the source is set non-zero first. ZF = 0; CF OF SF AF PF undefined.
 * Never with F3: that is TZCNT/LZCNT on this host. */
static void gen_bit_scan(struct generator *g)
{
    unsigned size = below(g, 2) ? 2 : 4;
    struct operand src = chance(g, 50) ? memory_operand(g, size, 0, 0)
                                       : (struct operand){ .reg = free_reg(g, 0) };
    uint32_t value = interesting_value(g) & (size == 2 ? 0xffff : 0xffffffff);
    set_operand(g, &src, size, value ? value : 0x100);
    emit_prefixes(g, size, &src, false);
    emit8(g, 0x0f), emit8(g, 0xbc + below(g, 2));
    emit_modrm(g, &src, writable_reg(g, size));
    flag_effect(g, EFLAGS_ZF, EFLAGS_CF | EFLAGS_OF | EFLAGS_SF | EFLAGS_AF | EFLAGS_PF);
}

/* BSWAP r32 (0F C8+r). */
static void gen_bswap(struct generator *g)
{
    emit8(g, 0x0f);
    emit8(g, 0xc8 + writable_reg(g, 4));
}

/*
 * BOUND r, m (62 /r) with bounds that cannot raise #BR: the full signed
 * range [min, max] stored first (SDM vol. 2 BOUND). ARPL r/m16, r16
 * (63 /r, not MOVSXD outside 64-bit mode): ZF and maybe the RPL bits.
 */
static void gen_bound_arpl(struct generator *g)
{
    if (below(g, 2)) {
        unsigned size = below(g, 2) ? 2 : 4;
        uint32_t address = data_target(g, 2 * size);
        struct operand lower = { .memory = true }, upper = { .memory = true };
        absolute_form(&lower, address);
        absolute_form(&upper, address + size);
        set_operand(g, &lower, size, size == 2 ? 0x8000 : 0x80000000u);
        set_operand(g, &upper, size, size == 2 ? 0x7fff : 0x7fffffffu);
        emit_prefixes(g, size, NULL, false);
        emit8(g, 0x62);
        emit_modrm(g, &lower, below(g, 8));
        return;
    }
    struct operand dst = rm_operand(g, 2, true, 0);
    emit_prefixes(g, 4, &dst, false);
    emit8(g, 0x63);
    emit_modrm(g, &dst, below(g, 8));
    flag_effect(g, EFLAGS_ZF, 0);
}

/* ---- decimal arithmetic ------------------------------------------------------------ */

/* SDM vol. 2 DAA/DAS: read AF CF, OF undefined. AAA/AAS: read AF, only AF
 * CF defined. AAM/AAD: SF ZF PF defined, OF AF CF undefined; AAM 0 is #DE. */
static void gen_decimal(struct generator *g)
{
    switch (below(g, 6)) {
    case 0: case 1:
        need_flags(g, EFLAGS_AF | EFLAGS_CF);
        emit8(g, chance(g, 50) ? 0x27 : 0x2f);
        flag_effect(g, ARITHMETIC_FLAGS, EFLAGS_OF);
        break;
    case 2: case 3:
        need_flags(g, EFLAGS_AF | EFLAGS_CF);
        emit8(g, chance(g, 50) ? 0x37 : 0x3f);
        flag_effect(g, ARITHMETIC_FLAGS, EFLAGS_OF | EFLAGS_SF | EFLAGS_ZF | EFLAGS_PF);
        break;
    case 4:
        emit8(g, 0xd4);
        emit8(g, chance(g, 50) ? 10 : 1 + below(g, 255));
        flag_effect(g, ARITHMETIC_FLAGS, EFLAGS_OF | EFLAGS_AF | EFLAGS_CF);
        break;
    default:
        emit8(g, 0xd5);
        emit8(g, chance(g, 50) ? 10 : below(g, 256));
        flag_effect(g, ARITHMETIC_FLAGS, EFLAGS_OF | EFLAGS_AF | EFLAGS_CF);
        break;
    }
}

/* ---- atomics ------------------------------------------------------------------------ */

/* CMPXCHG (flags as CMP); half the time the accumulator is first loaded
 * from the destination so the exchange happens. */
static void gen_cmpxchg(struct generator *g)
{
    unsigned size = random_size(g);
    struct operand dst = rm_operand(g, size, true, 1u << REG_EAX);
    if (chance(g, 50)) {                               /* mov acc, dst */
        emit_prefixes(g, size, &dst, false);
        emit8(g, sized(0x8a, size));
        emit_modrm(g, &dst, REG_EAX);
    }
    emit_prefixes(g, size, &dst, maybe_lock(g, &dst));
    emit8(g, 0x0f), emit8(g, sized(0xb0, size));
    emit_modrm(g, &dst, writable_reg(g, size));
    flag_effect(g, ARITHMETIC_FLAGS, 0);
}

/* XADD: flags as ADD. */
static void gen_xadd(struct generator *g)
{
    unsigned size = random_size(g);
    struct operand dst = rm_operand(g, size, true, 0);
    emit_prefixes(g, size, &dst, maybe_lock(g, &dst));
    emit8(g, 0x0f), emit8(g, sized(0xc0, size));
    emit_modrm(g, &dst, writable_reg(g, size));
    flag_effect(g, ARITHMETIC_FLAGS, 0);
}

/* CMPXCHG8B m64: only ZF. For the equal case EDX:EAX is loaded from the
 * operand first, which needs its address: the absolute form then. */
static void gen_cmpxchg8b(struct generator *g)
{
    struct operand dst;
    if (chance(g, 50)) {
        dst = (struct operand){ .memory = true, .address = data_target(g, 8) };
        absolute_form(&dst, dst.address);
        emit8(g, 0xa1), emit32(g, dst.address);                  /* mov eax, [m] */
        emit8(g, 0x8b), emit8(g, 0x15), emit32(g, dst.address + 4); /* mov edx, [m+4] */
    } else {
        dst = memory_operand(g, 8, 0, 0);
    }
    emit_prefixes(g, 4, &dst, chance(g, 30));
    emit8(g, 0x0f), emit8(g, 0xc7);
    emit_modrm(g, &dst, 1);
    flag_effect(g, EFLAGS_ZF, 0);
}

/* ---- the rest: conversions, XLAT, NOPs ---------------------------------------------- */

static void gen_misc(struct generator *g)
{
    switch (below(g, 6)) {
    case 0:                                            /* cbw/cwde, cwd/cdq */
        emit_prefixes(g, below(g, 2) ? 2 : 4, NULL, false);
        emit8(g, 0x98 + below(g, 2));
        break;
    case 1:
        gen_bswap(g);
        break;
    case 2: {                                          /* xlat: [EBX + AL] */
        struct operand table = { .memory = true, .address16 = generate_16bit_addressing && chance(g, 20) };
        if (chance(g, 20))
            table.segment_prefix = 0x26;
        if (table.address16)                           /* [BX + AL], 16 bits */
            emit_mov_reg_imm32(g, REG_EBX, ((uint32_t)next_random(g) & 0xffff0000u) |
                                           (LOW_DATA_BASE + 0x1000 + below(g, 0x4000)));
        else
            emit_mov_reg_imm32(g, REG_EBX, data_target(g, 1) - 0x100);
        emit_prefixes(g, 4, &table, false);
        emit8(g, 0xd7);
        break;
    }
    case 3:                                            /* nop, pause, 66 nop */
        emit8(g, (const uint8_t[]){ 0x90, 0x66, 0xf3 }[below(g, 3)]);
        if (g->code[g->length - 1] != 0x90)
            emit8(g, 0x90);
        break;
    case 4:                                            /* 0F 1F /0: the long NOP */
        bool address16 = chance(g, 20);
        if (address16)
            emit8(g, 0x67);
        emit8(g, 0x0f), emit8(g, 0x1f);
        emit_any_address(g, 0, address16);
        break;
    default:
        gen_not_neg(g);
        break;
    }
}

/* ---- sensitive, unprivileged instructions (generate_sensitive) ------------------------ */

/*
 * What a process cannot reproduce natively, because the result is the
 * machine's and not the program's: segment selectors (MOV r/m, Sreg; PUSH
 * Sreg), the descriptor-table registers and CR0's low word (SGDT, SIDT,
 * SLDT, STR, SMSW), descriptor checks against the guest's (empty) GDT
 * (LAR, LSL, VERR, VERW: ZF = 0, SDM vol. 2), and at CPL 0 CLI, STI and a
 * POPF that changes IF and IOPL. These are the instructions Popek and
 * Goldberg's condition is about; bt must never let them see the host.
 */
static void gen_sensitive(struct generator *g)
{
    unsigned sreg = below(g, 6);                       /* ES CS SS DS FS GS */
    switch (below(g, g->user_mode ? 6 : 8)) {
    case 0:                                            /* mov r32, sreg (upper half zeroed) */
        emit8(g, 0x8c);
        emit8(g, 0xc0 | sreg << 3 | writable_reg(g, 4));
        return;
    case 1: {                                          /* mov m16, sreg */
        struct operand m = memory_operand(g, 2, 0, 0);
        emit_prefixes(g, 4, &m, false);
        emit8(g, 0x8c);
        emit_modrm(g, &m, sreg);
        return;
    }
    case 2: {                                          /* push sreg */
        static const uint8_t one_byte[4] = { 0x06, 0x0e, 0x16, 0x1e };
        unsigned size = below(g, 4) ? 4 : 2;
        if (!stack_room_below(g, 8))
            return;
        /* A 32-bit push of a selector may write 2 or 4 bytes (SDM vol. 2,
         * PUSH): the slot is zeroed first, so both leave the same memory. */
        static const uint8_t clear_slot[8] = { 0xc7, 0x44, 0x24, 0xfc, 0, 0, 0, 0 };
        for (unsigned i = 0; i < sizeof clear_slot; i++)
            emit8(g, clear_slot[i]);
        emit_prefixes(g, size, NULL, false);
        if (sreg < 4)
            emit8(g, one_byte[sreg]);
        else
            emit8(g, 0x0f), emit8(g, sreg == 4 ? 0xa0 : 0xa8);
        g->esp -= size;
        return;
    }
    case 3: {                                          /* sgdt, sidt m; sldt, str, smsw m16 */
        static const unsigned group[5][2] = { { 1, 0 }, { 1, 1 }, { 0, 0 }, { 0, 1 }, { 1, 4 } };
        const unsigned *form = group[below(g, 5)];
        struct operand m = memory_operand(g, form[0] && form[1] < 2 ? 6 : 2, 0, 0);
        emit_prefixes(g, 4, &m, false);
        emit8(g, 0x0f), emit8(g, form[0]);
        emit_modrm(g, &m, form[1]);
        return;
    }
    case 4:                                            /* smsw r16 */
        emit8(g, 0x66), emit8(g, 0x0f), emit8(g, 0x01);
        emit8(g, 0xe0 | writable_reg(g, 2));
        return;
    case 5: {                                          /* lar/lsl r, r; verr/verw r */
        static const uint16_t selectors[6] = { 0, 0x08, 0x10, 0x23, 0x2b, 0x33 };
        unsigned source = free_reg(g, 0), kind = below(g, 4);
        emit_mov_reg_imm32(g, source, selectors[below(g, 6)]);
        emit8(g, 0x0f);
        if (kind < 2) {
            emit8(g, kind ? 0x03 : 0x02);
            emit8(g, 0xc0 | writable_reg(g, 4) << 3 | source);
        } else {
            emit8(g, 0x00);
            emit8(g, 0xc0 | (kind == 2 ? 4u : 5u) << 3 | source);
        }
        flag_effect(g, EFLAGS_ZF, 0);
        return;
    }
    case 6:                                            /* CPL 0: cli, sti */
        emit8(g, below(g, 2) ? 0xfa : 0xfb);
        return;
    default: {                                         /* CPL 0: popf with IF and IOPL changed */
        if (!stack_room_below(g, 4))
            return;
        uint32_t value = ((uint32_t)next_random(g) &
                          (ARITHMETIC_FLAGS | EFLAGS_DF | EFLAGS_IF | EFLAGS_IOPL | EFLAGS_NT)) |
                         EFLAGS_FIXED;
        emit8(g, 0x68);
        emit32(g, value);
        emit8(g, 0x9d);
        flag_effect(g, ARITHMETIC_FLAGS, 0);
        return;
    }
    }
}

/* ---- forward control flow ------------------------------------------------------------ */

static void generate_item(struct generator *g);

/*
 * Jcc / JMP / JECXZ / LOOPcc over a block of 0-3 items, rel8 or rel32.
 * After the join the flags undefined on either path are undefined. The
 * block has no stack operations, so ESP is the same on both paths.
 */
static void gen_forward_jump(struct generator *g)
{
    unsigned kind = below(g, 10), cc = below(g, 16);
    if (kind < 6)
        need_flags(g, condition_reads(cc));
    else if (kind >= 8)
        need_flags(g, EFLAGS_ZF);                      /* LOOPE/LOOPNE (LOOP too, harmlessly) */
    bool near = kind < 7 && chance(g, 30);
    bool cx = kind >= 7 && chance(g, 20);              /* 67h: JCXZ, LOOP on CX */
    unsigned jump_at = g->length, jump_length = near ? (kind < 6 ? 6 : 5) : 2 + cx;
    g->length += jump_length;
    uint32_t undefined_before = g->undefined;
    g->in_skipped_block = true;
    for (unsigned i = below(g, kind < 7 ? 4 : 3); i > 0; i--)
        generate_item(g);
    g->in_skipped_block = false;
    g->undefined |= undefined_before;
    uint32_t distance = g->length - (jump_at + jump_length);
    if (kind < 7 && !near && distance > 127) {       /* Jcc/JMP: widen to rel32 */
        unsigned wide = kind < 6 ? 6 : 5;
        memmove(g->code + jump_at + wide, g->code + jump_at + 2, distance);
        g->length += wide - 2;
        near = true;
    } else if (!near && distance > 127) {              /* JECXZ/LOOPcc have rel8 only: drop the block */
        g->length = jump_at + jump_length;
        g->undefined = undefined_before;
        distance = 0;
    }
    uint8_t *p = g->code + jump_at;
    if (near) {
        if (kind < 6)
            *p++ = 0x0f, *p++ = (uint8_t)(0x80 + cc);
        else
            *p++ = 0xe9;
        memcpy(p, &distance, 4);
        return;
    }
    static const uint8_t short_opcodes[4] = { 0xeb, 0xe3, 0xe1, 0xe0 };   /* jmp jecxz loope loopne */
    if (cx)
        *p++ = 0x67;
    p[0] = kind < 6 ? (uint8_t)(0x70 + cc) : short_opcodes[kind - 6];
    if (kind == 9 && cc & 1)
        p[0] = 0xe2;                                   /* loop */
    p[1] = (uint8_t)distance;
}

/*
 * LEAVE and ENTER (SDM vol. 2). The stack is 32-bit (SS.B = 1), so LEAVE
 * sets all of ESP from EBP whatever the operand size, then pops (E)BP.
 * ENTER pushes (E)BP, copies level-1 frame pointers from below EBP, pushes
 * the frame pointer if level > 0 (level is taken modulo 32) and subtracts
 * the size; EBP is set up to point into the data area for the copies.
 */
static void gen_enter_leave(struct generator *g)
{
    unsigned size = below(g, 4) ? 4 : 2;
    if (below(g, 2)) {
        unsigned below_esp = below(g, 64);
        if (!stack_room_below(g, 64) || !stack_room_above(g, size))
            return;
        emit_mov_reg_imm32(g, REG_EBP, g->esp - below_esp);
        emit_prefixes(g, size, NULL, false);
        emit8(g, 0xc9);
        g->esp = g->esp - below_esp + size;
        return;
    }
    unsigned level = chance(g, 80) ? below(g, 4) : below(g, 256);
    unsigned masked = level & 31, pushes = (masked ? masked + 1 : 1) * size;
    if (!stack_room_below(g, pushes + 300))
        return;
    unsigned frame = chance(g, 30) ? below(g, 300) : below(g, 16);
    emit_mov_reg_imm32(g, REG_EBP, data_target(g, 4));
    emit_prefixes(g, size, NULL, false);
    emit8(g, 0xc8);
    emit16(g, frame);
    emit8(g, level);
    g->esp -= pushes + frame;
}

/* A forward near transfer whose target is only known once the skipped
 * block is generated: the 32-bit target goes into the placeholder at
 * `placeholder` (a code offset). The block never runs, so the flags are
 * as before it. */
static void skip_block_to_here(struct generator *g, unsigned placeholder)
{
    uint32_t undefined_before = g->undefined;
    g->in_skipped_block = true;
    for (unsigned i = below(g, 3); i > 0; i--)
        generate_item(g);
    g->in_skipped_block = false;
    g->undefined = undefined_before;
    uint32_t target = CODE_BASE + g->length;
    memcpy(g->code + placeholder, &target, 4);
}

/*
 * CALL rel32, RET and RET imm16 to a pushed address, JMP/CALL through a
 * register or a memory operand (FF /2 and /4): all forward, over a block.
 * A CALL pushes its return address, which is the same on both sides (the
 * code is at the same address).
 */
static void gen_near_transfer(struct generator *g)
{
    unsigned kind = below(g, 6), placeholder;
    if (!stack_room_below(g, 8) || !stack_room_above(g, 600))
        return;
    switch (kind) {
    case 0:                                            /* call rel32 */
        emit8(g, 0xe8);
        placeholder = g->length;
        emit32(g, 0);
        skip_block_to_here(g, placeholder);
        uint32_t relative;
        memcpy(&relative, g->code + placeholder, 4);
        relative -= CODE_BASE + placeholder + 4;
        memcpy(g->code + placeholder, &relative, 4);
        g->esp -= 4;
        return;
    case 1: case 2: {                                  /* push target; ret / ret imm16 */
        unsigned pop_bytes = kind == 2 ? below(g, 512) : 0;
        emit8(g, 0x68);
        placeholder = g->length;
        emit32(g, 0);
        emit8(g, kind == 2 ? 0xc2 : 0xc3);
        if (kind == 2)
            emit16(g, pop_bytes);
        skip_block_to_here(g, placeholder);
        g->esp += pop_bytes;
        return;
    }
    case 3: case 4: {                                  /* mov reg, target; jmp/call reg */
        unsigned reg = free_reg(g, 0);
        emit8(g, 0xb8 + reg);
        placeholder = g->length;
        emit32(g, 0);
        emit8(g, 0xff);
        emit8(g, 0xc0 | (kind == 3 ? 4u : 2u) << 3 | reg);
        skip_block_to_here(g, placeholder);
        break;
    }
    default: {                                         /* mov [m], target; jmp/call [m] */
        struct operand m = memory_operand(g, 4, 0, 0);
        bool call = below(g, 2);
        emit_prefixes(g, 4, &m, false);
        emit8(g, 0xc7);
        emit_modrm(g, &m, 0);
        placeholder = g->length;
        emit32(g, 0);
        emit_prefixes(g, 4, &m, false);
        emit8(g, 0xff);
        emit_modrm(g, &m, call ? 2 : 4);
        skip_block_to_here(g, placeholder);
        if (call)
            g->esp -= 4;
        return;
    }
    }
    if (kind == 4)
        g->esp -= 4;
}

/* ---- a deliberate exception at the end ------------------------------------------------ */

/*
 * The last item of some sequences raises an exception on purpose: #DE
 * (divide by zero, a quotient too large for DIV or IDIV, AAM 0), #BR
 * (BOUND out of range) or #UD (UD2). Both sides must report the same
 * vector at the same EIP with the state as it was before the instruction
 * (a fault leaves no architectural effect, SDM vol. 3, 6.5).
 */
static void gen_divide_fault(struct generator *g)
{
    unsigned size = random_size(g), kind = below(g, 3);
    unsigned implicit = 1u << REG_EAX | 1u << REG_EDX;
    struct operand divisor = chance(g, 50) ? memory_operand(g, size, implicit, 0)
                                           : (struct operand){ .reg = free_reg(g, implicit) };
    uint32_t mask = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    uint32_t d = kind == 0 ? 0 : kind == 2 ? mask : 1 + below(g, 100);
    set_operand(g, &divisor, size, d);
    if (kind == 1) {                                   /* high half >= divisor */
        uint32_t high = d + (uint32_t)(next_random(g) % (mask - d + 1));
        if (size == 1)
            emit8(g, 0xb4), emit8(g, high);
        else
            emit_prefixes(g, size, NULL, false), emit8(g, 0xba), emit_immediate(g, size, high);
    } else if (kind == 2) {                            /* the most negative value / -1 */
        emit_mov_reg_imm32(g, REG_EAX, (uint32_t)next_random(g) & ~mask);
        emit_prefixes(g, size == 4 ? 4 : 2, NULL, false);
        emit8(g, 0xb8), emit_immediate(g, size == 4 ? 4 : 2, (mask >> 1) + 1);  /* mov (e)ax, min */
        emit_prefixes(g, size == 1 ? 2 : size, NULL, false);
        emit8(g, size == 1 ? 0x98 : 0x99);
        if (size == 1)                                 /* cbw of 0x80 gives 0xff80 */
            emit8(g, 0xb0), emit8(g, 0x80);
    }
    emit_prefixes(g, size, &divisor, false);
    emit8(g, sized(0xf6, size));
    bool signed_divide = kind == 2 || (kind == 0 && below(g, 2));   /* /7 IDIV, /6 DIV */
    emit_modrm(g, &divisor, signed_divide ? 7 : 6);
}

/* LOCK on an instruction that is not a read-modify-write of memory: #UD
 * (SDM vol. 2 LOCK). */
static void gen_bad_lock(struct generator *g)
{
    emit8(g, 0xf0);
    switch (below(g, 3)) {
    case 0: emit8(g, 0x01), emit8(g, 0xc0 | below(g, 64)); break;      /* add r, r */
    case 1: emit8(g, 0x8b), emit8(g, 0xc0 | below(g, 64)); break;      /* mov r, r */
    default: emit8(g, 0x90); break;                                    /* nop */
    }
}

/* More than 15 bytes is #GP(0) (SDM vol. 2, 2.3.11); exactly 15 is fine
 * and is followed by a UD2 to end in an exception either way. */
static void gen_long_instruction(struct generator *g)
{
    static const uint8_t harmless[3] = { 0x3e, 0x26, 0x36 };
    bool too_long = below(g, 2);
    unsigned prefixes = too_long ? 11 + below(g, 4) : 10;
    for (unsigned i = 0; i < prefixes; i++)
        emit8(g, harmless[below(g, 3)]);               /* segment overrides: flat anyway */
    emit8(g, 0x05);                                    /* add eax, imm32 */
    emit32(g, interesting_value(g));
    if (!too_long) {
        flag_effect(g, ARITHMETIC_FLAGS, 0);
        emit8(g, 0x0f), emit8(g, 0x0b);
    }
}

/* At CPL 3 with IOPL 0 every privileged or I/O instruction is #GP(0)
 * (SDM vol. 3, 5.9 and vol. 1, 18.2): the interpreter must say so too.
 * The TSS has no I/O bitmap on either side. */
static void gen_privileged(struct generator *g)
{
    static const uint8_t one_byte[] = { 0xfa, 0xfb, 0xf4, 0xec, 0xed, 0xee, 0xef, 0x6c, 0x6e };
    static const uint8_t two_byte[][2] = {
        { 0x20, 0xc0 }, { 0x22, 0xd8 }, { 0x00, 0xd0 }, { 0x00, 0xd8 }, { 0x06, 0 }, { 0x08, 0 },
        { 0x09, 0 }, { 0x30, 0 }, { 0x32, 0 }, { 0x01, 0xf0 }, { 0x23, 0xf8 }, { 0x21, 0xf8 },
    };
    unsigned pick = below(g, 12 + sizeof one_byte);
    if (pick < sizeof one_byte) {                      /* cli sti hlt in out ins outs */
        emit8(g, one_byte[pick]);
    } else if (pick < sizeof one_byte + 2) {           /* in/out with an immediate port */
        emit8(g, pick == sizeof one_byte ? 0xe4 : 0xe6);
        emit8(g, below(g, 256));
    } else if (pick < sizeof one_byte + 4) {           /* lgdt/lidt/invlpg m: 0F 01 /2 /3 /7 */
        static const unsigned group7[3] = { 2, 3, 7 };
        struct operand m = memory_operand(g, 6, 0, 0);
        emit_prefixes(g, 4, &m, false);
        emit8(g, 0x0f), emit8(g, 0x01);
        emit_modrm(g, &m, group7[below(g, 3)]);
    } else {                                           /* mov cr/dr, lldt ltr clts invd wbinvd wrmsr rdmsr lmsw */
        const uint8_t *op = two_byte[below(g, sizeof two_byte / sizeof two_byte[0])];
        emit8(g, 0x0f), emit8(g, op[0]);
        if (op[1])
            emit8(g, op[1]);
    }
}

/* BOUND with the index just outside [low, high]: #BR (SDM vol. 2 BOUND). */
static void gen_bound_fault(struct generator *g)
{
    uint32_t address = data_target(g, 8);
    struct operand lower = { .memory = true }, upper = { .memory = true };
    absolute_form(&lower, address);
    absolute_form(&upper, address + 4);
    uint32_t low = below(g, 1000), high = low + below(g, 1000);
    unsigned reg = free_reg(g, 0);
    set_operand(g, &lower, 4, low);
    set_operand(g, &upper, 4, high);
    emit_mov_reg_imm32(g, reg, chance(g, 50) ? high + 1 + below(g, 100) : low - 1 - below(g, 100));
    emit8(g, 0x62);
    emit_modrm(g, &lower, reg);
}

static void gen_fault(struct generator *g)
{
    if (g->user_mode && chance(g, 40)) {
        gen_privileged(g);
        return;
    }
    switch (below(g, 8)) {
    case 6:
        gen_bad_lock(g);
        break;
    case 7:
        gen_long_instruction(g);
        break;
    case 0: case 1: case 2:
        gen_divide_fault(g);
        break;
    case 3:
        emit8(g, 0xd4), emit8(g, 0);                   /* aam 0 */
        break;
    case 4:
        gen_bound_fault(g);
        break;
    default:
        emit8(g, 0x0f), emit8(g, 0x0b);                /* ud2 */
        break;
    }
}

/* ---- items ----------------------------------------------------------------------------- */

struct item_kind {
    void (*generate)(struct generator *g);
    unsigned weight;
    bool uses_stack;            /* not allowed in a skipped block */
    bool jumps;                 /* no nesting */
    bool sensitive;             /* only with generate_sensitive */
};

static const struct item_kind item_kinds[] = {
    { gen_alu, 14, false, false, false },          { gen_inc_dec, 4, false, false, false },
    { gen_not_neg, 3, false, false, false },       { gen_test, 3, false, false, false },
    { gen_shift, 12, false, false, false },        { gen_double_shift, 5, false, false, false },
    { gen_mul, 5, false, false, false },           { gen_divide, 4, false, false, false },
    { gen_string, 6, false, false, false },        { gen_setcc, 4, false, false, false },
    { gen_cmov, 4, false, false, false },          { gen_lahf_sahf, 3, false, false, false },
    { gen_flag_instruction, 3, false, false, false }, { gen_pushf_popf, 3, true, false, false },
    { gen_push, 3, true, false, false },           { gen_pop, 3, true, false, false },
    { gen_mov, 5, false, false, false },           { gen_move_extend, 3, false, false, false },
    { gen_xchg, 2, false, false, false },          { gen_lea, 3, false, false, false },
    { gen_bit_test, 4, false, false, false },      { gen_bit_scan, 2, false, false, false },
    { gen_decimal, 3, false, false, false },       { gen_cmpxchg, 2, false, false, false },
    { gen_xadd, 2, false, false, false },          { gen_cmpxchg8b, 1, false, false, false },
    { gen_misc, 4, false, false, false },          { gen_forward_jump, 4, false, true, false },
    { gen_enter_leave, 2, true, false, false },    { gen_bound_arpl, 1, false, false, false },
    { gen_near_transfer, 3, true, true, false },   { gen_sensitive, 6, true, false, true },
};
#define ITEM_KIND_COUNT (sizeof item_kinds / sizeof item_kinds[0])

/* A kind's weight: 0 for the sensitive ones unless asked for, so that
 * without generate_sensitive a seed gives the sequences it always gave. */
static unsigned weight(unsigned kind)
{
    return item_kinds[kind].sensitive && !generate_sensitive ? 0 : item_kinds[kind].weight;
}

static void generate_item(struct generator *g)
{
    unsigned total = 0;
    for (unsigned i = 0; i < ITEM_KIND_COUNT; i++)
        total += weight(i);
    for (;;) {
        unsigned pick = below(g, total), i = 0;
        while (pick >= weight(i))
            pick -= weight(i++);
        if (g->in_skipped_block && (item_kinds[i].uses_stack || item_kinds[i].jumps))
            continue;
        item_kinds[i].generate(g);
        return;
    }
}

static void random_initial_state(struct generator *g, struct machine_state *state)
{
    for (unsigned reg = 0; reg < 8; reg++)
        state->regs[reg] = interesting_value(g);
    state->regs[REG_ESP] = STACK_INITIAL;
    state->eflags = ((uint32_t)next_random(g) & ARITHMETIC_FLAGS) | EFLAGS_FIXED | EFLAGS_IF |
                    (chance(g, 20) ? EFLAGS_DF : 0);
}

/* The longest item (a forward jump over three items with setups) stays
 * well below this. */
#define ITEM_ROOM 400u

void generate_sequence(uint64_t seed, unsigned max_items, struct sequence *sequence,
                       uint8_t data[DATA_BUFFER_SIZE])
{
    struct generator g = { .rng = seed, .code = sequence->code, .esp = STACK_INITIAL };
    memset(sequence, 0, sizeof *sequence);
    for (unsigned i = 0; i < DATA_BUFFER_SIZE; i += 8) {
        uint64_t bytes = next_random(&g);
        memcpy(data + i, &bytes, 8);
    }
    random_initial_state(&g, &sequence->initial);
    sequence->interp.paging = (enum interp_paging)below(&g, PAGING_MODES);
    sequence->interp.user_mode = g.user_mode = below(&g, 2);
    if (sequence->interp.paging == PAGING_4K && below(&g, 2))
        sequence->interp.read_only_page = below(&g, 3) ? READ_ONLY_DATA_PAGE : READ_ONLY_STACK_PAGE,
        sequence->interp.page_absent = below(&g, 3) == 0;
    if (max_items > SEQUENCE_MAX_ITEMS - 1)
        max_items = SEQUENCE_MAX_ITEMS - 1;           /* room for the exception item */
    unsigned items = 1 + below(&g, max_items);
    bool fault = chance(&g, generate_fault_percent);
    while (sequence->item_count < items + fault && g.length + ITEM_ROOM < SEQUENCE_MAX_BYTES) {
        g.undefined_within = g.undefined;
        if (fault && sequence->item_count + 1 == items + fault)
            gen_fault(&g);
        else
            generate_item(&g);
        sequence->item_end[sequence->item_count] = g.length;
        sequence->undefined_after[sequence->item_count] = g.undefined;
        sequence->undefined_within[sequence->item_count] = g.undefined_within | g.undefined;
        sequence->item_count++;
    }
    sequence->length = g.length;
}
