/*
 * execute.c - the dispatch switch and the ordinary (non-system) integer
 * instructions: ALU forms, data movement, the stack, near control flow.
 *
 * Rule followed throughout: all reads and writes that can fault happen
 * before flags are recorded and before registers that the instruction
 * reads are overwritten, so a faulting instruction leaves no trace (SDM
 * vol. 3, 6.5: faults are restartable).
 */
#include "execute_internal.h"

static uint32_t accumulator(const struct cpu *cpu, unsigned size)
{
    return register_read(cpu, size, REG_EAX);
}

/* ---- ALU forms ------------------------------------------------------------- */

static void alu_rm(struct x86_executor *executor, const struct x86_instruction *insn,
                   uint32_t source)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    if (insn->has_memory) {
        uint32_t address = effective_address(cpu, insn);
        uint32_t destination = insn->sub == ALU_CMP
                                   ? memory_read(executor, insn->segment, address, size)
                                   : memory_read_for_update(executor, insn->segment, address, size);
        struct lazy_flags flags = executor->flags;
        uint32_t result = alu_binary(&flags, cpu->eflags, insn->sub, size, destination, source);
        if (insn->sub != ALU_CMP)
            memory_write(executor, insn->segment, address, size, result);
        executor->flags = flags;
        return;
    }
    uint32_t result = alu_binary(&executor->flags, cpu->eflags, insn->sub, size,
                                 register_read(cpu, size, insn->rm), source);
    if (insn->sub != ALU_CMP)
        register_write(cpu, size, insn->rm, result);
}

static void alu_reg(struct x86_executor *executor, const struct x86_instruction *insn,
                    unsigned reg, uint32_t source)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    uint32_t result = alu_binary(&executor->flags, cpu->eflags, insn->sub, size,
                                 register_read(cpu, size, reg), source);
    if (insn->sub != ALU_CMP)
        register_write(cpu, size, reg, result);
}

/* A read-modify-write of the r/m operand through a unary ALU function. */
enum unary { UNARY_INC, UNARY_DEC, UNARY_NOT, UNARY_NEG };

static void unary_rm(struct x86_executor *executor, const struct x86_instruction *insn,
                     enum unary operation)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    uint32_t address = insn->has_memory ? effective_address(cpu, insn) : 0;
    uint32_t value = insn->has_memory ? memory_read_for_update(executor, insn->segment, address, size)
                                      : register_read(cpu, size, insn->rm);
    struct lazy_flags flags = executor->flags;
    uint32_t result;
    switch (operation) {
    case UNARY_INC: result = alu_inc(&flags, cpu->eflags, size, value); break;
    case UNARY_DEC: result = alu_dec(&flags, cpu->eflags, size, value); break;
    case UNARY_NOT: result = ~value & size_mask(size); break;    /* no flags */
    default: result = alu_neg(&flags, size, value); break;
    }
    if (insn->has_memory)
        memory_write(executor, insn->segment, address, size, result);
    else
        register_write(cpu, size, insn->rm, result);
    executor->flags = flags;
}

static void shift_rm(struct x86_executor *executor, const struct x86_instruction *insn,
                     unsigned count)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    uint32_t address = insn->has_memory ? effective_address(cpu, insn) : 0;
    uint32_t value = insn->has_memory ? memory_read_for_update(executor, insn->segment, address, size)
                                      : register_read(cpu, size, insn->rm);
    struct lazy_flags flags = executor->flags;
    uint32_t eflags = cpu->eflags;
    uint32_t result;
    switch (insn->operation) {
    case OP_SHLD_IMM: case OP_SHLD_CL:
        result = alu_shld(&flags, &eflags, size, value, register_read(cpu, size, insn->reg), count);
        break;
    case OP_SHRD_IMM: case OP_SHRD_CL:
        result = alu_shrd(&flags, &eflags, size, value, register_read(cpu, size, insn->reg), count);
        break;
    default:
        result = alu_shift(&flags, &eflags, insn->sub, size, value, count);
        break;
    }
    if (insn->has_memory)
        memory_write(executor, insn->segment, address, size, result);
    else
        register_write(cpu, size, insn->rm, result);
    executor->flags = flags;
    cpu->eflags = eflags;
}

/* ---- multiply and divide ----------------------------------------------- */

/* MUL's product and DIV's quotient and remainder: AH:AL for bytes, else
 * DX:AX or EDX:EAX (SDM vol. 2, MUL and DIV). */
static void write_result_pair(struct cpu *cpu, unsigned size, uint32_t low, uint32_t high)
{
    if (size == 1) {
        register_write(cpu, 2, REG_EAX, (high << 8) | low);
    } else {
        register_write(cpu, size, REG_EAX, low);
        register_write(cpu, size, REG_EDX, high);
    }
}

static void multiply(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    uint32_t source = operand_read(executor, insn, size), low, high;
    if (insn->operation == OP_MUL)
        alu_mul(&executor->flags, size, accumulator(cpu, size), source, &low, &high);
    else
        alu_imul(&executor->flags, size, accumulator(cpu, size), source, &low, &high);
    write_result_pair(cpu, size, low, high);
}

static void divide(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    uint32_t divisor = operand_read(executor, insn, size), high, low, quotient, remainder;
    if (size == 1) {
        high = (cpu->regs[REG_EAX] >> 8) & 0xff;
        low = cpu->regs[REG_EAX] & 0xff;
    } else {
        high = register_read(cpu, size, REG_EDX);
        low = register_read(cpu, size, REG_EAX);
    }
    bool ok = insn->operation == OP_DIV ? alu_div(size, high, low, divisor, &quotient, &remainder)
                                        : alu_idiv(size, high, low, divisor, &quotient, &remainder);
    if (!ok)
        x86_raise(executor->emulator, EXC_DE, 0);   /* SDM vol. 2, DIV: #DE */
    write_result_pair(cpu, size, quotient, remainder);
}

/* ---- exchange and compare ------------------------------------------------ */

static void exchange(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    uint32_t reg_value = register_read(cpu, size, insn->reg);
    if (insn->has_memory) {
        uint32_t address = effective_address(cpu, insn);
        uint32_t memory = memory_read_for_update(executor, insn->segment, address, size);
        memory_write(executor, insn->segment, address, size, reg_value);
        register_write(cpu, size, insn->reg, memory);
        return;
    }
    uint32_t rm_value = register_read(cpu, size, insn->rm);
    register_write(cpu, size, insn->rm, reg_value);
    register_write(cpu, size, insn->reg, rm_value);
}

/* SDM vol. 2, CMPXCHG: a memory destination is always written (with its
 * own value when the comparison fails), so a read-only page faults either way. */
static void compare_exchange(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    uint32_t address = insn->has_memory ? effective_address(cpu, insn) : 0;
    uint32_t destination = insn->has_memory ? memory_read_for_update(executor, insn->segment, address, size)
                                            : register_read(cpu, size, insn->rm);
    uint32_t acc = accumulator(cpu, size);
    bool equal = acc == destination;
    uint32_t stored = equal ? register_read(cpu, size, insn->reg) : destination;
    if (insn->has_memory)
        memory_write(executor, insn->segment, address, size, stored);
    else
        register_write(cpu, size, insn->rm, stored);
    if (!equal)
        register_write(cpu, size, REG_EAX, destination);
    alu_binary(&executor->flags, cpu->eflags, ALU_CMP, size, acc, destination);
}

static void exchange_add(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    uint32_t source = register_read(cpu, size, insn->reg);
    struct lazy_flags flags = executor->flags;
    if (insn->has_memory) {
        uint32_t address = effective_address(cpu, insn);
        uint32_t destination = memory_read_for_update(executor, insn->segment, address, size);
        uint32_t sum = alu_binary(&flags, cpu->eflags, ALU_ADD, size, destination, source);
        memory_write(executor, insn->segment, address, size, sum);
        register_write(cpu, size, insn->reg, destination);
    } else {
        /* TEMP = SRC + DEST; SRC = DEST; DEST = TEMP: with one register the sum wins. */
        uint32_t destination = register_read(cpu, size, insn->rm);
        uint32_t sum = alu_binary(&flags, cpu->eflags, ALU_ADD, size, destination, source);
        register_write(cpu, size, insn->reg, destination);
        register_write(cpu, size, insn->rm, sum);
    }
    executor->flags = flags;
}

static void compare_exchange8(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    uint32_t address = effective_address(cpu, insn);
    x86_check_write(executor->emulator, insn->segment, address, 8);
    uint32_t low = memory_read(executor, insn->segment, address, 4);
    uint32_t high = memory_read(executor, insn->segment, address + 4, 4);
    bool equal = low == cpu->regs[REG_EAX] && high == cpu->regs[REG_EDX];
    if (equal) {
        memory_write(executor, insn->segment, address, 4, cpu->regs[REG_EBX]);
        memory_write(executor, insn->segment, address + 4, 4, cpu->regs[REG_ECX]);
    } else {
        memory_write(executor, insn->segment, address, 4, low);
        memory_write(executor, insn->segment, address + 4, 4, high);
        cpu->regs[REG_EAX] = low;
        cpu->regs[REG_EDX] = high;
    }
    x86_executor_sync_flags(executor);
    cpu->eflags = (cpu->eflags & ~EFLAGS_ZF) | (equal ? EFLAGS_ZF : 0);
}

/* ---- bit instructions ------------------------------------------------------ */

/* BT* with a register bit offset address memory beyond the operand: the
 * offset is signed and selects an operand-sized unit (SDM vol. 2, BT). */
static void bit_test(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size, bits = size * 8;
    uint32_t offset = insn->operation == OP_BT_RM_IMM ? insn->immediate
                                                      : register_read(cpu, size, insn->reg);
    uint32_t eflags = cpu->eflags;
    struct lazy_flags flags = executor->flags;
    if (!insn->has_memory) {
        uint32_t value = register_read(cpu, size, insn->rm);
        uint32_t result = alu_bit_test(&flags, &eflags, insn->sub, size, value, offset);
        register_write(cpu, size, insn->rm, result);
    } else {
        uint32_t address = effective_address(cpu, insn);
        if (insn->operation == OP_BT_RM_REG) {
            int32_t signed_offset = (int32_t)sign_extend(offset, size);
            int32_t unit = signed_offset >> (bits == 32 ? 5 : 4);
            address += (uint32_t)unit * size;
            if (insn->address_size == 2)
                address &= 0xffff;
        }
        uint32_t value = insn->sub == BIT_BT ? memory_read(executor, insn->segment, address, size)
                         : memory_read_for_update(executor, insn->segment, address, size);
        uint32_t result = alu_bit_test(&flags, &eflags, insn->sub, size, value, offset);
        if (insn->sub != BIT_BT)
            memory_write(executor, insn->segment, address, size, result);
    }
    executor->flags = flags;
    cpu->eflags = eflags;
}

static void bit_scan(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    uint32_t source = operand_read(executor, insn, size), index;
    if (alu_bit_scan(&executor->flags, &cpu->eflags, insn->operation == OP_BSR, size, source, &index))
        register_write(cpu, size, insn->reg, index);
}

/* ---- stack ----------------------------------------------------------------- */

static void push_all(struct x86_executor *executor, unsigned size)
{
    struct cpu *cpu = executor->cpu;
    uint32_t esp = cpu->regs[REG_ESP];
    for (unsigned i = 0; i < 8; i++) {
        uint32_t slot = stack_moved(cpu, esp, 0u - (i + 1) * size);
        memory_write(executor, SEG_SS, stack_offset(cpu, slot), size, register_read(cpu, size, i));
    }
    cpu->regs[REG_ESP] = stack_moved(cpu, esp, 0u - 8 * size);
}

static void pop_all(struct x86_executor *executor, unsigned size)
{
    struct cpu *cpu = executor->cpu;
    uint32_t values[8];
    for (unsigned i = 0; i < 8; i++)
        values[7 - i] = stack_peek(executor, size, i * size);
    for (unsigned i = 0; i < 8; i++)
        if (i != REG_ESP)            /* the saved ESP is skipped (SDM vol. 2, POPA) */
            register_write(cpu, size, i, values[i]);
    cpu->regs[REG_ESP] = stack_moved(cpu, cpu->regs[REG_ESP], 8 * size);
}

/* SDM vol. 2, POP: with ESP as base the address is computed after ESP has
 * been incremented. */
static void pop_rm(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    uint32_t value = stack_peek(executor, size, 0);
    uint32_t old_esp = cpu->regs[REG_ESP];
    cpu->regs[REG_ESP] = stack_moved(cpu, old_esp, size);
    if (insn->has_memory) {
        uint32_t address = effective_address(cpu, insn);
        cpu->regs[REG_ESP] = old_esp;        /* in case the write faults */
        memory_write(executor, insn->segment, address, size, value);
        cpu->regs[REG_ESP] = stack_moved(cpu, old_esp, size);
    } else {
        register_write(cpu, size, insn->rm, value);
    }
}

/* SDM vol. 2, ENTER, with its nesting level. Works on copies of ESP/EBP and
 * commits at the end, so a fault leaves both unchanged. */
static void enter(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size, level = insn->immediate2 & 31;
    uint32_t esp = cpu->regs[REG_ESP], ebp = cpu->regs[REG_EBP];
    esp = stack_moved(cpu, esp, 0u - size);
    memory_write(executor, SEG_SS, stack_offset(cpu, esp), size, register_read(cpu, size, REG_EBP));
    uint32_t frame = esp;
    if (level > 0) {
        for (unsigned i = 1; i < level; i++) {
            ebp = stack_moved(cpu, ebp, 0u - size);
            uint32_t value = memory_read(executor, SEG_SS, stack_offset(cpu, ebp), size);
            esp = stack_moved(cpu, esp, 0u - size);
            memory_write(executor, SEG_SS, stack_offset(cpu, esp), size, value);
        }
        esp = stack_moved(cpu, esp, 0u - size);
        memory_write(executor, SEG_SS, stack_offset(cpu, esp), size, frame);
    }
    esp = stack_moved(cpu, esp, 0u - insn->immediate);
    /* #PF "if a write using the final value of the stack pointer would
     * cause a page fault" (SDM vol. 2 ENTER): a write probe - a read would
     * pass on a read-only page. */
    x86_check_write(executor->emulator, SEG_SS, stack_offset(cpu, esp), 1);
    register_write(cpu, size, REG_EBP, frame);
    cpu->regs[REG_ESP] = esp;
}

static void leave(struct x86_executor *executor, unsigned size)
{
    struct cpu *cpu = executor->cpu;
    uint32_t esp = stack_is_32bit(cpu) ? cpu->regs[REG_EBP]
                                       : (cpu->regs[REG_ESP] & 0xffff0000u) | (cpu->regs[REG_EBP] & 0xffff);
    uint32_t value = memory_read(executor, SEG_SS, stack_offset(cpu, esp), size);
    cpu->regs[REG_ESP] = stack_moved(cpu, esp, size);
    register_write(cpu, size, REG_EBP, value);
}

/* ---- control flow ---------------------------------------------------------- */

static void call_near(struct x86_executor *executor, uint32_t target, unsigned size)
{
    struct cpu *cpu = executor->cpu;
    uint32_t return_eip = cpu->eip;
    if (size == 2)
        target &= 0xffff;
    if (target > cpu->segments[SEG_CS].limit)
        x86_raise(executor->emulator, EXC_GP, 0);
    stack_push(executor, size, return_eip);
    cpu->eip = target;
}

static void return_near(struct x86_executor *executor, unsigned size, uint32_t pop_bytes)
{
    struct cpu *cpu = executor->cpu;
    uint32_t target = stack_peek(executor, size, 0);
    jump_near(executor, target, size);
    cpu->regs[REG_ESP] = stack_moved(cpu, cpu->regs[REG_ESP], size + pop_bytes);
}

/* LOOP/LOOPE/LOOPNE/JCXZ count in CX or ECX by address size. */
static void loop(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned counter_size = insn->address_size;
    uint32_t count = register_read(cpu, counter_size, REG_ECX);
    bool taken;
    if (insn->operation == OP_JCXZ) {
        taken = count == 0;
    } else {
        count = (count - 1) & size_mask(counter_size);
        register_write(cpu, counter_size, REG_ECX, count);
        taken = count != 0;
        if (insn->operation == OP_LOOPE)
            taken = taken && condition_holds(executor, CC_E);
        else if (insn->operation == OP_LOOPNE)
            taken = taken && condition_holds(executor, CC_NE);
    }
    if (taken)
        jump_near(executor, cpu->eip + insn->immediate, insn->operand_size);
}

static void far_pointer_load(struct x86_executor *executor, const struct x86_instruction *insn,
                             uint32_t *offset, uint16_t *selector)
{
    uint32_t address = effective_address(executor->cpu, insn);
    *offset = memory_read(executor, insn->segment, address, insn->operand_size);
    *selector = (uint16_t)memory_read(executor, insn->segment, address + insn->operand_size, 2);
}

static void load_far_pointer(struct x86_executor *executor, const struct x86_instruction *insn)
{
    uint32_t offset;
    uint16_t selector;
    far_pointer_load(executor, insn, &offset, &selector);
    x86_load_segment(executor->emulator, insn->sub, selector);
    register_write(executor->cpu, insn->operand_size, insn->reg, offset);
}

static void far_transfer(struct x86_executor *executor, const struct x86_instruction *insn)
{
    uint32_t offset = insn->immediate;
    uint16_t selector = (uint16_t)insn->immediate2;
    if (insn->operation == OP_CALL_FAR_MEM || insn->operation == OP_JMP_FAR_MEM)
        far_pointer_load(executor, insn, &offset, &selector);
    x86_executor_sync_flags(executor);       /* a task switch saves EFLAGS */
    if (insn->operation == OP_CALL_FAR_IMM || insn->operation == OP_CALL_FAR_MEM)
        x86_far_call(executor->emulator, selector, offset, insn->operand_size, executor->cpu->eip);
    else
        x86_far_jump(executor->emulator, selector, offset, insn->operand_size);
}

/* ---- flags instructions ---------------------------------------------------- */

static void set_carry(struct x86_executor *executor, int how)
{
    struct cpu *cpu = executor->cpu;
    x86_executor_sync_flags(executor);
    if (how < 0)
        cpu->eflags ^= EFLAGS_CF;
    else
        cpu->eflags = (cpu->eflags & ~EFLAGS_CF) | (how ? EFLAGS_CF : 0);
}

static void sahf(struct x86_executor *executor)
{
    struct cpu *cpu = executor->cpu;
    uint32_t ah = (cpu->regs[REG_EAX] >> 8) & 0xff;
    uint32_t mask = EFLAGS_SF | EFLAGS_ZF | EFLAGS_AF | EFLAGS_PF | EFLAGS_CF;
    x86_executor_sync_flags(executor);
    cpu->eflags = (cpu->eflags & ~mask) | (ah & mask);
}

static void lahf(struct x86_executor *executor)
{
    struct cpu *cpu = executor->cpu;
    x86_executor_sync_flags(executor);
    uint32_t ah = (cpu->eflags & 0xd5) | EFLAGS_FIXED;
    cpu->regs[REG_EAX] = (cpu->regs[REG_EAX] & 0xffff00ffu) | (ah << 8);
}

/* ---- BCD ------------------------------------------------------------------- */

static void decimal_adjust(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    uint32_t ax = cpu->regs[REG_EAX] & 0xffff, result = ax;
    switch (insn->operation) {
    case OP_DAA: result = alu_daa(&executor->flags, &cpu->eflags, ax); break;
    case OP_DAS: result = alu_das(&executor->flags, &cpu->eflags, ax); break;
    case OP_AAA: result = alu_aaa(&executor->flags, &cpu->eflags, ax); break;
    case OP_AAS: result = alu_aas(&executor->flags, &cpu->eflags, ax); break;
    case OP_AAD: result = alu_aad(&executor->flags, &cpu->eflags, ax, insn->immediate); break;
    case OP_AAM:
        if (!alu_aam(&executor->flags, &cpu->eflags, ax, insn->immediate, &result))
            x86_raise(executor->emulator, EXC_DE, 0);
        break;
    }
    register_write(cpu, 2, REG_EAX, result);
}

/* ---- misc ---------------------------------------------------------------- */

static void bound(struct x86_executor *executor, const struct x86_instruction *insn)
{
    unsigned size = insn->operand_size;
    uint32_t address = effective_address(executor->cpu, insn);
    int32_t index = (int32_t)sign_extend(register_read(executor->cpu, size, insn->reg), size);
    int32_t lower = (int32_t)sign_extend(memory_read(executor, insn->segment, address, size), size);
    int32_t upper = (int32_t)sign_extend(
        memory_read(executor, insn->segment, (address + size) & (insn->address_size == 2 ? 0xffff : ~0u), size),
        size);
    if (index < lower || index > upper)
        x86_raise(executor->emulator, EXC_BR, 0);
}

/* SDM vol. 2, ARPL: raise the destination selector's RPL to the source's. */
static void arpl(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    uint32_t destination = operand_read(executor, insn, 2);
    uint32_t source = register_read(cpu, 2, insn->reg);
    bool adjust = (destination & 3) < (source & 3);
    if (adjust)
        operand_write(executor, insn, 2, (destination & ~3u) | (source & 3));
    x86_executor_sync_flags(executor);
    cpu->eflags = (cpu->eflags & ~EFLAGS_ZF) | (adjust ? EFLAGS_ZF : 0);
}

static void move_extend(struct x86_executor *executor, const struct x86_instruction *insn)
{
    uint32_t value = operand_read(executor, insn, insn->source_size);
    if (insn->operation == OP_MOVSX)
        value = sign_extend(value, insn->source_size);
    register_write(executor->cpu, insn->operand_size, insn->reg, value);
}

static void convert(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    if (insn->operation == OP_CBW) {
        register_write(cpu, size, REG_EAX, sign_extend(register_read(cpu, size / 2, REG_EAX), size / 2));
        return;
    }
    bool negative = register_read(cpu, size, REG_EAX) & size_sign_bit(size);
    register_write(cpu, size, REG_EDX, negative ? 0xffffffffu : 0);
}

static uint32_t byte_swap(uint32_t value)
{
    return (value >> 24) | ((value >> 8) & 0xff00) | ((value << 8) & 0xff0000) | (value << 24);
}

static void move_segment_to_rm(struct x86_executor *executor, const struct x86_instruction *insn)
{
    uint32_t selector = executor->cpu->segments[insn->reg].selector;
    /* A register destination gets the selector zero-extended (P6 and later);
     * memory always receives 16 bits (SDM vol. 2, MOV). */
    operand_write(executor, insn, insn->has_memory ? 2 : insn->operand_size, selector);
}

static void pop_segment(struct x86_executor *executor, const struct x86_instruction *insn)
{
    uint32_t selector = stack_peek(executor, insn->operand_size, 0);
    x86_load_segment(executor->emulator, insn->sub, (uint16_t)selector);
    struct cpu *cpu = executor->cpu;
    cpu->regs[REG_ESP] = stack_moved(cpu, cpu->regs[REG_ESP], insn->operand_size);
}

static void xlat(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    uint32_t address = cpu->regs[REG_EBX] + (cpu->regs[REG_EAX] & 0xff);
    if (insn->address_size == 2)
        address &= 0xffff;
    register_write(cpu, 1, REG_EAX, memory_read(executor, insn->segment, address, 1));
}

/* ---- dispatch --------------------------------------------------------------
 *
 * One handler per operation, in a table indexed by the operation id, so the
 * interpreter's loop makes one indirect call per instruction and each
 * handler saves only the registers it needs. x86_select_handler() can
 * further pick a handler specialised for the instruction's form (register
 * operands, 32-bit size) once, when the decoded instruction is cached.
 */

#define HANDLER(name) \
    static enum x86_step name(struct x86_executor *executor, const struct x86_instruction *insn)

HANDLER(h_alu_rm_reg) { alu_rm(executor, insn, register_read(executor->cpu, insn->operand_size, insn->reg)); return STEP_DONE; }
HANDLER(h_alu_rm_imm) { alu_rm(executor, insn, insn->immediate); return STEP_DONE; }
HANDLER(h_alu_reg_rm) { alu_reg(executor, insn, insn->reg, operand_read(executor, insn, insn->operand_size)); return STEP_DONE; }
HANDLER(h_alu_acc_imm) { alu_reg(executor, insn, REG_EAX, insn->immediate); return STEP_DONE; }

HANDLER(h_test_rm_reg)
{
    unsigned size = insn->operand_size;
    alu_binary(&executor->flags, executor->cpu->eflags, ALU_AND, size, operand_read(executor, insn, size),
               register_read(executor->cpu, size, insn->reg));
    return STEP_DONE;
}

HANDLER(h_test_rm_imm)
{
    unsigned size = insn->operand_size;
    alu_binary(&executor->flags, executor->cpu->eflags, ALU_AND, size, operand_read(executor, insn, size),
               insn->immediate);
    return STEP_DONE;
}

HANDLER(h_test_acc_imm)
{
    unsigned size = insn->operand_size;
    alu_binary(&executor->flags, executor->cpu->eflags, ALU_AND, size, accumulator(executor->cpu, size),
               insn->immediate);
    return STEP_DONE;
}

HANDLER(h_inc_reg)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    register_write(cpu, size, insn->reg,
                   alu_inc(&executor->flags, cpu->eflags, size, register_read(cpu, size, insn->reg)));
    return STEP_DONE;
}

HANDLER(h_dec_reg)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    register_write(cpu, size, insn->reg,
                   alu_dec(&executor->flags, cpu->eflags, size, register_read(cpu, size, insn->reg)));
    return STEP_DONE;
}

HANDLER(h_inc_rm) { unary_rm(executor, insn, UNARY_INC); return STEP_DONE; }
HANDLER(h_dec_rm) { unary_rm(executor, insn, UNARY_DEC); return STEP_DONE; }
HANDLER(h_not) { unary_rm(executor, insn, UNARY_NOT); return STEP_DONE; }
HANDLER(h_neg) { unary_rm(executor, insn, UNARY_NEG); return STEP_DONE; }
HANDLER(h_shift_imm) { shift_rm(executor, insn, insn->immediate); return STEP_DONE; }
HANDLER(h_shift_cl) { shift_rm(executor, insn, executor->cpu->regs[REG_ECX] & 0xff); return STEP_DONE; }
HANDLER(h_multiply) { multiply(executor, insn); return STEP_DONE; }
HANDLER(h_divide) { divide(executor, insn); return STEP_DONE; }

HANDLER(h_imul_reg)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    uint32_t low, high;
    uint32_t factor = insn->operation == OP_IMUL_REG_RM ? register_read(cpu, size, insn->reg)
                                                        : insn->immediate;
    alu_imul(&executor->flags, size, operand_read(executor, insn, size), factor, &low, &high);
    register_write(cpu, size, insn->reg, low);
    return STEP_DONE;
}

HANDLER(h_mov_rm_reg) { operand_write(executor, insn, insn->operand_size, register_read(executor->cpu, insn->operand_size, insn->reg)); return STEP_DONE; }
HANDLER(h_mov_reg_rm) { register_write(executor->cpu, insn->operand_size, insn->reg, operand_read(executor, insn, insn->operand_size)); return STEP_DONE; }
HANDLER(h_mov_rm_imm) { operand_write(executor, insn, insn->operand_size, insn->immediate); return STEP_DONE; }
HANDLER(h_mov_reg_imm) { register_write(executor->cpu, insn->operand_size, insn->reg, insn->immediate); return STEP_DONE; }

HANDLER(h_mov_acc_moffs)
{
    struct cpu *cpu = executor->cpu;
    register_write(cpu, insn->operand_size, REG_EAX,
                   memory_read(executor, insn->segment, effective_address(cpu, insn), insn->operand_size));
    return STEP_DONE;
}

HANDLER(h_mov_moffs_acc)
{
    struct cpu *cpu = executor->cpu;
    memory_write(executor, insn->segment, effective_address(cpu, insn), insn->operand_size,
                 accumulator(cpu, insn->operand_size));
    return STEP_DONE;
}

HANDLER(h_mov_rm_seg) { move_segment_to_rm(executor, insn); return STEP_DONE; }

HANDLER(h_mov_seg_rm)
{
    x86_load_segment(executor->emulator, insn->reg, (uint16_t)operand_read(executor, insn, 2));
    return STEP_DONE;
}

HANDLER(h_lea) { register_write(executor->cpu, insn->operand_size, insn->reg, effective_address(executor->cpu, insn)); return STEP_DONE; }
HANDLER(h_move_extend) { move_extend(executor, insn); return STEP_DONE; }
HANDLER(h_xchg_rm_reg) { exchange(executor, insn); return STEP_DONE; }

HANDLER(h_xchg_acc_reg)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    uint32_t value = register_read(cpu, size, insn->reg);
    register_write(cpu, size, insn->reg, accumulator(cpu, size));
    register_write(cpu, size, REG_EAX, value);
    return STEP_DONE;
}

HANDLER(h_cmpxchg) { compare_exchange(executor, insn); return STEP_DONE; }
HANDLER(h_xadd) { exchange_add(executor, insn); return STEP_DONE; }
HANDLER(h_cmpxchg8b) { compare_exchange8(executor, insn); return STEP_DONE; }
HANDLER(h_convert) { convert(executor, insn); return STEP_DONE; }

/* BSWAP with a 16-bit operand is undefined; hardware clears the register's
 * low word, and so do we. */
HANDLER(h_bswap)
{
    struct cpu *cpu = executor->cpu;
    register_write(cpu, insn->operand_size, insn->reg,
                   insn->operand_size == 4 ? byte_swap(cpu->regs[insn->reg]) : 0);
    return STEP_DONE;
}

HANDLER(h_cmovcc)
{
    uint32_t value = operand_read(executor, insn, insn->operand_size);   /* read (and fault) either way */
    if (condition_holds(executor, insn->sub))
        register_write(executor->cpu, insn->operand_size, insn->reg, value);
    return STEP_DONE;
}

HANDLER(h_setcc) { operand_write(executor, insn, 1, condition_holds(executor, insn->sub)); return STEP_DONE; }
HANDLER(h_bit_test) { bit_test(executor, insn); return STEP_DONE; }
HANDLER(h_bit_scan) { bit_scan(executor, insn); return STEP_DONE; }
HANDLER(h_xlat) { xlat(executor, insn); return STEP_DONE; }

HANDLER(h_salc)
{
    (void)insn;
    struct cpu *cpu = executor->cpu;
    register_write(cpu, 1, REG_EAX, flags_carry(&executor->flags, cpu->eflags) ? 0xff : 0);
    return STEP_DONE;
}

HANDLER(h_decimal_adjust) { decimal_adjust(executor, insn); return STEP_DONE; }
HANDLER(h_bound) { bound(executor, insn); return STEP_DONE; }
HANDLER(h_arpl) { arpl(executor, insn); return STEP_DONE; }
HANDLER(h_nop) { (void)executor; (void)insn; return STEP_DONE; }

HANDLER(h_push_reg) { stack_push(executor, insn->operand_size, register_read(executor->cpu, insn->operand_size, insn->reg)); return STEP_DONE; }

HANDLER(h_pop_reg)
{
    uint32_t value = stack_pop(executor, insn->operand_size);
    register_write(executor->cpu, insn->operand_size, insn->reg, value);
    return STEP_DONE;
}

HANDLER(h_push_imm) { stack_push(executor, insn->operand_size, insn->immediate); return STEP_DONE; }
HANDLER(h_push_rm) { stack_push(executor, insn->operand_size, operand_read(executor, insn, insn->operand_size)); return STEP_DONE; }
HANDLER(h_pop_rm) { pop_rm(executor, insn); return STEP_DONE; }
HANDLER(h_push_seg) { stack_push(executor, insn->operand_size, executor->cpu->segments[insn->sub].selector); return STEP_DONE; }
HANDLER(h_pop_seg) { pop_segment(executor, insn); return STEP_DONE; }
HANDLER(h_pusha) { push_all(executor, insn->operand_size); return STEP_DONE; }
HANDLER(h_popa) { pop_all(executor, insn->operand_size); return STEP_DONE; }
HANDLER(h_enter) { enter(executor, insn); return STEP_DONE; }
HANDLER(h_leave) { leave(executor, insn->operand_size); return STEP_DONE; }

HANDLER(h_jmp_rel) { jump_near(executor, executor->cpu->eip + insn->immediate, insn->operand_size); return STEP_DONE; }

HANDLER(h_jcc)
{
    if (condition_holds(executor, insn->sub))
        jump_near(executor, executor->cpu->eip + insn->immediate, insn->operand_size);
    return STEP_DONE;
}

HANDLER(h_call_rel) { call_near(executor, executor->cpu->eip + insn->immediate, insn->operand_size); return STEP_DONE; }
HANDLER(h_call_rm) { call_near(executor, operand_read(executor, insn, insn->operand_size), insn->operand_size); return STEP_DONE; }
HANDLER(h_jmp_rm) { jump_near(executor, operand_read(executor, insn, insn->operand_size), insn->operand_size); return STEP_DONE; }
HANDLER(h_ret_near) { return_near(executor, insn->operand_size, insn->immediate); return STEP_DONE; }
HANDLER(h_loop) { loop(executor, insn); return STEP_DONE; }
HANDLER(h_far_transfer) { far_transfer(executor, insn); return STEP_DONE; }
HANDLER(h_load_far_pointer) { load_far_pointer(executor, insn); return STEP_DONE; }
HANDLER(h_clc) { (void)insn; set_carry(executor, 0); return STEP_DONE; }
HANDLER(h_stc) { (void)insn; set_carry(executor, 1); return STEP_DONE; }
HANDLER(h_cmc) { (void)insn; set_carry(executor, -1); return STEP_DONE; }
HANDLER(h_cld) { (void)insn; executor->cpu->eflags &= ~EFLAGS_DF; return STEP_DONE; }
HANDLER(h_std) { (void)insn; executor->cpu->eflags |= EFLAGS_DF; return STEP_DONE; }
HANDLER(h_sahf) { (void)insn; sahf(executor); return STEP_DONE; }
HANDLER(h_lahf) { (void)insn; lahf(executor); return STEP_DONE; }

/* ---- specialised forms: 32-bit operands, register or memory ------------------ */

HANDLER(h_mov_reg_reg32) { executor->cpu->regs[insn->reg] = executor->cpu->regs[insn->rm]; return STEP_DONE; }
HANDLER(h_mov_rm_reg32_reg) { executor->cpu->regs[insn->rm] = executor->cpu->regs[insn->reg]; return STEP_DONE; }

HANDLER(h_mov_reg_mem32)
{
    struct cpu *cpu = executor->cpu;
    cpu->regs[insn->reg] = memory_read(executor, insn->segment, effective_address(cpu, insn), 4);
    return STEP_DONE;
}

HANDLER(h_mov_mem_reg32)
{
    struct cpu *cpu = executor->cpu;
    memory_write(executor, insn->segment, effective_address(cpu, insn), 4, cpu->regs[insn->reg]);
    return STEP_DONE;
}

HANDLER(h_alu_reg_reg32)
{
    struct cpu *cpu = executor->cpu;
    uint32_t result = alu_binary(&executor->flags, cpu->eflags, insn->sub, 4, cpu->regs[insn->rm],
                                 cpu->regs[insn->reg]);
    if (insn->sub != ALU_CMP)
        cpu->regs[insn->rm] = result;
    return STEP_DONE;
}

HANDLER(h_alu_reg_imm32)
{
    struct cpu *cpu = executor->cpu;
    uint32_t result = alu_binary(&executor->flags, cpu->eflags, insn->sub, 4, cpu->regs[insn->rm],
                                 insn->immediate);
    if (insn->sub != ALU_CMP)
        cpu->regs[insn->rm] = result;
    return STEP_DONE;
}

HANDLER(h_push_reg32)
{
    struct cpu *cpu = executor->cpu;
    if (!stack_is_32bit(cpu))
        return h_push_reg(executor, insn);
    uint32_t esp = cpu->regs[REG_ESP] - 4;
    memory_write(executor, SEG_SS, esp, 4, cpu->regs[insn->reg]);
    cpu->regs[REG_ESP] = esp;
    return STEP_DONE;
}

HANDLER(h_pop_reg32)
{
    struct cpu *cpu = executor->cpu;
    if (!stack_is_32bit(cpu))
        return h_pop_reg(executor, insn);
    uint32_t value = memory_read(executor, SEG_SS, cpu->regs[REG_ESP], 4);
    cpu->regs[REG_ESP] += 4;
    cpu->regs[insn->reg] = value;
    return STEP_DONE;
}

HANDLER(h_inc_reg32)
{
    struct cpu *cpu = executor->cpu;
    cpu->regs[insn->reg] = alu_inc(&executor->flags, cpu->eflags, 4, cpu->regs[insn->reg]);
    return STEP_DONE;
}

HANDLER(h_dec_reg32)
{
    struct cpu *cpu = executor->cpu;
    cpu->regs[insn->reg] = alu_dec(&executor->flags, cpu->eflags, 4, cpu->regs[insn->reg]);
    return STEP_DONE;
}

HANDLER(h_jcc32)
{
    struct cpu *cpu = executor->cpu;
    if (condition_holds(executor, insn->sub)) {
        uint32_t target = cpu->eip + insn->immediate;
        if (target > cpu->segments[SEG_CS].limit)
            x86_raise(executor->emulator, EXC_GP, 0);
        cpu->eip = target;
    }
    return STEP_DONE;
}

static enum x86_step h_string(struct x86_executor *executor, const struct x86_instruction *insn)
{
    return execute_string(executor, insn);
}

static enum x86_step h_system(struct x86_executor *executor, const struct x86_instruction *insn)
{
    return execute_system(executor, insn);
}

/* Everything not named here (system instructions, invalid and unsupported
 * opcodes) goes to execute_system, which raises #UD for the last two. */
static const x86_handler handlers[OP_COUNT] = {
    [OP_ALU_RM_REG] = h_alu_rm_reg, [OP_ALU_RM_IMM] = h_alu_rm_imm,
    [OP_ALU_REG_RM] = h_alu_reg_rm, [OP_ALU_ACC_IMM] = h_alu_acc_imm,
    [OP_TEST_RM_REG] = h_test_rm_reg, [OP_TEST_RM_IMM] = h_test_rm_imm,
    [OP_TEST_ACC_IMM] = h_test_acc_imm, [OP_INC_REG] = h_inc_reg, [OP_DEC_REG] = h_dec_reg,
    [OP_INC_RM] = h_inc_rm, [OP_DEC_RM] = h_dec_rm, [OP_NOT] = h_not, [OP_NEG] = h_neg,
    [OP_SHIFT] = h_shift_imm, [OP_SHLD_IMM] = h_shift_imm, [OP_SHRD_IMM] = h_shift_imm,
    [OP_SHIFT_CL] = h_shift_cl, [OP_SHLD_CL] = h_shift_cl, [OP_SHRD_CL] = h_shift_cl,
    [OP_MUL] = h_multiply, [OP_IMUL_ACC] = h_multiply, [OP_DIV] = h_divide, [OP_IDIV] = h_divide,
    [OP_IMUL_REG_RM] = h_imul_reg, [OP_IMUL_REG_RM_IMM] = h_imul_reg,
    [OP_MOV_RM_REG] = h_mov_rm_reg, [OP_MOV_REG_RM] = h_mov_reg_rm, [OP_MOV_RM_IMM] = h_mov_rm_imm,
    [OP_MOV_REG_IMM] = h_mov_reg_imm, [OP_MOV_ACC_MOFFS] = h_mov_acc_moffs,
    [OP_MOV_MOFFS_ACC] = h_mov_moffs_acc, [OP_MOV_RM_SEG] = h_mov_rm_seg,
    [OP_MOV_SEG_RM] = h_mov_seg_rm, [OP_LEA] = h_lea, [OP_MOVZX] = h_move_extend,
    [OP_MOVSX] = h_move_extend, [OP_XCHG_RM_REG] = h_xchg_rm_reg,
    [OP_XCHG_ACC_REG] = h_xchg_acc_reg, [OP_CMPXCHG] = h_cmpxchg, [OP_XADD] = h_xadd,
    [OP_CMPXCHG8B] = h_cmpxchg8b, [OP_CBW] = h_convert, [OP_CWD] = h_convert,
    [OP_BSWAP] = h_bswap, [OP_CMOVCC] = h_cmovcc, [OP_SETCC] = h_setcc,
    [OP_BT_RM_REG] = h_bit_test, [OP_BT_RM_IMM] = h_bit_test, [OP_BSF] = h_bit_scan,
    [OP_BSR] = h_bit_scan, [OP_XLAT] = h_xlat, [OP_SALC] = h_salc,
    [OP_DAA] = h_decimal_adjust, [OP_DAS] = h_decimal_adjust, [OP_AAA] = h_decimal_adjust,
    [OP_AAS] = h_decimal_adjust, [OP_AAM] = h_decimal_adjust, [OP_AAD] = h_decimal_adjust,
    [OP_BOUND] = h_bound, [OP_ARPL] = h_arpl, [OP_NOP] = h_nop,
    [OP_PUSH_REG] = h_push_reg, [OP_POP_REG] = h_pop_reg, [OP_PUSH_IMM] = h_push_imm,
    [OP_PUSH_RM] = h_push_rm, [OP_POP_RM] = h_pop_rm, [OP_PUSH_SEG] = h_push_seg,
    [OP_POP_SEG] = h_pop_seg, [OP_PUSHA] = h_pusha, [OP_POPA] = h_popa, [OP_ENTER] = h_enter,
    [OP_LEAVE] = h_leave, [OP_JMP_REL] = h_jmp_rel, [OP_JCC] = h_jcc, [OP_CALL_REL] = h_call_rel,
    [OP_CALL_RM] = h_call_rm, [OP_JMP_RM] = h_jmp_rm, [OP_RET_NEAR] = h_ret_near,
    [OP_LOOP] = h_loop, [OP_LOOPE] = h_loop, [OP_LOOPNE] = h_loop, [OP_JCXZ] = h_loop,
    [OP_CALL_FAR_IMM] = h_far_transfer, [OP_JMP_FAR_IMM] = h_far_transfer,
    [OP_CALL_FAR_MEM] = h_far_transfer, [OP_JMP_FAR_MEM] = h_far_transfer,
    [OP_LOAD_FAR_POINTER] = h_load_far_pointer, [OP_CLC] = h_clc, [OP_STC] = h_stc,
    [OP_CMC] = h_cmc, [OP_CLD] = h_cld, [OP_STD] = h_std, [OP_SAHF] = h_sahf, [OP_LAHF] = h_lahf,
    [OP_MOVS] = h_string, [OP_CMPS] = h_string, [OP_STOS] = h_string, [OP_LODS] = h_string,
    [OP_SCAS] = h_string, [OP_INS] = h_string, [OP_OUTS] = h_string,
};

x86_handler x86_select_handler(const struct x86_instruction *insn)
{
    bool wide = insn->operand_size == 4, memory = insn->has_memory;
    x86_handler fast = x86_select_fast_handler(insn);
    if (fast)
        return fast;
    switch (insn->operation) {
    case OP_MOV_REG_RM:
        if (wide)
            return memory ? h_mov_reg_mem32 : h_mov_reg_reg32;
        break;
    case OP_MOV_RM_REG:
        if (wide)
            return memory ? h_mov_mem_reg32 : h_mov_rm_reg32_reg;
        break;
    case OP_ALU_RM_REG:
        if (wide && !memory)
            return h_alu_reg_reg32;
        break;
    case OP_ALU_RM_IMM:
        if (wide && !memory)
            return h_alu_reg_imm32;
        break;
    case OP_PUSH_REG: if (wide) return h_push_reg32; break;
    case OP_POP_REG: if (wide) return h_pop_reg32; break;
    case OP_INC_REG: if (wide) return h_inc_reg32; break;
    case OP_DEC_REG: if (wide) return h_dec_reg32; break;
    case OP_JCC: if (wide) return h_jcc32; break;
    }
    if (insn->operation < OP_COUNT && handlers[insn->operation])
        return handlers[insn->operation];
    return h_system;
}

enum x86_step x86_execute(struct x86_executor *executor, const struct x86_instruction *insn)
{
    return x86_select_handler(insn)(executor, insn);
}

void x86_fetch_and_decode(struct emulator *emulator, struct x86_instruction *instruction)
{
    const struct cpu *cpu = emulator->cpu;
    bool big = cpu->segments[SEG_CS].attributes & SEG_ATTR_DB;
    uint8_t bytes[X86_MAX_INSTRUCTION_LENGTH];
    unsigned fetched = x86_fetch_code(emulator, cpu->eip, bytes, 1, sizeof bytes);
    int length = x86_decode(instruction, bytes, fetched, big);
    while (length == X86_DECODE_NEED_MORE) {
        fetched = x86_fetch_code(emulator, cpu->eip, bytes, fetched + 1, sizeof bytes);
        length = x86_decode(instruction, bytes, fetched, big);
    }
    if (length == X86_DECODE_TOO_LONG)
        x86_raise(emulator, EXC_GP, 0);
    if (length < 0)
        x86_raise(emulator, EXC_UD, 0);
}

void x86_executor_init(struct x86_executor *executor, struct emulator *emulator, struct cpu *cpu,
                       struct guest_ram *ram, struct bus *bus, struct stats *stats)
{
    memset(emulator, 0, sizeof *emulator);
    emulator->cpu = cpu;
    emulator->ram = ram;
    emulator->bus = bus;
    emulator->stats = stats;
    x86_tlb_flush_all(emulator);
    memset(executor, 0, sizeof *executor);
    executor->emulator = emulator;
    executor->cpu = cpu;
    executor->flags.operation = FLAGS_KNOWN;
}
