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

/* Guest RAM just large enough to hold the region at its own addresses. */
#define RAM_SIZE (DIFF_REGION_BASE + DIFF_REGION_SIZE)
/* Identity-mapping page tables for the first 32 MiB, one directory per
 * paging mode (SDM vol. 3, 4.3: 32-bit paging), below the region. */
#define PAGE_DIRECTORY_4K 0x00200000u
#define PAGE_DIRECTORY_4M 0x00201000u
#define PAGE_TABLES       0x00202000u
#define MAPPED_TABLES     (RAM_SIZE + (4u << 20) - 1) / (4u << 20)
#define PTE_P  0x001u
#define PTE_RW 0x002u
#define PTE_US 0x004u
#define PDE_PS 0x080u

/* Sequences are straight-line with short REPs: this only catches a loop. */
#define MAX_STEPS 100000u

static struct cpu cpu;
static struct guest_ram ram;
static struct bus bus;
static struct stats stats;
static struct emulator emulator;
static struct x86_executor executor;

static void put_entry(uint32_t address, uint32_t value)
{
    memcpy(ram.host + address, &value, 4);
}

static void build_page_tables(void)
{
    for (uint32_t table = 0; table < MAPPED_TABLES; table++) {
        uint32_t base = table << 22, page_table = PAGE_TABLES + table * PAGE_SIZE;
        put_entry(PAGE_DIRECTORY_4M + 4 * table, base | PDE_PS | PTE_US | PTE_RW | PTE_P);
        put_entry(PAGE_DIRECTORY_4K + 4 * table, page_table | PTE_US | PTE_RW | PTE_P);
        for (uint32_t page = 0; page < 1024; page++)
            put_entry(page_table + 4 * page, (base + (page << PAGE_SHIFT)) | PTE_US | PTE_RW | PTE_P);
    }
}

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
    build_page_tables();
    return 0;
}

/* Linux's user selectors (__USER32_CS, __USER_DS) with DPL 3, and a TSS
 * whose I/O map base (at offset 0x66) lies beyond its limit: no port is
 * allowed at CPL 3 (SDM vol. 1, 18.5.2), as for a Linux process. */
static void enter_user_mode(void)
{
    for (int s = 0; s < SEG_COUNT; s++) {
        cpu.segments[s].selector = s == SEG_CS ? 0x23 : 0x2b;
        cpu.segments[s].attributes |= 3u << 5;
    }
    cpu.tr.limit = 0x67;
    put_entry(0x64, 0x68u << 16);
}

static void reset_machine(const struct machine_state *initial, struct interp_setup setup)
{
    cpu_reset_to_flat_protected_mode(&cpu);
    if (setup.paging != PAGING_OFF) {
        cpu.cr4 = CR4_PSE;
        cpu.cr3 = setup.paging == PAGING_4K ? PAGE_DIRECTORY_4K : PAGE_DIRECTORY_4M;
        cpu.cr0 |= CR0_PG | CR0_WP;
    }
    if (setup.user_mode)
        enter_user_mode();
    static const uint32_t candidates[2] = { READ_ONLY_DATA_PAGE, READ_ONLY_STACK_PAGE };
    for (unsigned i = 0; i < 2; i++)                   /* the tables are contiguous */
        put_entry(PAGE_TABLES + 4 * (candidates[i] >> PAGE_SHIFT),
                  candidates[i] | PTE_US | (setup.read_only_page == candidates[i]
                                            ? (setup.page_absent ? 0 : PTE_P) : PTE_P | PTE_RW));
    memcpy(cpu.regs, initial->regs, sizeof cpu.regs);
    cpu.eflags = initial->eflags;
    cpu.eip = CODE_BASE;
    x86_executor_init(&executor, &emulator, &cpu, &ram, &bus, &stats);
    /* As techniques/interp: no sequence loads a segment register, so the
     * flat-segment fast path stays valid for the whole run. */
    x86_executor_note_flat_segments(&executor);
}

static void finish(struct interp_result *result)
{
    x86_executor_sync_flags(&executor);
    memcpy(result->final.regs, cpu.regs, sizeof cpu.regs);
    result->final.eflags = cpu.eflags;
    result->data = ram.host + DATA_BASE;
    result->low_data = ram.host + LOW_DATA_BASE;
}

/* Decode and execute from CODE_BASE until EIP reaches `end`. Returns false
 * with a message if EIP leaves the sequence or the run does not end. */
static bool step_until(uint32_t end, struct interp_result *result)
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
                const uint8_t *data, struct interp_setup setup, struct interp_result *result)
{
    static jmp_buf landing;
    memset(result, 0, sizeof *result);
    reset_machine(initial, setup);
    memcpy(ram.host + CODE_BASE, code, length);
    memset(ram.host + CODE_BASE + length, 0xf4, X86_MAX_INSTRUCTION_LENGTH);   /* hlt: never run */
    memcpy(ram.host + DATA_BASE, data, DATA_SIZE);
    memcpy(ram.host + LOW_DATA_BASE, data + DATA_SIZE, LOW_DATA_SIZE);
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
