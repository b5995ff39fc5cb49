/*
 * interp_runner.c - see interp_runner.h.
 */
#include "interp_runner.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/cpu.h"
#include "core/dev/bus.h"
#include "core/mem.h"
#include "core/stats.h"
#include "core/x86/decode.h"
#include "core/x86/execute.h"
#include "core/x86/system.h"
#include "machine.h"

#define RAM_SIZE MACHINE_RAM_SIZE

/* Sequences are straight-line with short REPs: this only catches a loop. */
#define MAX_STEPS 100000u

static struct cpu cpu;
static struct guest_ram ram;
static struct bus bus;
static struct stats stats;
static struct emulator emulator;
static struct x86_executor executor;

/* RAM is an anonymous mapping rather than guest_ram_create's memfd: the
 * core only needs host/size/page_flags, and this keeps the setup minimal. */
int interp_runner_start(void)
{
    ram.memfd = -1;
    ram.size = RAM_SIZE;
    ram.host = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                    -1, 0);
    ram.page_flags = calloc(RAM_SIZE / PAGE_SIZE, 1);
    if (ram.host == MAP_FAILED || !ram.page_flags) {
        perror("diff: interpreter RAM");
        return -1;
    }
    memset(&bus, 0, sizeof bus);
    stats_init(&stats, 0);
    machine_build_page_tables(ram.host);
    return 0;
}

static void reset_machine(const struct machine_state *initial, struct interp_setup setup)
{
    machine_prepare(ram.host, setup);
    machine_reset(&cpu, initial, setup);
    x86_executor_init(&executor, &emulator, &cpu, &ram, &bus, &stats);
    /* As techniques/interp: no sequence loads a segment register, so the
     * flat-segment fast path stays valid for the whole run. */
    x86_executor_note_flat_segments(&executor);
}

static void finish(struct run_result *result)
{
    x86_executor_sync_flags(&executor);
    memcpy(result->final.regs, cpu.regs, sizeof cpu.regs);
    result->final.eflags = cpu.eflags;
    result->data = ram.host + DATA_BASE;
    result->low_data = ram.host + LOW_DATA_BASE;
}

/* Decode and execute from CODE_BASE until EIP reaches `end`. Returns false
 * with a message if EIP leaves the sequence or the run does not end. */
static bool step_until(uint32_t end, struct run_result *result)
{
    for (unsigned steps = 0; cpu.eip != end; steps++) {
        if (cpu.eip < CODE_BASE || cpu.eip > end || steps == MAX_STEPS) {
            snprintf(result->failure, sizeof result->failure,
                     steps == MAX_STEPS ? "interp: no end after %u steps" : "interp: EIP 0x%x left the sequence",
                     steps == MAX_STEPS ? steps : cpu.eip);
            return false;
        }
        struct x86_instruction insn;
        emulator.instruction_eip = cpu.eip;
        /* As every technique fetches: through CS and paging; too long is
         * #GP(0), an undefined encoding #UD. */
        x86_fetch_and_decode(&emulator, &insn);
        cpu.eip += insn.length;
        x86_select_handler(&insn)(&executor, &insn);
    }
    return true;
}

void interp_run(const uint8_t *code, unsigned length, const struct machine_state *initial,
                const uint8_t *data, struct interp_setup setup, struct run_result *result)
{
    static jmp_buf landing;
    memset(result, 0, sizeof *result);
    reset_machine(initial, setup);
    static const uint8_t hlt[X86_MAX_INSTRUCTION_LENGTH] = {
        0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4,
    };
    machine_load(ram.host, code, length, hlt, sizeof hlt, data);   /* hlt: never run */
    emulator.fault = &landing;
    if (setjmp(landing) != 0) {
        /* Like techniques/interp: EIP back to the faulting instruction. */
        result->completed = true;
        result->fault = (struct fault_report){ true, emulator.fault_vector, emulator.instruction_eip,
                                               emulator.fault_vector == EXC_PF ? cpu.cr2 : 0,
                                               emulator.fault_has_error_code ? emulator.fault_error_code : 0 };
        cpu.eip = emulator.instruction_eip;
        finish(result);
        return;
    }
    result->completed = step_until(CODE_BASE + length, result);
    finish(result);
}
