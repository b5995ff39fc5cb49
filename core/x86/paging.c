/*
 * paging.c - the guest page-table walk: 32-bit paging with 4 KiB pages and,
 * when CR4.PSE is set, 4 MiB pages (SDM vol. 3, 4.3).
 *
 * The walk reads and updates the guest's page tables in guest-physical
 * memory, exactly where the guest keeps them. Page-table entries are read
 * with physical_read32 (mmu.c), so a directory or table that lies outside
 * RAM reads as all ones, as on a PC with nothing at that physical address.
 */
#include "paging.h"

/* Page-directory and page-table entry bits (SDM vol. 3, tables 4-4 to 4-6). */
#define PTE_PRESENT   0x001u
#define PTE_WRITABLE  0x002u
#define PTE_USER      0x004u
#define PTE_ACCESSED  0x020u
#define PTE_DIRTY     0x040u
#define PDE_LARGE     0x080u          /* PS: this PDE maps a 4 MiB page */
#define PDE_LARGE_RESERVED 0x003fe000u /* bits 21:13: physical bits 39:32 and bit 21,
                                        * reserved with a 32-bit physical address width */

/*
 * SDM vol. 3, 4.6.1: user accesses need U/S = 1 in every level, and writes
 * need R/W = 1 in every level. Supervisor reads are always allowed;
 * supervisor writes to read-only pages are allowed only while CR0.WP = 0.
 * `rights` is the AND of the U/S and R/W bits of the levels used.
 */
static bool access_permitted(const struct cpu *cpu, uint32_t rights, bool write, bool user)
{
    if (user && !(rights & PTE_USER))
        return false;
    if (write && !(rights & PTE_WRITABLE) && (user || (cpu->cr0 & CR0_WP)))
        return false;
    return true;
}

/* SDM vol. 3, 4.8: the accessed flag of every entry used, and the dirty flag
 * of the entry that maps the page on a write. We set them only for a walk
 * that succeeds, and write only bits that change, so a read-only guest page
 * table is not rewritten needlessly. */
static void mark_entry(struct emulator *e, uint32_t address, uint32_t entry, uint32_t bits)
{
    if ((entry & bits) != bits)
        physical_write32(e, address, entry | bits);
}

bool paging_walk(struct emulator *e, uint32_t linear, enum access_kind access, bool user,
                 bool set_bits, struct page_walk *walk)
{
    const struct cpu *cpu = e->cpu;
    bool write = access == ACCESS_WRITE;
    /* #PF error code (SDM vol. 3, 4.7): bit 1 W/R, bit 2 U/S. Bit 4 (I/D) is
     * only defined with NX, which 32-bit paging does not have, so an
     * instruction fetch reports as a read. */
    uint32_t error = (write ? 0x2u : 0) | (user ? 0x4u : 0);

    walk->large = false;
    if (!(cpu->cr0 & CR0_PG)) {
        walk->physical = linear;          /* paging off: linear = physical */
        return true;
    }

    uint32_t pde_address = (cpu->cr3 & 0xfffff000u) | ((linear >> 22) << 2);
    uint32_t pde = physical_read32(e, pde_address);
    if (!(pde & PTE_PRESENT)) {
        walk->error_code = error;         /* P = 0: not present */
        return false;
    }

    if ((pde & PDE_LARGE) && (cpu->cr4 & CR4_PSE)) {
        /* SDM vol. 3, 4.3, table 4-4: a 4 MiB page. Reserved bits set give
         * #PF with P = 1 and RSVD (bit 3). */
        if (pde & PDE_LARGE_RESERVED) {
            walk->error_code = error | 0x1u | 0x8u;
            return false;
        }
        if (!access_permitted(cpu, pde, write, user)) {
            walk->error_code = error | 0x1u;
            return false;
        }
        if (set_bits)
            mark_entry(e, pde_address, pde, PTE_ACCESSED | (write ? PTE_DIRTY : 0));
        walk->physical = (pde & 0xffc00000u) | (linear & 0x003fffffu);
        walk->large = true;
        return true;
    }

    uint32_t pte_address = (pde & 0xfffff000u) | (((linear >> 12) & 0x3ffu) << 2);
    uint32_t pte = physical_read32(e, pte_address);
    if (!(pte & PTE_PRESENT)) {
        walk->error_code = error;
        return false;
    }
    if (!access_permitted(cpu, pde & pte, write, user)) {
        walk->error_code = error | 0x1u;
        return false;
    }
    if (set_bits) {
        mark_entry(e, pde_address, pde, PTE_ACCESSED);
        mark_entry(e, pte_address, pte, PTE_ACCESSED | (write ? PTE_DIRTY : 0));
    }
    walk->physical = (pte & 0xfffff000u) | (linear & 0xfffu);
    return true;
}

bool x86_translate(struct emulator *e, uint32_t linear, enum access_kind access, bool user,
                   bool set_bits, uint32_t *physical, uint32_t *error_code)
{
    struct page_walk walk;

    if (!paging_walk(e, linear, access, user, set_bits, &walk)) {
        *error_code = walk.error_code;
        return false;
    }
    *physical = walk.physical;
    return true;
}
