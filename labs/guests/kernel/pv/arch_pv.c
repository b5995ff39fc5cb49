/*
 * arch_pv.c - start-up and page tables for the paravirtual build.
 *
 * PV_INIT first: it names the hypercall page and the shared info page and
 * gets the kernel the VMM's GDT, TSS and (empty) IDT. Paging then follows
 * Xen's direct paging: the kernel builds its first page tables with plain
 * stores while paging is off (vm_init, unchanged), and the first
 * arch_set_cr3 hands them over - every page-table page and the hypercall
 * page mapped read-only, the legacy hole (not RAM) unmapped, each table
 * pinned (checked by the VMM), then the directory - and turns paging on.
 * From then on every entry is written by PV_MMU_UPDATE, and a page that
 * becomes a page table is made read-only and pinned first.
 */
#ifdef PV
#include "../kernel.h"
#include "../arch.h"

uint8_t pv_hypercall_page[4096] __attribute__((aligned(4096)));
struct pv_shared_info pv_shared_info __attribute__((aligned(4096)));

/* Where trap_return jumps (vectors.S): the hypercall page's iret entry. */
const uint32_t pv_iret_entry = (uint32_t)pv_hypercall_page + PV_IRET * PV_HYPERCALL_ENTRY_SIZE;

static bool paging_live;                 /* the VMM checks every entry from now on */
static uint32_t *kernel_directory;       /* maps every frame at its own address */
static uint32_t current_directory;

void arch_init(void)
{
    int32_t result = pv_call(PV_INIT, (uint32_t)pv_hypercall_page, (uint32_t)&pv_shared_info,
                             PV_ABI_VERSION);
    (void)result;   /* on failure the page holds no stubs: the next call stops the machine */
}

__attribute__((noreturn)) void arch_exit(int status)
{
    extern void pv_console_flush(void);
    pv_console_flush();
    for (;;)
        pv_call(PV_SCHED_OP, PV_SCHED_SHUTDOWN, (uint32_t)status & 0x7f, 0);
}

/* ---- the kernel's identity mapping of a frame ---- */

static uint32_t *identity_entry(uint32_t frame)
{
    uint32_t table = kernel_directory[frame >> 22] & ~0xfffu;
    return table ? &((uint32_t *)table)[(frame >> 12) & 0x3ff] : 0;
}

static void set_writable(void *page, bool writable)
{
    uint32_t *entry = identity_entry((uint32_t)page);
    if (!entry || !(*entry & PTE_PRESENT))
        return;
    arch_set_pte(entry, writable ? (*entry | PTE_WRITE) : (*entry & ~(uint32_t)PTE_WRITE));
    arch_invlpg((uint32_t)page);
}

static void pin(void *page, int op)
{
    int32_t result = pv_call(PV_MMUEXT, (uint32_t)op, (uint32_t)page, 0);
    if (result != 0)
        panic("pinning page 0x%08x refused (%d)", (uint32_t)page, result);
}

/* ---- the hand-over: paging off, plain stores -> paging on, checked ---- */

static void clear_write_bit(uint32_t frame)
{
    uint32_t *entry = identity_entry(frame);
    if (entry)
        *entry &= ~(uint32_t)PTE_WRITE;
}

static void start_paging(uint32_t *directory)
{
    kernel_directory = directory;
    for (uint32_t frame = 0xa0000; frame < 0x100000; frame += PAGE_SIZE) {
        uint32_t *entry = identity_entry(frame);
        if (entry)
            *entry = 0;                         /* the legacy hole is not RAM */
    }
    clear_write_bit((uint32_t)pv_hypercall_page);
    clear_write_bit((uint32_t)directory);
    for (int d = 0; d < 1024; d++)
        if (directory[d] & PTE_PRESENT)
            clear_write_bit(directory[d] & ~0xfffu);
    for (int d = 0; d < 1024; d++)
        if (directory[d] & PTE_PRESENT)
            pin((void *)(directory[d] & ~0xfffu), PV_MMUEXT_PIN_TABLE);
    pin(directory, PV_MMUEXT_PIN_DIRECTORY);
    paging_live = true;
}

void arch_set_cr3(uint32_t page_directory)
{
    if (!paging_live)
        start_paging((uint32_t *)page_directory);
    int32_t result = pv_call(PV_MMUEXT, PV_MMUEXT_NEW_BASEPTR, page_directory, 0);
    if (result != 0)
        panic("new base pointer 0x%08x refused (%d)", page_directory, result);
    current_directory = page_directory;
}

uint32_t arch_get_cr3(void)
{
    return current_directory;
}

/* Every page-table entry the kernel writes (vm.c, usermem.c, bench.c) comes
 * here. Natively it is a store. Here, once paging is on, the entry lies in
 * a pinned page, mapped read-only: a store would fault, and the VMM must
 * see (and check) the write anyway. The kernel maps every frame at its own
 * address, so `entry` is also the entry's physical address, which is what
 * PV_MMU_UPDATE wants. */
void arch_set_pte(uint32_t *entry, uint32_t value)
{
    /* LAB 05: BEGIN writing a page-table entry through PV_MMU_UPDATE */
    if (!paging_live) {
        *entry = value;                 /* the boot tables: not pinned yet */
        return;
    }
    struct pv_mmu_update one = { (uint32_t)entry, value };
    int32_t done = pv_call(PV_MMU_UPDATE, (uint32_t)&one, 1, 0);
    if (done != 1)
        panic("mmu_update of 0x%08x with 0x%08x refused (%d)", (uint32_t)entry, value, (int)done);
    /* LAB 05: STUB
    if (!paging_live) {
        *entry = value;
        return;
    }
    panic("not implemented (lab 05): arch_set_pte (labs/guests/kernel/pv/arch_pv.c) "
          "cannot write entry 0x%08x: no PV_MMU_UPDATE", (uint32_t)entry);
       LAB 05: END */
}

/* A fresh page becomes a page table (or directory): read-only, then pinned. */
void arch_page_table_new(void *page, bool directory)
{
    if (!paging_live)
        return;
    set_writable(page, false);
    pin(page, directory ? PV_MMUEXT_PIN_DIRECTORY : PV_MMUEXT_PIN_TABLE);
}

/* And back to plain memory, writable, before it is freed. */
void arch_page_table_retire(void *page)
{
    if (!paging_live)
        return;
    pin(page, PV_MMUEXT_UNPIN);
    set_writable(page, true);
}

/* The IDT idt.c built, as the trap table the VMM checks and installs. */
void arch_set_idt(const void *base, uint16_t limit)
{
    static struct pv_trap_entry table[256];
    const uint64_t *gates = base;
    uint32_t count = 0;
    for (uint32_t v = 0; v < 256 && v * 8 < (uint32_t)limit + 1; v++) {
        uint64_t gate = gates[v];
        if (!(gate & (1ull << 47)))
            continue;                            /* not present */
        table[count].vector = (uint8_t)v;
        table[count].dpl = (uint8_t)((gate >> 45) & 3);
        table[count].cs = (uint16_t)(gate >> 16);
        table[count].handler = (uint32_t)(gate & 0xffff) | (uint32_t)(gate >> 48) << 16;
        count++;
    }
    int32_t result = pv_call(PV_SET_TRAP_TABLE, (uint32_t)table, count, 0);
    if (result != 0)
        panic("trap table refused (%d)", result);
}

void arch_set_kernel_stack(uint32_t esp0)
{
    pv_call(PV_STACK_SWITCH, SEL_KERNEL_DATA, esp0, 0);
}
#endif
