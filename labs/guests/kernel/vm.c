/*
 * vm.c - address spaces: two-level page tables (Intel SDM vol. 3, 4.3).
 *
 * A 32-bit virtual address splits into a 10-bit directory index, a 10-bit
 * table index and a 12-bit offset. Every address space maps the kernel the
 * same way (physical RAM at its own address, supervisor-only), so a trap
 * or system call can run kernel code without switching CR3. The kernel's
 * page tables are shared: each new directory copies the kernel's entries.
 */
#include "kernel.h"
#include "arch.h"

#define DIR_INDEX(va)   ((uint32_t)(va) >> 22)
#define TABLE_INDEX(va) (((uint32_t)(va) >> 12) & 0x3ff)
#define ENTRY_ADDRESS(e) ((e) & ~0xfffu)
#define CR0_PE 0x00000001   /* protected mode */
#define CR0_ET 0x00000010   /* 387 present; hardwired to 1 since the 486 */
#define CR0_NE 0x00000020   /* native FPU error reporting */
#define CR0_WP 0x00010000   /* ring 0 too obeys read-only pages (SDM 4.6) */
#define CR0_PG 0x80000000   /* paging */

static pte_t *kernel_directory;
static uint32_t kernel_dir_entries;   /* directory slots the kernel uses */

pte_t *vm_kernel_directory(void)
{
    return kernel_directory;
}

/* The page-table entry for va, making its page table if create is set. */
pte_t *vm_lookup(pte_t *directory, uint32_t va, bool create)
{
    pte_t *dir_entry = &directory[DIR_INDEX(va)];
    if (!(*dir_entry & PTE_PRESENT)) {
        if (!create)
            return NULL;
        pte_t *table = page_alloc();
        if (!table)
            return NULL;
        arch_page_table_new(table, false);
        /* Directory entries allow everything; the page entries decide
         * (SDM 4.6: the stricter of the two levels applies). */
        arch_set_pte(dir_entry, (uint32_t)table | PTE_PRESENT | PTE_WRITE | PTE_USER);
    }
    pte_t *table = (pte_t *)ENTRY_ADDRESS(*dir_entry);
    return &table[TABLE_INDEX(va)];
}

int vm_map(pte_t *directory, uint32_t va, uint32_t pa, uint32_t flags)
{
    pte_t *pte = vm_lookup(directory, va, true);
    if (!pte)
        return -1;
    arch_set_pte(pte, pa | flags | PTE_PRESENT);
    return 0;
}

/* Remove one mapping. The TLB may still hold it: the caller flushes with
 * invlpg if the directory is the current one (SDM 4.10.4.1). */
void vm_unmap(pte_t *directory, uint32_t va)
{
    pte_t *pte = vm_lookup(directory, va, false);
    if (pte)
        arch_set_pte(pte, 0);
}

void vm_switch(pte_t *directory)
{
    arch_set_cr3((uint32_t)directory);
}

/* Identity-map RAM for the kernel, except page 0, so that a null pointer
 * dereference in the kernel faults instead of reading the BIOS's data. */
void vm_init(uint32_t ram_end)
{
    kernel_directory = page_alloc();
    if (!kernel_directory)
        panic("vm_init: no memory for the page directory");
    for (uint32_t pa = PAGE_SIZE; pa < ram_end; pa += PAGE_SIZE)
        if (vm_map(kernel_directory, pa, pa, PTE_WRITE) < 0)
            panic("vm_init: no memory for the kernel page tables");
    kernel_dir_entries = DIR_INDEX(ram_end - 1) + 1;
    /* The APICs' registers, uncached (PCD, PWT); both pages lie in one
     * page table, which every address space shares (vm_new_space). */
    for (int which = 0; apic_mode && which < 2; which++)
        if (vm_map(kernel_directory, apic_page(which), apic_page(which),
                   PTE_WRITE | PTE_PCD | PTE_PWT) < 0)
            panic("vm_init: no memory for the APIC page table");
    if (kernel_dir_entries > DIR_INDEX(USER_BASE))
        panic("vm_init: kernel mapping overlaps user space");
    vm_switch(kernel_directory);
    arch_set_cr0(CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_PE);
    _Static_assert((CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_PE) == KERNEL_CR0, "KERNEL_CR0");
}

/* A new address space: the kernel's directory entries, no user pages. */
pte_t *vm_new_space(void)
{
    pte_t *directory = page_alloc();
    if (!directory)
        return NULL;
    for (uint32_t i = 0; i < kernel_dir_entries; i++)
        directory[i] = kernel_directory[i];    /* not a page table yet: plain stores */
    if (apic_mode)
        directory[DIR_INDEX(apic_page(0))] = kernel_directory[DIR_INDEX(apic_page(0))];
    arch_page_table_new(directory, true);
    return directory;
}

/* Free the user pages, the user page tables and the directory itself;
 * the kernel's tables are shared and stay. */
void vm_free_space(pte_t *directory)
{
    arch_page_table_retire(directory);
    for (uint32_t d = DIR_INDEX(USER_BASE); d < DIR_INDEX(USER_STACK_TOP); d++) {
        if (!(directory[d] & PTE_PRESENT))
            continue;
        pte_t *table = (pte_t *)ENTRY_ADDRESS(directory[d]);
        for (int t = 0; t < 1024; t++)
            if (table[t] & PTE_PRESENT)
                page_free((void *)ENTRY_ADDRESS(table[t]));
        arch_page_table_retire(table);
        page_free(table);
    }
    page_free(directory);
}
