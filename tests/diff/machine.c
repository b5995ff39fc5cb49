/*
 * machine.c - see machine.h.
 */
#include "machine.h"

#include <string.h>

#include "core/mem.h"

/* Identity-mapping page tables for the first 32 MiB, one directory per
 * paging mode (SDM vol. 3, 4.3: 32-bit paging), below the region. */
#define PAGE_DIRECTORY_4K 0x00200000u
#define PAGE_DIRECTORY_4M 0x00201000u
#define PAGE_TABLES       0x00202000u
#define MAPPED_TABLES     (MACHINE_RAM_SIZE + (4u << 20) - 1) / (4u << 20)
#define PTE_P  0x001u
#define PTE_RW 0x002u
#define PTE_US 0x004u
#define PDE_PS 0x080u

static void put_entry(uint8_t *ram, uint32_t address, uint32_t value)
{
    memcpy(ram + address, &value, 4);
}

void machine_build_page_tables(uint8_t *ram)
{
    for (uint32_t table = 0; table < MAPPED_TABLES; table++) {
        uint32_t base = table << 22, page_table = PAGE_TABLES + table * PAGE_SIZE;
        put_entry(ram, PAGE_DIRECTORY_4M + 4 * table, base | PDE_PS | PTE_US | PTE_RW | PTE_P);
        put_entry(ram, PAGE_DIRECTORY_4K + 4 * table, page_table | PTE_US | PTE_RW | PTE_P);
        for (uint32_t page = 0; page < 1024; page++)
            put_entry(ram, page_table + 4 * page, (base + (page << PAGE_SHIFT)) | PTE_US | PTE_RW | PTE_P);
    }
}

/* Linux's user selectors (__USER32_CS, __USER_DS) with DPL 3 (the TSS's
 * I/O map, machine_prepare, allows no port: SDM vol. 1, 18.5.2). */
static void enter_user_mode(struct cpu *cpu)
{
    for (int s = 0; s < SEG_COUNT; s++) {
        cpu->segments[s].selector = s == SEG_CS ? 0x23 : 0x2b;
        cpu->segments[s].attributes |= 3u << 5;
    }
    cpu->tr.limit = 0x67;
}

/* The TSS (at 0) has its I/O map base (offset 0x66) beyond its limit: no
 * port is allowed at CPL 3, as for a Linux process. */
void machine_prepare(uint8_t *ram, struct interp_setup setup)
{
    static const uint32_t candidates[2] = { READ_ONLY_DATA_PAGE, READ_ONLY_STACK_PAGE };
    for (unsigned i = 0; i < 2; i++)                   /* the tables are contiguous */
        put_entry(ram, PAGE_TABLES + 4 * (candidates[i] >> PAGE_SHIFT),
                  candidates[i] | PTE_US | (setup.read_only_page == candidates[i]
                                            ? (setup.page_absent ? 0 : PTE_P) : PTE_P | PTE_RW));
    put_entry(ram, 0x64, 0x68u << 16);
}

void machine_reset(struct cpu *cpu, const struct machine_state *initial, struct interp_setup setup)
{
    cpu_reset_to_flat_protected_mode(cpu);
    if (setup.paging != PAGING_OFF) {
        cpu->cr4 = CR4_PSE;
        cpu->cr3 = setup.paging == PAGING_4K ? PAGE_DIRECTORY_4K : PAGE_DIRECTORY_4M;
        cpu->cr0 |= CR0_PG | CR0_WP;
    }
    if (setup.user_mode)
        enter_user_mode(cpu);
    memcpy(cpu->regs, initial->regs, sizeof cpu->regs);
    cpu->eflags = initial->eflags;
    cpu->eip = CODE_BASE;
}

void machine_load(uint8_t *ram, const uint8_t *code, unsigned length, const uint8_t *filler,
                  unsigned end_length, const uint8_t *data)
{
    memcpy(ram + CODE_BASE, code, length);
    memcpy(ram + CODE_BASE + length, filler, end_length);
    machine_load_data(ram, data);
}

void machine_load_data(uint8_t *ram, const uint8_t *data)
{
    memcpy(ram + DATA_BASE, data, DATA_SIZE);
    memcpy(ram + LOW_DATA_BASE, data + DATA_SIZE, LOW_DATA_SIZE);
}
