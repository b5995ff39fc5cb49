/*
 * execute_system.c - instructions with privilege rules: port I/O, HLT,
 * CLI/STI, PUSHF/POPF, software interrupts and IRET, far returns, the
 * descriptor-table and control-register instructions, CPUID, RDTSC, MSRs,
 * SYSENTER/SYSEXIT. The protection machinery itself lives in system.h;
 * this file applies the instruction-level rules of SDM vol. 2 and calls it.
 *
 * Not modelled (raise #UD, loudly): x87/MMX/SSE, RDPMC, ICEBP. Debug
 * registers are stored but breakpoints and EFLAGS.TF single-stepping do not
 * trigger #DB. Virtual-8086 mode is not supported.
 */
#include <stdio.h>

#include "execute_internal.h"
#include "../pv/abi.h"

static void require_cpl0(struct x86_executor *executor)
{
    if (cpu_cpl(executor->cpu) != 0)
        x86_raise(executor->emulator, EXC_GP, 0);
}

/* ---- port I/O (SDM vol. 1, 18.5) -------------------------------------- */

static void count_port_access(struct x86_executor *executor, uint16_t port, bool write)
{
    if (!executor->port_counters)
        return;
    struct stats *stats = executor->emulator->stats;
    struct stats_counter **slot = &executor->port_counters[port];
    if (!*slot) {
        char reason[STATS_NAME_LEN];
        snprintf(reason, sizeof reason, "port-0x%x", port);
        *slot = stats_counter(stats, "io", reason);
    }
    stats_log(stats, *slot, 0, stats_now_ns(), executor->emulator->instruction_eip,
              write ? "out" : "in");
}

uint32_t execute_port_read(struct x86_executor *executor, uint16_t port, unsigned size)
{
    x86_check_io_permission(executor->emulator, port, size);
    count_port_access(executor, port, false);
    return bus_port_read(executor->emulator->bus, port, size) & size_mask(size);
}

void execute_port_write(struct x86_executor *executor, uint16_t port, unsigned size,
                        uint32_t value)
{
    x86_check_io_permission(executor->emulator, port, size);
    if (executor->emulator->pv && port == PV_HYPERCALL_PORT) {
        /* The stub of a pv guest's hypercall page (core/pv/abi.h). The
         * handler may load EFLAGS (PV_IRET): make cpu->eflags the truth. */
        x86_executor_sync_flags(executor);
        executor->emulator->pv_hypercall(executor->emulator->pv, executor->emulator);
        return;
    }
    count_port_access(executor, port, true);
    bus_port_write(executor->emulator->bus, port, size, value & size_mask(size));
}

/* ---- EFLAGS ------------------------------------------------------------ */

/* SDM vol. 2, CLI/STI (protected mode, no VME/PVI): allowed when
 * CPL <= IOPL, else #GP(0). STI blocks interrupts for one more instruction
 * if IF was clear. */
static void set_interrupt_flag(struct x86_executor *executor, bool enable)
{
    struct cpu *cpu = executor->cpu;
    unsigned iopl = (cpu->eflags & EFLAGS_IOPL) >> 12;
    if (cpu_cpl(cpu) > iopl)
        x86_raise(executor->emulator, EXC_GP, 0);
    if (!enable) {
        cpu->eflags &= ~EFLAGS_IF;
        return;
    }
    if (!(cpu->eflags & EFLAGS_IF))
        cpu->interrupt_shadow = true;
    cpu->eflags |= EFLAGS_IF;
}

/* SDM vol. 2, PUSHF: VM and RF are cleared in the pushed image. */
static void push_flags(struct x86_executor *executor, unsigned size)
{
    x86_executor_sync_flags(executor);
    stack_push(executor, size, executor->cpu->eflags & ~(EFLAGS_VM | EFLAGS_RF));
}

/* SDM vol. 2, POPF (protected mode): at CPL 0 everything but VIP, VIF, VM
 * may change; at 0 < CPL <= IOPL also not IOPL; at CPL > IOPL neither IOPL
 * nor IF (silently). RF is cleared. A 16-bit POPF touches bits 0-15. */
static void pop_flags(struct x86_executor *executor, unsigned size)
{
    struct cpu *cpu = executor->cpu;
    uint32_t value = stack_peek(executor, size, 0);
    unsigned cpl = cpu_cpl(cpu), iopl = (cpu->eflags & EFLAGS_IOPL) >> 12;
    uint32_t mask = EFLAGS_ARITHMETIC | EFLAGS_TF | EFLAGS_DF | EFLAGS_NT | EFLAGS_AC | EFLAGS_ID;
    if (cpl == 0)
        mask |= EFLAGS_IOPL | EFLAGS_IF;
    else if (cpl <= iopl)
        mask |= EFLAGS_IF;
    if (size == 2)
        mask &= 0xffff;
    cpu->regs[REG_ESP] = stack_moved(cpu, cpu->regs[REG_ESP], size);
    x86_executor_sync_flags(executor);
    cpu->eflags = ((cpu->eflags & ~mask) | (value & mask) | EFLAGS_FIXED) & ~EFLAGS_RF;
}

/* ---- interrupts and returns --------------------------------------------- */

static enum x86_step software_interrupt(struct x86_executor *executor, int vector)
{
    x86_executor_sync_flags(executor);
    if (!x86_deliver_event(executor->emulator, vector, EVENT_SOFTWARE, false, 0))
        return STEP_SHUTDOWN;
    return STEP_DONE;
}

/* ---- descriptor tables ------------------------------------------------- */

static void store_table_register(struct x86_executor *executor, const struct x86_instruction *insn,
                                 const struct table_register *table)
{
    uint32_t address = effective_address(executor->cpu, insn);
    /* Check the whole 6-byte destination first: no partial store. */
    x86_check_write(executor->emulator, insn->segment, address, 6);
    memory_write(executor, insn->segment, address, 2, table->limit);
    memory_write(executor, insn->segment, address + 2, 4, table->base);
}

/* SDM vol. 2, LGDT/LIDT: with a 16-bit operand only 24 bits of base load. */
static void load_table_register(struct x86_executor *executor, const struct x86_instruction *insn,
                                struct table_register *table)
{
    require_cpl0(executor);
    uint32_t address = effective_address(executor->cpu, insn);
    uint32_t limit = memory_read(executor, insn->segment, address, 2);
    uint32_t base = memory_read(executor, insn->segment, address + 2, 4);
    if (insn->operand_size == 2)
        base &= 0x00ffffffu;
    table->limit = (uint16_t)limit;
    table->base = base;
}

static void store_selector(struct x86_executor *executor, const struct x86_instruction *insn,
                           uint16_t selector)
{
    /* Memory gets 16 bits; a 32-bit register gets the selector zero-extended. */
    operand_write(executor, insn, insn->has_memory ? 2 : insn->operand_size, selector);
}

static void selector_probe(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    uint16_t selector = (uint16_t)operand_read(executor, insn, 2);
    bool zf = false;
    uint32_t value = 0;
    switch (insn->operation) {
    case OP_LAR: value = x86_lar(executor->emulator, selector, &zf); break;
    case OP_LSL: value = x86_lsl(executor->emulator, selector, &zf); break;
    case OP_VERR: zf = x86_verr(executor->emulator, selector); break;
    default: zf = x86_verw(executor->emulator, selector); break;
    }
    if (zf && (insn->operation == OP_LAR || insn->operation == OP_LSL))
        register_write(cpu, insn->operand_size, insn->reg, value);
    x86_executor_sync_flags(executor);
    cpu->eflags = (cpu->eflags & ~EFLAGS_ZF) | (zf ? EFLAGS_ZF : 0);
}

/* ---- control and debug registers ------------------------------------------ */

static uint32_t control_register(const struct cpu *cpu, unsigned number)
{
    switch (number) {
    case 0: return cpu->cr0;
    case 2: return cpu->cr2;
    case 3: return cpu->cr3;
    default: return cpu->cr4;
    }
}

/* SDM vol. 2, MOV DR: CPL 0 only; DR4/DR5 alias DR6/DR7 unless CR4.DE,
 * which makes them #UD. Breakpoints are not implemented: the registers only
 * hold their values. */
static unsigned debug_register_number(struct x86_executor *executor, unsigned number)
{
    require_cpl0(executor);
    if (number == 4 || number == 5) {
        if (executor->cpu->cr4 & CR4_DE)
            x86_raise(executor->emulator, EXC_UD, 0);
        number += 2;
    }
    return number;
}

/* Load the low four CR0 bits (PE MP EM TS); LMSW cannot clear PE (SDM vol. 2, LMSW). */
static void load_machine_status_word(struct x86_executor *executor, uint32_t value)
{
    struct cpu *cpu = executor->cpu;
    require_cpl0(executor);
    uint32_t cr0 = (cpu->cr0 & ~0xeu) | (value & 0xf) | (cpu->cr0 & CR0_PE);
    x86_write_control_register(executor->emulator, 0, cr0);
}

/* ---- CPUID, time stamp counter, MSRs ---------------------------------------- */

/*
 * vmlab reports a plain P6-class processor: vendor "GenuineIntel", family 6,
 * model 3, stepping 3 (stepping >= 3 so that SEP is believed, see the SDM's
 * SYSENTER note on early Pentium Pro), with FPU absent and only the features
 * modelled here: PSE (3), TSC (4), MSR (5), CX8 (8), APIC (9: the local
 * APIC of core/dev/lapic.c, at IA32_APIC_BASE), SEP (11), CMOV (15).
 * Leaf 0 reports 1 as the highest leaf; like Intel parts, a higher leaf
 * returns the data of the highest basic leaf.
 */
#define CPUID_SIGNATURE 0x00000633u
#define CPUID_FEATURES ((1u << 3) | (1u << 4) | (1u << 5) | (1u << 8) | (1u << 9) | (1u << 11) | \
                        (1u << 15))

void x86_cpuid(uint32_t leaf, uint32_t out[4])
{
    if (leaf == 0) {
        out[0] = 1;
        out[1] = 0x756e6547u;   /* "Genu" */
        out[3] = 0x49656e69u;   /* "ineI" */
        out[2] = 0x6c65746eu;   /* "ntel" */
        return;
    }
    out[0] = CPUID_SIGNATURE;
    out[1] = 0;
    out[2] = 0;
    out[3] = CPUID_FEATURES;
}

static uint64_t host_tsc(void)
{
    uint32_t low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return ((uint64_t)high << 32) | low;
}

static uint64_t guest_tsc(const struct cpu *cpu)
{
    return host_tsc() + (uint64_t)cpu->tsc_offset;
}

/* SDM vol. 2, RDMSR/WRMSR: CPL 0; an MSR we do not model is #GP(0). */
static void read_msr(struct x86_executor *executor)
{
    struct cpu *cpu = executor->cpu;
    uint64_t value;
    require_cpl0(executor);
    switch (cpu->regs[REG_ECX]) {
    case MSR_IA32_TSC: value = guest_tsc(cpu); break;
    case MSR_IA32_SYSENTER_CS: value = cpu->sysenter_cs; break;
    case MSR_IA32_SYSENTER_ESP: value = cpu->sysenter_esp; break;
    case MSR_IA32_SYSENTER_EIP: value = cpu->sysenter_eip; break;
    case MSR_IA32_APIC_BASE: value = cpu->apic_base; break;
    default: x86_raise(executor->emulator, EXC_GP, 0);
    }
    cpu->regs[REG_EAX] = (uint32_t)value;
    cpu->regs[REG_EDX] = (uint32_t)(value >> 32);
}

/* SDM 10.4.4: bits 0-7 and 9-10 are reserved, and so is everything above
 * the physical address width (32 bits: vmlab has no PAE), so writing them
 * is #GP(0). The BSP flag is read-only. The APIC's page stays at
 * 0xFEE00000: moving it is refused with #GP(0) and counted. */
static void write_apic_base(struct x86_executor *executor, uint64_t value)
{
    struct cpu *cpu = executor->cpu;
    if (value & 0xffffffff000006ffull)
        x86_raise(executor->emulator, EXC_GP, 0);
    if ((value & 0xfffff000u) != 0xFEE00000u) {
        if (executor->emulator->stats)
            stats_count(stats_counter(executor->emulator->stats, "apic",
                                      "unsupported-base-relocation"), 0);
        x86_raise(executor->emulator, EXC_GP, 0);
    }
    cpu->apic_base = (value & ~(uint64_t)0x100) | (cpu->apic_base & 0x100);
}

static void write_msr(struct x86_executor *executor)
{
    struct cpu *cpu = executor->cpu;
    uint64_t value = ((uint64_t)cpu->regs[REG_EDX] << 32) | cpu->regs[REG_EAX];
    require_cpl0(executor);
    switch (cpu->regs[REG_ECX]) {
    case MSR_IA32_TSC: cpu->tsc_offset = (int64_t)(value - host_tsc()); break;
    case MSR_IA32_SYSENTER_CS: cpu->sysenter_cs = (uint32_t)value; break;
    case MSR_IA32_SYSENTER_ESP: cpu->sysenter_esp = (uint32_t)value; break;
    case MSR_IA32_SYSENTER_EIP: cpu->sysenter_eip = (uint32_t)value; break;
    case MSR_IA32_APIC_BASE: write_apic_base(executor, value); break;
    default: x86_raise(executor->emulator, EXC_GP, 0);
    }
}

/* ---- dispatch --------------------------------------------------------------- */

static enum x86_step execute_descriptor_tables(struct x86_executor *executor,
                                               const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    struct emulator *emulator = executor->emulator;
    switch (insn->operation) {
    case OP_SGDT: store_table_register(executor, insn, &cpu->gdtr); break;
    case OP_SIDT: store_table_register(executor, insn, &cpu->idtr); break;
    case OP_LGDT: load_table_register(executor, insn, &cpu->gdtr); break;
    case OP_LIDT: load_table_register(executor, insn, &cpu->idtr); break;
    case OP_SLDT: store_selector(executor, insn, cpu->ldtr.selector); break;
    case OP_STR: store_selector(executor, insn, cpu->tr.selector); break;
    case OP_LLDT: x86_load_ldtr(emulator, (uint16_t)operand_read(executor, insn, 2)); break;
    case OP_LTR: x86_load_task_register(emulator, (uint16_t)operand_read(executor, insn, 2)); break;
    case OP_SMSW: operand_write(executor, insn, insn->has_memory ? 2 : insn->operand_size, cpu->cr0); break;
    case OP_LMSW: load_machine_status_word(executor, operand_read(executor, insn, 2)); break;
    default: selector_probe(executor, insn); break;
    }
    return STEP_DONE;
}

enum x86_step execute_system(struct x86_executor *executor, const struct x86_instruction *insn)
{
    struct cpu *cpu = executor->cpu;
    struct emulator *emulator = executor->emulator;
    unsigned size = insn->operand_size;

    switch (insn->operation) {
    case OP_IN_IMM:
        register_write(cpu, size, REG_EAX, execute_port_read(executor, (uint16_t)insn->immediate, size));
        break;
    case OP_IN_DX:
        register_write(cpu, size, REG_EAX, execute_port_read(executor, (uint16_t)cpu->regs[REG_EDX], size));
        break;
    case OP_OUT_IMM:
        execute_port_write(executor, (uint16_t)insn->immediate, size, cpu->regs[REG_EAX]);
        break;
    case OP_OUT_DX:
        execute_port_write(executor, (uint16_t)cpu->regs[REG_EDX], size, cpu->regs[REG_EAX]);
        break;

    case OP_HLT:
        require_cpl0(executor);           /* SDM vol. 2, HLT: #GP(0) at CPL > 0 */
        cpu->halted = true;
        return STEP_HALT;
    case OP_CLI: set_interrupt_flag(executor, false); break;
    case OP_STI: set_interrupt_flag(executor, true); break;
    case OP_PUSHF: push_flags(executor, size); break;
    case OP_POPF: pop_flags(executor, size); break;

    case OP_INT3: return software_interrupt(executor, EXC_BP);
    case OP_INT: return software_interrupt(executor, (int)insn->immediate);
    case OP_INTO:
        if (condition_holds(executor, CC_O))
            return software_interrupt(executor, EXC_OF);
        break;
    case OP_IRET:
        x86_executor_sync_flags(executor);
        x86_iret(emulator, size);
        break;
    case OP_RET_FAR:
        x86_executor_sync_flags(executor);
        x86_far_return(emulator, size, (uint16_t)insn->immediate);
        break;

    case OP_SGDT: case OP_SIDT: case OP_LGDT: case OP_LIDT: case OP_SLDT: case OP_STR:
    case OP_LLDT: case OP_LTR: case OP_SMSW: case OP_LMSW: case OP_LAR: case OP_LSL:
    case OP_VERR: case OP_VERW:
        return execute_descriptor_tables(executor, insn);

    case OP_INVLPG:
        require_cpl0(executor);
        x86_tlb_flush_page(emulator, cpu->segments[insn->segment].base + effective_address(cpu, insn));
        break;
    case OP_CLTS:
        require_cpl0(executor);
        x86_write_control_register(emulator, 0, cpu->cr0 & ~CR0_TS);
        break;
    case OP_INVD: case OP_WBINVD:
        require_cpl0(executor);           /* no caches to write back */
        break;
    case OP_MOV_REG_CR:
        require_cpl0(executor);
        cpu->regs[insn->rm] = control_register(cpu, insn->reg);
        break;
    case OP_MOV_CR_REG:
        x86_executor_sync_flags(executor);
        x86_write_control_register(emulator, insn->reg, cpu->regs[insn->rm]);
        break;
    case OP_MOV_REG_DR:
        cpu->regs[insn->rm] = cpu->dr[debug_register_number(executor, insn->reg)];
        break;
    case OP_MOV_DR_REG:
        cpu->dr[debug_register_number(executor, insn->reg)] = cpu->regs[insn->rm];
        break;

    case OP_CPUID: {
        uint32_t out[4];
        x86_cpuid(cpu->regs[REG_EAX], out);
        cpu->regs[REG_EAX] = out[0];
        cpu->regs[REG_EBX] = out[1];
        cpu->regs[REG_ECX] = out[2];
        cpu->regs[REG_EDX] = out[3];
        break;
    }
    case OP_RDTSC: {
        /* SDM vol. 2, RDTSC: CR4.TSD restricts it to CPL 0. */
        if ((cpu->cr4 & CR4_TSD) && cpu_cpl(cpu) != 0)
            x86_raise(emulator, EXC_GP, 0);
        uint64_t tsc = guest_tsc(cpu);
        cpu->regs[REG_EAX] = (uint32_t)tsc;
        cpu->regs[REG_EDX] = (uint32_t)(tsc >> 32);
        break;
    }
    case OP_RDMSR: read_msr(executor); break;
    case OP_WRMSR: write_msr(executor); break;
    case OP_SYSENTER:
        x86_executor_sync_flags(executor);
        x86_sysenter(emulator);
        break;
    case OP_SYSEXIT:
        x86_executor_sync_flags(executor);
        x86_sysexit(emulator);
        break;

    default:
        /* OP_INVALID, OP_UNSUPPORTED (x87/MMX/SSE, RDPMC, ICEBP), UD2. */
        x86_raise(emulator, EXC_UD, 0);
    }
    return STEP_DONE;
}
