/*
 * emulate.c - the one instruction KVM could not emulate, run by vmlab's own
 * x86 core instead.
 *
 * In hardware guest mode most instructions never need the VMM. But KVM does
 * emulate some in software - an instruction that touches MMIO, and, on a
 * host without VT-x/AMD-V where KVM is PVM, every instruction the guest
 * kernel executes - and its emulator (arch/x86/kvm/emulate.c) does not know
 * every instruction: a protected-mode IRET and AAA, for instance, come back
 * as KVM_EXIT_INTERNAL_ERROR / KVM_INTERNAL_ERROR_EMULATION (KVM API), with
 * the guest stopped before that instruction.
 *
 * vmlab has a complete 32-bit x86 in core/x86 (the interpreter's). So hvm
 * does what a VMM with its own emulator can do: take the whole CPU state
 * out of KVM, execute that one instruction (or deliver the fault it raises)
 * with core/x86 on the same guest RAM and bus, put the state back, and
 * re-enter the guest. Each such exit is counted as ("exit",
 * "emulated-NAME"), so the statistics show what KVM could not do.
 *
 * Limits: a guest write made here is not seen by KVM's shadow page tables
 * (if the instruction edits a guest page table, KVM's copy may be stale
 * until the guest's next CR3 write or INVLPG); and an instruction the
 * interpreter does not know either (x87, SSE) raises #UD, as under interp.
 */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "core/x86/execute.h"
#include "core/x86/system.h"
#include "techniques/hvm/hvm_internal.h"

struct hvm_emulation {
    struct emulator emulator;
    struct x86_executor executor;
    struct stats_counter *rows[256];   /* ("exit", "emulated-NAME") by operation */
};

struct hvm_emulation *hvm_emulation_create(struct vm *vm)
{
    struct hvm_emulation *emulation = calloc(1, sizeof *emulation);
    if (!emulation)
        return NULL;
    x86_executor_init(&emulation->executor, &emulation->emulator, &vm->cpu, &vm->ram, &vm->bus,
                      &vm->stats);
    return emulation;
}

void hvm_emulation_destroy(struct hvm_emulation *emulation)
{
    free(emulation);
}

/* Executes the instruction at vm->cpu.eip, or delivers the exception it
 * raises (SDM vol. 3, 6.12). Returns the step; STEP_SHUTDOWN on a triple
 * fault. *operation names what ran (for the statistics). */
static enum x86_step execute_one(struct hvm_emulation *emulation, struct cpu *cpu,
                                 uint8_t *operation)
{
    struct emulator *emulator = &emulation->emulator;
    struct x86_executor *executor = &emulation->executor;
    jmp_buf landing;
    emulator->fault = &landing;
    if (setjmp(landing) != 0) {
        /* The instruction is undone; EIP back to it, then deliver. */
        x86_executor_sync_flags(executor);
        cpu->eip = emulator->instruction_eip;
        emulator->fault = NULL;
        return x86_deliver_event(emulator, emulator->fault_vector, EVENT_FAULT,
                                 emulator->fault_has_error_code, emulator->fault_error_code)
                   ? STEP_DONE
                   : STEP_SHUTDOWN;
    }
    struct x86_instruction instruction;
    bool shadowed = cpu->interrupt_shadow;
    emulator->instruction_eip = cpu->eip;
    x86_fetch_and_decode(emulator, &instruction);
    *operation = instruction.operation;
    cpu->eip += instruction.length;
    if (!instruction.default_32bit)
        cpu->eip &= 0xffff;   /* 16-bit code segment: IP wraps */
    enum x86_step step = x86_execute(executor, &instruction);
    x86_executor_sync_flags(executor);
    if (shadowed)
        cpu->interrupt_shadow = false;   /* the STI / MOV SS shadow covers one instruction */
    emulator->fault = NULL;
    return step;
}

static void count(struct vm *vm, struct hvm_emulation *emulation, uint8_t operation,
                  uint64_t start, uint32_t eip)
{
    if (!emulation->rows[operation]) {
        char reason[STATS_NAME_LEN];
        snprintf(reason, sizeof reason, "emulated-%s", x86_operation_name(operation));
        emulation->rows[operation] = stats_counter(&vm->stats, "exit", reason);
    }
    stats_log(&vm->stats, emulation->rows[operation], stats_now_ns() - start, start, eip, NULL);
}

bool hvm_emulate_instruction(struct vm *vm, struct hvm *hvm, enum vm_exit *exit)
{
    uint64_t start = stats_now_ns();
    char why[400];
    struct cpu *cpu = &vm->cpu;
    if (hvm_save_cpu(hvm, cpu, why, sizeof why) < 0)
        goto failed;
    uint32_t eip = cpu->eip;
    struct hvm_emulation *emulation = hvm->emulation;
    emulation->executor.flags.operation = FLAGS_KNOWN;
    x86_tlb_flush_all(&emulation->emulator);   /* the guest ran since last time */
    uint8_t operation = 0;
    enum x86_step step = execute_one(emulation, cpu, &operation);
    count(vm, emulation, operation, start, eip);
    if (step == STEP_SHUTDOWN) {
        snprintf(vm->stop_reason, sizeof vm->stop_reason, "%s",
                 emulation->emulator.triple_fault_report);
        *exit = VM_EXIT_TRIPLE_FAULT;
        return false;
    }
    if (hvm_load_cpu(hvm, cpu, false, why, sizeof why) < 0)
        goto failed;
    if (step == STEP_HALT) {
        *exit = VM_EXIT_HALT;   /* cpu->halted is set */
        return false;
    }
    return true;
failed:
    snprintf(vm->stop_reason, sizeof vm->stop_reason,
             "KVM could not emulate the instruction at EIP 0x%08x, and vmlab could not take "
             "over: %s", cpu->eip, why);
    *exit = VM_EXIT_ERROR;
    return false;
}
