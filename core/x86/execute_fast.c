/*
 * execute_fast.c - handlers specialised at decode time for the forms that
 * dominate compiled code: 32-bit register and immediate ALU operations
 * (one handler per operation, so no switch on the ALU operation at run
 * time), Jcc with the condition built in (flags_condition() then folds to
 * one comparison after CMP/SUB/TEST), shifts by an immediate, NEG/NOT/MOV
 * on registers, MOV to and from [base + displacement], IMUL, near CALL/RET,
 * read-modify-write ALU operations on 32-bit memory, and the byte forms
 * compiled code uses most (ALU/TEST on r/m8, MOV stores of a byte).
 *
 * Each one does exactly what the generic handler in execute.c does for
 * that form - same result, same lazy-flags record, same faults in the same
 * order - only with the decode-time facts (operand size 4, register
 * operand, which operation) turned into constants. x86_select_fast_handler
 * returns NULL for everything else, and x86_select_handler then picks the
 * generic handler.
 */
#include "execute_internal.h"

#define HANDLER(name) \
    static enum x86_step name(struct x86_executor *executor, const struct x86_instruction *insn)

/* ---- ALU: ADD SUB CMP AND OR XOR TEST on 32-bit operands -------------------- */

/* Operation bodies: a and b in, the result r and the flags record out.
 * Logic operations record FLAGS_LOGIC, like alu_binary(). */
#define OP_ADD(a, b) ((a) + (b))
#define OP_SUB(a, b) ((a) - (b))
#define OP_AND(a, b) ((a) & (b))
#define OP_OR(a, b) ((a) | (b))
#define OP_XOR(a, b) ((a) ^ (b))

/*
 * One handler per (operation, form). DEST is the destination register
 * number, SOURCE the source operand (read first: a memory source may fault
 * before anything changes), STORE whether the result is written back (not
 * for CMP and TEST).
 */
#define ALU_HANDLER(name, OPERATION, FLAGS, STORE, DEST, SOURCE)                 \
    HANDLER(name)                                                                \
    {                                                                            \
        struct cpu *cpu = executor->cpu;                                         \
        uint32_t b = (SOURCE), a = cpu->regs[DEST], r = OPERATION(a, b);         \
        if (STORE)                                                               \
            cpu->regs[DEST] = r;                                                 \
        flags_record(&executor->flags, FLAGS, 4, r, a, b);                       \
        return STEP_DONE;                                                        \
    }

#define SOURCE_REG (cpu->regs[insn->reg])
#define SOURCE_RM (cpu->regs[insn->rm])
#define SOURCE_IMM (insn->immediate)
#define SOURCE_MEM (memory_read(executor, insn->segment, effective_address(cpu, insn), 4))

/* The five forms of one operation: r/m(reg) op= reg, r/m(reg) op= imm,
 * reg op= r/m(reg), reg op= r/m(memory), EAX op= imm. */
#define ALU_FORMS(op, OPERATION, FLAGS, STORE)                                       \
    ALU_HANDLER(h_##op##_rm_reg, OPERATION, FLAGS, STORE, insn->rm, SOURCE_REG)     \
    ALU_HANDLER(h_##op##_rm_imm, OPERATION, FLAGS, STORE, insn->rm, SOURCE_IMM)     \
    ALU_HANDLER(h_##op##_reg_rm, OPERATION, FLAGS, STORE, insn->reg, SOURCE_RM)     \
    ALU_HANDLER(h_##op##_reg_mem, OPERATION, FLAGS, STORE, insn->reg, SOURCE_MEM)   \
    ALU_HANDLER(h_##op##_acc_imm, OPERATION, FLAGS, STORE, REG_EAX, SOURCE_IMM)

ALU_FORMS(add, OP_ADD, FLAGS_ADD, true)
ALU_FORMS(sub, OP_SUB, FLAGS_SUB, true)
ALU_FORMS(cmp, OP_SUB, FLAGS_SUB, false)
ALU_FORMS(and, OP_AND, FLAGS_LOGIC, true)
ALU_FORMS(or, OP_OR, FLAGS_LOGIC, true)
ALU_FORMS(xor, OP_XOR, FLAGS_LOGIC, true)
ALU_HANDLER(h_test_rm_reg, OP_AND, FLAGS_LOGIC, false, insn->rm, SOURCE_REG)
ALU_HANDLER(h_test_rm_imm, OP_AND, FLAGS_LOGIC, false, insn->rm, SOURCE_IMM)
ALU_HANDLER(h_test_acc_imm, OP_AND, FLAGS_LOGIC, false, REG_EAX, SOURCE_IMM)

/* A read-modify-write operand is read with write intent
 * (memory_read_for_update, execute_access.h); CMP and TEST only read.
 * Always inlined, like the helpers below: with the size and `store`
 * constant at each use the access folds to its fast path, where a call
 * would cost as much as the rest of the handler. */
#define ALWAYS_INLINE inline __attribute__((always_inline))
static ALWAYS_INLINE uint32_t read_for_update(struct x86_executor *executor, const struct x86_instruction *insn,
                                       uint32_t address, unsigned size, bool store)
{
    return store ? memory_read_for_update(executor, insn->segment, address, size)
                 : memory_read(executor, insn->segment, address, size);
}

/*
 * The read-modify-write forms, r/m(memory) op= reg or imm: read, compute,
 * write back, then record the flags - the order of alu_rm(), so that a
 * faulting write leaves the flags as they were.
 */
#define ALU_MEM_HANDLER(name, OPERATION, FLAGS, STORE, SOURCE)                   \
    HANDLER(name)                                                                \
    {                                                                            \
        struct cpu *cpu = executor->cpu;                                         \
        uint32_t address = effective_address(cpu, insn), b = (SOURCE);           \
        uint32_t a = read_for_update(executor, insn, address, 4, STORE);         \
        uint32_t r = OPERATION(a, b);                                            \
        if (STORE)                                                               \
            memory_write(executor, insn->segment, address, 4, r);                \
        flags_record(&executor->flags, FLAGS, 4, r, a, b);                       \
        return STEP_DONE;                                                        \
    }

#define ALU_MEM_FORMS(op, OPERATION, FLAGS, STORE)                                   \
    ALU_MEM_HANDLER(h_##op##_mem_reg, OPERATION, FLAGS, STORE, SOURCE_REG)          \
    ALU_MEM_HANDLER(h_##op##_mem_imm, OPERATION, FLAGS, STORE, SOURCE_IMM)

ALU_MEM_FORMS(add, OP_ADD, FLAGS_ADD, true)
ALU_MEM_FORMS(sub, OP_SUB, FLAGS_SUB, true)
ALU_MEM_FORMS(cmp, OP_SUB, FLAGS_SUB, false)
ALU_MEM_FORMS(and, OP_AND, FLAGS_LOGIC, true)
ALU_MEM_FORMS(or, OP_OR, FLAGS_LOGIC, true)
ALU_MEM_FORMS(xor, OP_XOR, FLAGS_LOGIC, true)

/* Indexed by enum x86_alu; NULL for ADC and SBB (they need the carry). */
struct alu_forms {
    x86_handler rm_reg, rm_imm, reg_rm, reg_mem, acc_imm, mem_reg, mem_imm;
};
#define FORMS(op) { h_##op##_rm_reg, h_##op##_rm_imm, h_##op##_reg_rm, h_##op##_reg_mem, \
                    h_##op##_acc_imm, h_##op##_mem_reg, h_##op##_mem_imm }
static const struct alu_forms alu_forms[8] = {
    [ALU_ADD] = FORMS(add), [ALU_SUB] = FORMS(sub), [ALU_CMP] = FORMS(cmp),
    [ALU_AND] = FORMS(and), [ALU_OR] = FORMS(or), [ALU_XOR] = FORMS(xor),
};

static x86_handler select_alu(const struct x86_instruction *insn)
{
    const struct alu_forms *forms = &alu_forms[insn->sub & 7];
    switch (insn->operation) {
    case OP_ALU_RM_REG: return insn->has_memory ? forms->mem_reg : forms->rm_reg;
    case OP_ALU_RM_IMM: return insn->has_memory ? forms->mem_imm : forms->rm_imm;
    case OP_ALU_REG_RM: return insn->has_memory ? forms->reg_mem : forms->reg_rm;
    case OP_ALU_ACC_IMM: return forms->acc_imm;
    case OP_TEST_RM_REG: return insn->has_memory ? NULL : h_test_rm_reg;
    case OP_TEST_RM_IMM: return insn->has_memory ? NULL : h_test_rm_imm;
    case OP_TEST_ACC_IMM: return h_test_acc_imm;
    default: return NULL;
    }
}

/* ---- Jcc with a 32-bit displacement, one handler per condition --------------- */

/* Taken: jump to EIP + displacement (#GP(0) past the CS limit). */
static inline enum x86_step jcc32_jump(struct x86_executor *executor,
                                       const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    uint32_t target = cpu->eip + insn->immediate;
    if (target > cpu->segments[SEG_CS].limit)
        x86_raise(executor->emulator, EXC_GP, 0);
    cpu->eip = target;
    return STEP_DONE;
}

/* Any condition after any operation; out of line, so that the handlers
 * below need no call of flags_condition_slow (and no saved registers) on
 * their common path. */
static __attribute__((noinline)) enum x86_step jcc32_general(struct x86_executor *executor,
                                                             const struct x86_instruction *insn,
                                                             unsigned condition)
{
    if (flags_condition(&executor->flags, executor->cpu->eflags, condition))
        return jcc32_jump(executor, insn);
    return STEP_DONE;
}

/* After SUB/CMP and logic operations flags_condition() folds to a compare
 * for the common conditions; everything else goes to jcc32_general. */
#define JCC_HANDLER(condition)                                                   \
    HANDLER(h_jcc32_##condition)                                                 \
    {                                                                            \
        const struct lazy_flags *flags = &executor->flags;                       \
        if (flags->operation != FLAGS_SUB && flags->operation != FLAGS_LOGIC)    \
            return jcc32_general(executor, insn, condition);                     \
        if (flags_condition(flags, executor->cpu->eflags, condition))            \
            return jcc32_jump(executor, insn);                                   \
        return STEP_DONE;                                                        \
    }

JCC_HANDLER(CC_O) JCC_HANDLER(CC_NO) JCC_HANDLER(CC_B) JCC_HANDLER(CC_AE)
JCC_HANDLER(CC_E) JCC_HANDLER(CC_NE) JCC_HANDLER(CC_BE) JCC_HANDLER(CC_A)
JCC_HANDLER(CC_S) JCC_HANDLER(CC_NS) JCC_HANDLER(CC_P) JCC_HANDLER(CC_NP)
JCC_HANDLER(CC_L) JCC_HANDLER(CC_GE) JCC_HANDLER(CC_LE) JCC_HANDLER(CC_G)

static const x86_handler jcc32[16] = {
    h_jcc32_CC_O, h_jcc32_CC_NO, h_jcc32_CC_B, h_jcc32_CC_AE,
    h_jcc32_CC_E, h_jcc32_CC_NE, h_jcc32_CC_BE, h_jcc32_CC_A,
    h_jcc32_CC_S, h_jcc32_CC_NS, h_jcc32_CC_P, h_jcc32_CC_NP,
    h_jcc32_CC_L, h_jcc32_CC_GE, h_jcc32_CC_LE, h_jcc32_CC_G,
};

/* ---- shifts of a 32-bit register by an immediate (alu_shift, specialised) --- */

/* A masked count of 0 changes neither the register nor the flags. */
static ALWAYS_INLINE void record_shift(struct x86_executor *executor, uint32_t result, bool carry, bool overflow)
{
    flags_record(&executor->flags, FLAGS_EXPLICIT, 4, result, 0, 0);
    executor->flags.explicit_bits = (carry ? EFLAGS_CF : 0) | (overflow ? EFLAGS_OF : 0);
}

HANDLER(h_shl_reg32_imm)
{
    struct cpu *cpu = executor->cpu;
    unsigned count = insn->immediate & 31;
    uint32_t value = cpu->regs[insn->rm];
    if (count == 0)
        return STEP_DONE;
    uint32_t result = value << count;
    bool carry = (value >> (32 - count)) & 1;
    cpu->regs[insn->rm] = result;
    record_shift(executor, result, carry, (result >> 31) != carry);
    return STEP_DONE;
}

HANDLER(h_shr_reg32_imm)
{
    struct cpu *cpu = executor->cpu;
    unsigned count = insn->immediate & 31;
    uint32_t value = cpu->regs[insn->rm];
    if (count == 0)
        return STEP_DONE;
    uint32_t result = value >> count;
    cpu->regs[insn->rm] = result;
    record_shift(executor, result, (value >> (count - 1)) & 1, value >> 31);
    return STEP_DONE;
}

HANDLER(h_sar_reg32_imm)
{
    struct cpu *cpu = executor->cpu;
    unsigned count = insn->immediate & 31;
    int32_t value = (int32_t)cpu->regs[insn->rm];
    if (count == 0)
        return STEP_DONE;
    uint32_t result = (uint32_t)(value >> count);
    cpu->regs[insn->rm] = result;
    record_shift(executor, result, (uint32_t)(value >> (count - 1)) & 1, false);
    return STEP_DONE;
}

static x86_handler select_shift(const struct x86_instruction *insn)
{
    if (insn->has_memory)
        return NULL;
    switch (insn->sub) {
    case SHIFT_SHL: case SHIFT_SAL: return h_shl_reg32_imm;
    case SHIFT_SHR: return h_shr_reg32_imm;
    case SHIFT_SAR: return h_sar_reg32_imm;
    default: return NULL;
    }
}

/* ---- register moves, NEG, NOT ----------------------------------------------- */

HANDLER(h_mov_reg32_imm) { executor->cpu->regs[insn->reg] = insn->immediate; return STEP_DONE; }

HANDLER(h_mov_mem32_imm)
{
    struct cpu *cpu = executor->cpu;
    memory_write(executor, insn->segment, effective_address(cpu, insn), 4, insn->immediate);
    return STEP_DONE;
}

HANDLER(h_lea32) { executor->cpu->regs[insn->reg] = effective_address(executor->cpu, insn); return STEP_DONE; }

HANDLER(h_neg_reg32)
{
    struct cpu *cpu = executor->cpu;
    uint32_t value = cpu->regs[insn->rm], result = 0u - value;
    cpu->regs[insn->rm] = result;
    flags_record(&executor->flags, FLAGS_SUB, 4, result, 0, value);
    return STEP_DONE;
}

HANDLER(h_not_reg32) { executor->cpu->regs[insn->rm] = ~executor->cpu->regs[insn->rm]; return STEP_DONE; }

/* ---- MOV between a register and [base + displacement], 32-bit addressing ---- */

/* The commonest memory operand of compiled code (locals, fields, globals
 * through a pointer): effective_address() without the index, the scale and
 * the 16-bit wrap. */
static inline int base_only(const struct x86_instruction *insn)
{
    return insn->has_memory && insn->address_size == 4 && insn->index < 0 && insn->base >= 0;
}

HANDLER(h_mov_reg32_base)
{
    struct cpu *cpu = executor->cpu;
    cpu->regs[insn->reg] = memory_read(executor, insn->segment,
                                       cpu->regs[insn->base] + insn->displacement, 4);
    return STEP_DONE;
}

HANDLER(h_mov_base_reg32)
{
    struct cpu *cpu = executor->cpu;
    memory_write(executor, insn->segment, cpu->regs[insn->base] + insn->displacement, 4,
                 cpu->regs[insn->reg]);
    return STEP_DONE;
}

/* ---- two- and three-operand IMUL, 32-bit (alu_imul, specialised) ------------ */

/* reg = r/m * factor, truncated; CF = OF = the signed product does not fit. */
static ALWAYS_INLINE void imul32(struct x86_executor *executor, const struct x86_instruction *insn,
                   uint32_t factor)
{
    struct cpu *cpu = executor->cpu;
    uint32_t source = insn->has_memory
                          ? memory_read(executor, insn->segment, effective_address(cpu, insn), 4)
                          : cpu->regs[insn->rm];
    int64_t product = (int64_t)(int32_t)source * (int64_t)(int32_t)factor;
    uint32_t low = (uint32_t)product;
    bool overflow = (int64_t)(int32_t)low != product;
    flags_record(&executor->flags, FLAGS_EXPLICIT, 4, low, 0, 0);
    executor->flags.explicit_bits = overflow ? EFLAGS_CF | EFLAGS_OF : 0;
    cpu->regs[insn->reg] = low;
}

HANDLER(h_imul_reg32_rm) { imul32(executor, insn, executor->cpu->regs[insn->reg]); return STEP_DONE; }
HANDLER(h_imul_reg32_rm_imm) { imul32(executor, insn, insn->immediate); return STEP_DONE; }

/* ---- near CALL and RET with a 32-bit operand size ---------------------------- */

/* The generic order: the target is checked against the CS limit, then the
 * return address pushed (a faulting push leaves ESP unchanged). */
HANDLER(h_call_rel32)
{
    struct cpu *cpu = executor->cpu;
    uint32_t return_eip = cpu->eip, target = return_eip + insn->immediate;
    if (target > cpu->segments[SEG_CS].limit)
        x86_raise(executor->emulator, EXC_GP, 0);
    stack_push(executor, 4, return_eip);
    cpu->eip = target;
    return STEP_DONE;
}

HANDLER(h_ret_near32)
{
    struct cpu *cpu = executor->cpu;
    uint32_t target = stack_peek(executor, 4, 0);
    if (target > cpu->segments[SEG_CS].limit)
        x86_raise(executor->emulator, EXC_GP, 0);
    cpu->eip = target;
    cpu->regs[REG_ESP] = stack_moved(cpu, cpu->regs[REG_ESP], 4 + insn->immediate);
    return STEP_DONE;
}

/* ---- byte stores: MOV r/m8(memory), reg8 / imm8 ----------------------------- */

HANDLER(h_mov_mem8_reg)
{
    struct cpu *cpu = executor->cpu;
    memory_write(executor, insn->segment, effective_address(cpu, insn), 1,
                 register_read(cpu, 1, insn->reg));
    return STEP_DONE;
}

HANDLER(h_mov_mem8_imm)
{
    memory_write(executor, insn->segment, effective_address(executor->cpu, insn), 1,
                 insn->immediate);
    return STEP_DONE;
}

/* ---- ALU on r/m8, by reg8 or imm8 (alu_rm() with size 1) -------------------- */

#define ALU8_HANDLER(name, OPERATION, FLAGS, STORE, SOURCE)                      \
    HANDLER(name)                                                                \
    {                                                                            \
        struct cpu *cpu = executor->cpu;                                         \
        uint32_t b = (SOURCE) & 0xff, a, r;                                      \
        if (insn->has_memory) {                                                  \
            uint32_t address = effective_address(cpu, insn);                     \
            a = read_for_update(executor, insn, address, 1, STORE);              \
            r = OPERATION(a, b) & 0xff;                                          \
            if (STORE)                                                           \
                memory_write(executor, insn->segment, address, 1, r);            \
        } else {                                                                 \
            a = register_read(cpu, 1, insn->rm);                                 \
            r = OPERATION(a, b) & 0xff;                                          \
            if (STORE)                                                           \
                register_write(cpu, 1, insn->rm, r);                             \
        }                                                                        \
        flags_record(&executor->flags, FLAGS, 1, r, a, b);                       \
        return STEP_DONE;                                                        \
    }

#define SOURCE_REG8 (register_read(cpu, 1, insn->reg))
#define ALU8_FORMS(op, OPERATION, FLAGS, STORE)                                      \
    ALU8_HANDLER(h_##op##8_rm_reg, OPERATION, FLAGS, STORE, SOURCE_REG8)            \
    ALU8_HANDLER(h_##op##8_rm_imm, OPERATION, FLAGS, STORE, SOURCE_IMM)

ALU8_FORMS(add, OP_ADD, FLAGS_ADD, true)
ALU8_FORMS(sub, OP_SUB, FLAGS_SUB, true)
ALU8_FORMS(cmp, OP_SUB, FLAGS_SUB, false)
ALU8_FORMS(and, OP_AND, FLAGS_LOGIC, true)
ALU8_FORMS(or, OP_OR, FLAGS_LOGIC, true)
ALU8_FORMS(xor, OP_XOR, FLAGS_LOGIC, true)
ALU8_FORMS(test, OP_AND, FLAGS_LOGIC, false)

/* Indexed by enum x86_alu; NULL for ADC and SBB. */
static const x86_handler alu8_rm_reg[8] = {
    [ALU_ADD] = h_add8_rm_reg, [ALU_SUB] = h_sub8_rm_reg, [ALU_CMP] = h_cmp8_rm_reg,
    [ALU_AND] = h_and8_rm_reg, [ALU_OR] = h_or8_rm_reg, [ALU_XOR] = h_xor8_rm_reg,
};
static const x86_handler alu8_rm_imm[8] = {
    [ALU_ADD] = h_add8_rm_imm, [ALU_SUB] = h_sub8_rm_imm, [ALU_CMP] = h_cmp8_rm_imm,
    [ALU_AND] = h_and8_rm_imm, [ALU_OR] = h_or8_rm_imm, [ALU_XOR] = h_xor8_rm_imm,
};

static x86_handler select_byte(const struct x86_instruction *insn)
{
    switch (insn->operation) {
    case OP_MOV_RM_REG: return insn->has_memory ? h_mov_mem8_reg : NULL;
    case OP_MOV_RM_IMM: return insn->has_memory ? h_mov_mem8_imm : NULL;
    case OP_ALU_RM_REG: return alu8_rm_reg[insn->sub & 7];
    case OP_ALU_RM_IMM: return alu8_rm_imm[insn->sub & 7];
    case OP_TEST_RM_REG: return h_test8_rm_reg;
    case OP_TEST_RM_IMM: return h_test8_rm_imm;
    default: return NULL;
    }
}

x86_handler x86_select_fast_handler(const struct x86_instruction *insn)
{
    if (insn->operand_size == 1)
        return select_byte(insn);
    if (insn->operand_size != 4)
        return NULL;
    switch (insn->operation) {
    case OP_ALU_RM_REG: case OP_ALU_RM_IMM: case OP_ALU_REG_RM: case OP_ALU_ACC_IMM:
    case OP_TEST_RM_REG: case OP_TEST_RM_IMM: case OP_TEST_ACC_IMM:
        return select_alu(insn);
    case OP_JCC: return jcc32[insn->sub & 15];
    case OP_SHIFT: return select_shift(insn);
    case OP_MOV_REG_IMM: return h_mov_reg32_imm;
    case OP_MOV_REG_RM: return base_only(insn) ? h_mov_reg32_base : NULL;
    case OP_MOV_RM_REG: return base_only(insn) ? h_mov_base_reg32 : NULL;
    case OP_MOV_RM_IMM: return insn->has_memory ? h_mov_mem32_imm : NULL;
    case OP_LEA: return h_lea32;
    case OP_NEG: return insn->has_memory ? NULL : h_neg_reg32;
    case OP_NOT: return insn->has_memory ? NULL : h_not_reg32;
    case OP_IMUL_REG_RM: return h_imul_reg32_rm;
    case OP_IMUL_REG_RM_IMM: return h_imul_reg32_rm_imm;
    case OP_CALL_REL: return h_call_rel32;
    case OP_RET_NEAR: return h_ret_near32;
    default: return NULL;
    }
}

void x86_executor_note_flat_segments(struct x86_executor *executor)
{
    uint8_t reads = 0, writes = 0;
    for (int number = 0; number < SEG_COUNT; number++) {
        const struct segment *segment = &executor->cpu->segments[number];
        if (segment->base != 0 || segment->limit != 0xffffffffu)
            continue;
        if (segment_fast_ok(segment, false))
            reads |= (uint8_t)(1u << number);
        if (segment_fast_ok(segment, true))
            writes |= (uint8_t)(1u << number);
    }
    executor->flat_reads = reads;
    executor->flat_writes = writes;
    executor->flat_user = cpu_cpl(executor->cpu) == 3;
    executor->flat_table = executor->flat_user ? executor->emulator->tlb.user
                                               : executor->emulator->tlb.supervisor;
}
