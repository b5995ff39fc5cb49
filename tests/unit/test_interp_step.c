/*
 * test_interp_step.c - the interpreter's single-step mode: with
 * vm->single_step set, run() executes exactly one instruction and returns
 * VM_EXIT_DEADLINE; and the block cache gives the same guest state as
 * stepping one instruction at a time.
 *
 * Needs build/guests/hello.elf (`make test` builds the guests first).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/vm.h"
#include "core/x86/decode.h"
#include "techniques/interp/interp.h"

#define GUEST "build/guests/hello.elf"

static struct vm vm;   /* large: not on the stack */
static int console_input[2], console_output;

static void create_vm(void)
{
    cr_assert_eq(pipe(console_input), 0);
    console_output = open("/dev/null", O_WRONLY);
    cr_assert_geq(console_output, 0);
    struct vm_config config = {
        .technique = "interp",
        .memory_bytes = 16u << 20,
        .guest_path = GUEST,
        .guest_command_line = "exit=0",
        .console_input_fd = console_input[0],
        .console_output_fd = console_output,
    };
    cr_assert_eq(access(GUEST, R_OK), 0, "%s is missing: make guests", GUEST);
    cr_assert_eq(vm_create(&vm, &config), 0);
    cr_assert_eq(vm.technique, &interp_technique);
}

static void destroy_vm(void)
{
    vm_destroy(&vm);
    close(console_input[0]);
    close(console_input[1]);
    close(console_output);
}

TestSuite(interp_step, .init = create_vm, .fini = destroy_vm);

/* The length of the instruction at EIP (paging is off at the Multiboot
 * entry and for hello's whole run: linear = physical). */
static const struct x86_instruction *instruction_at_eip(struct x86_instruction *insn)
{
    uint32_t linear = vm.cpu.segments[SEG_CS].base + vm.cpu.eip;
    cr_assert(!(vm.cpu.cr0 & CR0_PG));
    cr_assert_gt(x86_decode(insn, vm.ram.host + linear, X86_MAX_INSTRUCTION_LENGTH, true), 0);
    return insn;
}

static bool is_control_transfer(unsigned operation)
{
    switch (operation) {
    case OP_JCC: case OP_JMP_REL: case OP_JMP_RM: case OP_CALL_REL: case OP_CALL_RM:
    case OP_RET_NEAR: case OP_LOOP: case OP_LOOPE: case OP_LOOPNE: case OP_JCXZ:
    case OP_CALL_FAR_IMM: case OP_JMP_FAR_IMM: case OP_CALL_FAR_MEM: case OP_JMP_FAR_MEM:
    case OP_RET_FAR: case OP_IRET: case OP_INT: case OP_INT3: case OP_INTO:
    case OP_MOVS: case OP_CMPS: case OP_STOS: case OP_LODS: case OP_SCAS: case OP_INS:
    case OP_OUTS: case OP_HLT:
        return true;
    default:
        return false;
    }
}

static enum vm_exit step(void)
{
    vm.single_step = true;
    vm.deadline_ns = stats_now_ns() + 1000000000ull;
    enum vm_exit exit = vm.technique->run(&vm);
    vm.single_step = false;
    return exit;
}

Test(interp_step, the_technique_says_it_can)
{
    cr_assert(interp_technique.can_single_step);
}

Test(interp_step, one_step_runs_exactly_one_instruction)
{
    struct x86_instruction insn;
    uint32_t eip = vm.cpu.eip;
    uint32_t length = instruction_at_eip(&insn)->length;
    uint64_t before = vm.stats.guest_instructions;
    cr_assert_eq(step(), VM_EXIT_DEADLINE);
    cr_assert_eq(vm.stats.guest_instructions, before + 1);
    if (!is_control_transfer(insn.operation))
        cr_assert_eq(vm.cpu.eip, eip + length, "EIP 0x%x, expected 0x%x", vm.cpu.eip, eip + length);
}

/* Many steps in a row: each one retires one instruction, and a straight-line
 * instruction moves EIP by its length. */
Test(interp_step, every_step_retires_one_instruction)
{
    for (int n = 0; n < 2000; n++) {
        struct x86_instruction insn;
        uint32_t eip = vm.cpu.eip;
        instruction_at_eip(&insn);
        uint64_t before = vm.stats.guest_instructions;
        enum vm_exit exit = step();
        if (exit != VM_EXIT_DEADLINE)
            break;            /* the guest finished (HLT or debug-exit) */
        cr_assert_eq(vm.stats.guest_instructions, before + 1, "step %d at EIP 0x%x", n, eip);
        if (!is_control_transfer(insn.operation))
            cr_assert_eq(vm.cpu.eip, eip + insn.length, "step %d at EIP 0x%x", n, eip);
    }
}

/* Running blocks and stepping reach the same state after the same number of
 * instructions: step a fresh copy of the guest as many times as a block run
 * retired, and compare the registers. */
Test(interp_step, blocks_and_single_steps_agree)
{
    static struct vm stepped;
    int input[2];
    cr_assert_eq(pipe(input), 0);
    struct vm_config config = vm.config;
    config.console_input_fd = input[0];
    cr_assert_eq(vm_create(&stepped, &config), 0);

    vm.deadline_ns = 0;         /* one clock-check interval, then return */
    enum vm_exit exit = vm.technique->run(&vm);
    cr_assert(exit == VM_EXIT_DEADLINE || exit == VM_EXIT_STOP || exit == VM_EXIT_HALT);
    uint64_t retired = vm.stats.guest_instructions;
    cr_assert_gt(retired, 1000, "only %lu instructions: the comparison says little",
                 (unsigned long)retired);

    for (uint64_t n = 0; n < retired; n++) {
        stepped.single_step = true;
        stepped.deadline_ns = stats_now_ns() + 1000000000ull;
        cr_assert_eq(stepped.technique->run(&stepped), VM_EXIT_DEADLINE, "step %lu", (unsigned long)n);
    }
    cr_assert_eq(stepped.stats.guest_instructions, retired);
    cr_assert_eq(stepped.cpu.eip, vm.cpu.eip, "EIP 0x%x vs 0x%x", stepped.cpu.eip, vm.cpu.eip);
    for (int r = 0; r < 8; r++)
        cr_assert_eq(stepped.cpu.regs[r], vm.cpu.regs[r], "register %d", r);
    cr_assert_eq(stepped.cpu.eflags, vm.cpu.eflags, "EFLAGS 0x%x vs 0x%x", stepped.cpu.eflags,
                 vm.cpu.eflags);
    vm_destroy(&stepped);
    close(input[0]);
    close(input[1]);
}
