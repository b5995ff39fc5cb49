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
        uint32_t destination = memory_read(executor, insn->segment, address, size);
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
    uint32_t value = insn->has_memory ? memory_read(executor, insn->segment, address, size)
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
    uint32_t value = insn->has_memory ? memory_read(executor, insn->segment, address, size)
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

static void multiply(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    uint32_t source = operand_read(executor, insn, size), low, high;
    if (insn->operation == OP_MUL)
        alu_mul(&executor->flags, size, accumulator(cpu, size), source, &low, &high);
    else
        alu_imul(&executor->flags, size, accumulator(cpu, size), source, &low, &high);
    if (size == 1) {
        register_write(cpu, 2, REG_EAX, (high << 8) | low);
    } else {
        register_write(cpu, size, REG_EAX, low);
        register_write(cpu, size, REG_EDX, high);
    }
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
    if (size == 1) {
        register_write(cpu, 2, REG_EAX, (remainder << 8) | quotient);
    } else {
        register_write(cpu, size, REG_EAX, quotient);
        register_write(cpu, size, REG_EDX, remainder);
    }
}

/* ---- exchange and compare ------------------------------------------------ */

static void exchange(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;
    uint32_t reg_value = register_read(cpu, size, insn->reg);
    if (insn->has_memory) {
        uint32_t address = effective_address(cpu, insn);
        uint32_t memory = memory_read(executor, insn->segment, address, size);
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
    uint32_t destination = insn->has_memory ? memory_read(executor, insn->segment, address, size)
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
        uint32_t destination = memory_read(executor, insn->segment, address, size);
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
        uint32_t value = memory_read(executor, insn->segment, address, size);
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
    /* Touch the lowest byte of the new frame: hardware faults here too. */
    memory_read(executor, SEG_SS, stack_offset(cpu, esp), 1);
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

/* ---- dispatch ------------------------------------------------------------- */

enum x86_step x86_execute(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    unsigned size = insn->operand_size;

    switch (insn->operation) {
    case OP_ALU_RM_REG: alu_rm(executor, insn, register_read(cpu, size, insn->reg)); break;
    case OP_ALU_RM_IMM: alu_rm(executor, insn, insn->immediate); break;
    case OP_ALU_REG_RM: alu_reg(executor, insn, insn->reg, operand_read(executor, insn, size)); break;
    case OP_ALU_ACC_IMM: alu_reg(executor, insn, REG_EAX, insn->immediate); break;
    case OP_TEST_RM_REG:
        alu_binary(&executor->flags, cpu->eflags, ALU_AND, size, operand_read(executor, insn, size),
                   register_read(cpu, size, insn->reg));
        break;
    case OP_TEST_RM_IMM:
        alu_binary(&executor->flags, cpu->eflags, ALU_AND, size, operand_read(executor, insn, size),
                   insn->immediate);
        break;
    case OP_TEST_ACC_IMM:
        alu_binary(&executor->flags, cpu->eflags, ALU_AND, size, accumulator(cpu, size), insn->immediate);
        break;
    case OP_INC_REG:
        register_write(cpu, size, insn->reg,
                       alu_inc(&executor->flags, cpu->eflags, size, register_read(cpu, size, insn->reg)));
        break;
    case OP_DEC_REG:
        register_write(cpu, size, insn->reg,
                       alu_dec(&executor->flags, cpu->eflags, size, register_read(cpu, size, insn->reg)));
        break;
    case OP_INC_RM: unary_rm(executor, insn, UNARY_INC); break;
    case OP_DEC_RM: unary_rm(executor, insn, UNARY_DEC); break;
    case OP_NOT: unary_rm(executor, insn, UNARY_NOT); break;
    case OP_NEG: unary_rm(executor, insn, UNARY_NEG); break;
    case OP_SHIFT: case OP_SHLD_IMM: case OP_SHRD_IMM: shift_rm(executor, insn, insn->immediate); break;
    case OP_SHIFT_CL: case OP_SHLD_CL: case OP_SHRD_CL:
        shift_rm(executor, insn, cpu->regs[REG_ECX] & 0xff);
        break;
    case OP_MUL: case OP_IMUL_ACC: multiply(executor, insn); break;
    case OP_DIV: case OP_IDIV: divide(executor, insn); break;
    case OP_IMUL_REG_RM: case OP_IMUL_REG_RM_IMM: {
        uint32_t low, high;
        uint32_t factor = insn->operation == OP_IMUL_REG_RM ? register_read(cpu, size, insn->reg)
                                                            : insn->immediate;
        alu_imul(&executor->flags, size, operand_read(executor, insn, size), factor, &low, &high);
        register_write(cpu, size, insn->reg, low);
        break;
    }

    case OP_MOV_RM_REG: operand_write(executor, insn, size, register_read(cpu, size, insn->reg)); break;
    case OP_MOV_REG_RM: register_write(cpu, size, insn->reg, operand_read(executor, insn, size)); break;
    case OP_MOV_RM_IMM: operand_write(executor, insn, size, insn->immediate); break;
    case OP_MOV_REG_IMM: register_write(cpu, size, insn->reg, insn->immediate); break;
    case OP_MOV_ACC_MOFFS:
        register_write(cpu, size, REG_EAX,
                       memory_read(executor, insn->segment, effective_address(cpu, insn), size));
        break;
    case OP_MOV_MOFFS_ACC:
        memory_write(executor, insn->segment, effective_address(cpu, insn), size, accumulator(cpu, size));
        break;
    case OP_MOV_RM_SEG: move_segment_to_rm(executor, insn); break;
    case OP_MOV_SEG_RM:
        x86_load_segment(executor->emulator, insn->reg, (uint16_t)operand_read(executor, insn, 2));
        break;
    case OP_LEA: register_write(cpu, size, insn->reg, effective_address(cpu, insn)); break;
    case OP_MOVZX: case OP_MOVSX: move_extend(executor, insn); break;
    case OP_XCHG_RM_REG: exchange(executor, insn); break;
    case OP_XCHG_ACC_REG: {
        uint32_t value = register_read(cpu, size, insn->reg);
        register_write(cpu, size, insn->reg, accumulator(cpu, size));
        register_write(cpu, size, REG_EAX, value);
        break;
    }
    case OP_CMPXCHG: compare_exchange(executor, insn); break;
    case OP_XADD: exchange_add(executor, insn); break;
    case OP_CMPXCHG8B: compare_exchange8(executor, insn); break;
    case OP_CBW: case OP_CWD: convert(executor, insn); break;
    case OP_BSWAP:
        register_write(cpu, size, insn->reg, size == 4 ? byte_swap(cpu->regs[insn->reg]) : 0);
        break;
    case OP_CMOVCC: {
        uint32_t value = operand_read(executor, insn, size);   /* read (and fault) either way */
        if (condition_holds(executor, insn->sub))
            register_write(cpu, size, insn->reg, value);
        break;
    }
    case OP_SETCC: operand_write(executor, insn, 1, condition_holds(executor, insn->sub)); break;
    case OP_BT_RM_REG: case OP_BT_RM_IMM: bit_test(executor, insn); break;
    case OP_BSF: case OP_BSR: bit_scan(executor, insn); break;
    case OP_XLAT: xlat(executor, insn); break;
    case OP_SALC: register_write(cpu, 1, REG_EAX, flags_carry(&executor->flags, cpu->eflags) ? 0xff : 0); break;
    case OP_DAA: case OP_DAS: case OP_AAA: case OP_AAS: case OP_AAM: case OP_AAD:
        decimal_adjust(executor, insn);
        break;
    case OP_BOUND: bound(executor, insn); break;
    case OP_ARPL: arpl(executor, insn); break;
    case OP_NOP: break;

    case OP_PUSH_REG: stack_push(executor, size, register_read(cpu, size, insn->reg)); break;
    case OP_POP_REG: {
        uint32_t value = stack_pop(executor, size);
        register_write(cpu, size, insn->reg, value);
        break;
    }
    case OP_PUSH_IMM: stack_push(executor, size, insn->immediate); break;
    case OP_PUSH_RM: stack_push(executor, size, operand_read(executor, insn, size)); break;
    case OP_POP_RM: pop_rm(executor, insn); break;
    case OP_PUSH_SEG: stack_push(executor, size, cpu->segments[insn->sub].selector); break;
    case OP_POP_SEG: pop_segment(executor, insn); break;
    case OP_PUSHA: push_all(executor, size); break;
    case OP_POPA: pop_all(executor, size); break;
    case OP_ENTER: enter(executor, insn); break;
    case OP_LEAVE: leave(executor, size); break;

    case OP_JMP_REL: jump_near(executor, cpu->eip + insn->immediate, size); break;
    case OP_JCC:
        if (condition_holds(executor, insn->sub))
            jump_near(executor, cpu->eip + insn->immediate, size);
        break;
    case OP_CALL_REL: call_near(executor, cpu->eip + insn->immediate, size); break;
    case OP_CALL_RM: call_near(executor, operand_read(executor, insn, size), size); break;
    case OP_JMP_RM: jump_near(executor, operand_read(executor, insn, size), size); break;
    case OP_RET_NEAR: return_near(executor, size, insn->immediate); break;
    case OP_LOOP: case OP_LOOPE: case OP_LOOPNE: case OP_JCXZ: loop(executor, insn); break;
    case OP_CALL_FAR_IMM: case OP_JMP_FAR_IMM: case OP_CALL_FAR_MEM: case OP_JMP_FAR_MEM:
        far_transfer(executor, insn);
        break;
    case OP_LOAD_FAR_POINTER: load_far_pointer(executor, insn); break;

    case OP_CLC: set_carry(executor, 0); break;
    case OP_STC: set_carry(executor, 1); break;
    case OP_CMC: set_carry(executor, -1); break;
    case OP_CLD: cpu->eflags &= ~EFLAGS_DF; break;
    case OP_STD: cpu->eflags |= EFLAGS_DF; break;
    case OP_SAHF: sahf(executor); break;
    case OP_LAHF: lahf(executor); break;

    case OP_MOVS: case OP_CMPS: case OP_STOS: case OP_LODS: case OP_SCAS: case OP_INS: case OP_OUTS:
        return execute_string(executor, insn);

    default:
        return execute_system(executor, insn);
    }
    return STEP_DONE;
}
