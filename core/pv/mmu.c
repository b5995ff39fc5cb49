/*
 * mmu.c - direct paging (Xen's): the guest's own page tables, checked by
 * the VMM instead of shadowed.
 *
 * Under trapemu the VMM keeps a hidden (shadow) copy of the guest's page
 * tables and write-protects the originals to notice edits; under pv there
 * is no copy. The CPU walks the guest's tables themselves, so the VMM must
 * make sure they can never map something the guest must not touch. It
 * keeps one invariant, per guest frame (enum pv_frame_type):
 *
 *   a pinned page table maps only frames the guest owns, and never a
 *   page-table page or the hypercall page writable; a pinned directory
 *   points only at pinned page tables (no 4 MiB pages).
 *
 * Pinning checks a whole table (and that no pinned table already maps it
 * writable); after that, PV_MMU_UPDATE checks each entry written, so the
 * invariant holds at every instant. A guest that breaks it gets an error
 * code and a pv-refused/<what> row - never a mapping.
 */
#include "pv_internal.h"

#include <stdio.h>
#include <string.h>

#include "core/lab.h"
#include "core/vm.h"
#include "core/x86/system.h"

#define PTE_P  0x001u
#define PTE_RW 0x002u
#define PDE_PS 0x080u
#define ENTRIES 1024u

static uint32_t *frame_words(struct pv *pv, uint32_t frame_address)
{
    return (uint32_t *)(pv->vm->ram.host + frame_address);
}

static enum pv_frame_type type_of(const struct pv *pv, uint32_t address)
{
    return pv->frame_types[address >> PAGE_SHIFT];
}

static bool owned_frame(const struct pv *pv, uint32_t address)
{
    return pv_guest_owns(pv, address & ~(PAGE_SIZE - 1), PAGE_SIZE);
}

/* May `value` stand in a pinned page table? 0, or a refusal. Used for
 * every entry of a table being pinned and for every PTE a PV_MMU_UPDATE
 * writes: this function is the whole of what keeps a pv guest inside its
 * own memory (the CPU walks these tables as they are, with no shadow). */
static int32_t check_table_entry(struct pv *pv, uint32_t value)
{
    /* LAB 05: BEGIN what a page-table entry may map */
    char detail[46];
    if (!(value & PTE_P))
        return 0;                       /* not present: maps nothing */
    uint32_t target = value & ~(PAGE_SIZE - 1);
    snprintf(detail, sizeof detail, "pte 0x%08x", value);
    if (!owned_frame(pv, target))
        return pv_refuse(pv, PV_EPERM, "map-not-owned", detail);
    if (!(value & PTE_RW))
        return 0;                       /* read-only: any frame of its own */
    switch (type_of(pv, target)) {
    case PV_FRAME_TABLE:
    case PV_FRAME_DIRECTORY:
        return pv_refuse(pv, PV_EPERM, "map-page-table-writable", detail);
    case PV_FRAME_VMM:
        return pv_refuse(pv, PV_EPERM, "map-vmm-page-writable", detail);
    default:
        return 0;
    }
    /* LAB 05: STUB
    (void)pv;
    (void)value;
    LAB_NOT_IMPLEMENTED(5, "what a page-table entry may map (core/pv/mmu.c, check_table_entry): "
                           "every entry is accepted");
    return 0;
       LAB 05: END */
}

/* May `value` stand in a pinned page directory? */
static int32_t check_directory_entry(struct pv *pv, uint32_t value)
{
    char detail[46];
    if (!(value & PTE_P))
        return 0;
    snprintf(detail, sizeof detail, "pde 0x%08x", value);
    if (value & PDE_PS)
        return pv_refuse(pv, PV_EPERM, "map-large-page", detail);
    uint32_t target = value & ~(PAGE_SIZE - 1);
    if (!owned_frame(pv, target) || type_of(pv, target) != PV_FRAME_TABLE)
        return pv_refuse(pv, PV_EPERM, "directory-entry-not-pinned-table", detail);
    return 0;
}

/* Does any pinned table map `frame` writable? (A scan: small guests,
 * rare pins; Xen keeps a count per frame instead.) */
static bool mapped_writable(struct pv *pv, uint32_t frame)
{
    for (uint32_t f = 0; f < pv->frame_count; f++) {
        if (pv->frame_types[f] != PV_FRAME_TABLE)
            continue;
        const uint32_t *entries = frame_words(pv, f << PAGE_SHIFT);
        for (uint32_t i = 0; i < ENTRIES; i++)
            if ((entries[i] & (PTE_P | PTE_RW)) == (PTE_P | PTE_RW) &&
                (entries[i] & ~(PAGE_SIZE - 1)) == frame)
                return true;
    }
    return false;
}

static bool referenced_by_directory(struct pv *pv, uint32_t frame)
{
    for (uint32_t f = 0; f < pv->frame_count; f++) {
        if (pv->frame_types[f] != PV_FRAME_DIRECTORY)
            continue;
        const uint32_t *entries = frame_words(pv, f << PAGE_SHIFT);
        for (uint32_t i = 0; i < ENTRIES; i++)
            if ((entries[i] & PTE_P) && (entries[i] & ~(PAGE_SIZE - 1)) == frame)
                return true;
    }
    return false;
}

static int32_t pin(struct pv *pv, uint32_t frame, enum pv_frame_type type)
{
    char detail[46];
    snprintf(detail, sizeof detail, "frame 0x%08x", frame);
    if ((frame & (PAGE_SIZE - 1)) || !owned_frame(pv, frame))
        return pv_refuse(pv, PV_EINVAL, "pin-not-owned", detail);
    if (type_of(pv, frame) != PV_FRAME_PLAIN)
        return pv_refuse(pv, PV_EBUSY, "pin-not-plain", detail);
    if (mapped_writable(pv, frame))
        return pv_refuse(pv, PV_EPERM, "pin-mapped-writable", detail);
    const uint32_t *entries = frame_words(pv, frame);
    pv->frame_types[frame >> PAGE_SHIFT] = type;        /* a table mapping itself RW is refused */
    for (uint32_t i = 0; i < ENTRIES; i++) {
        int32_t refused = type == PV_FRAME_TABLE ? check_table_entry(pv, entries[i])
                                                 : check_directory_entry(pv, entries[i]);
        if (refused) {
            pv->frame_types[frame >> PAGE_SHIFT] = PV_FRAME_PLAIN;
            return refused;
        }
    }
    return 0;
}

static int32_t unpin(struct pv *pv, uint32_t frame)
{
    if ((frame & (PAGE_SIZE - 1)) || !owned_frame(pv, frame))
        return pv_refuse(pv, PV_EINVAL, "unpin-not-owned", NULL);
    enum pv_frame_type type = type_of(pv, frame);
    if (type != PV_FRAME_TABLE && type != PV_FRAME_DIRECTORY)
        return pv_refuse(pv, PV_EINVAL, "unpin-not-pinned", NULL);
    if (type == PV_FRAME_TABLE && referenced_by_directory(pv, frame))
        return pv_refuse(pv, PV_EBUSY, "unpin-table-in-use", NULL);
    if (type == PV_FRAME_DIRECTORY && (pv->vm->cpu.cr0 & CR0_PG) &&
        (pv->vm->cpu.cr3 & ~(PAGE_SIZE - 1)) == frame)
        return pv_refuse(pv, PV_EBUSY, "unpin-current-directory", NULL);
    pv->frame_types[frame >> PAGE_SHIFT] = PV_FRAME_PLAIN;
    return 0;
}

static int32_t new_base_pointer(struct pv *pv, struct emulator *e, uint32_t frame)
{
    if ((frame & (PAGE_SIZE - 1)) || !owned_frame(pv, frame) ||
        type_of(pv, frame) != PV_FRAME_DIRECTORY)
        return pv_refuse(pv, PV_EINVAL, "baseptr-not-pinned-directory", NULL);
    x86_write_control_register(e, 3, frame);
    if (!(e->cpu->cr0 & CR0_PG))           /* the first base pointer turns paging on */
        x86_write_control_register(e, 0, e->cpu->cr0 | CR0_PG | CR0_WP);
    return 0;
}

/* The technique running the guest may mirror its tables (bt's shadow,
 * the pv technique's direct paging): it hears of every change we make. */
static void tell_technique(struct emulator *e, enum paging_change change, uint32_t address)
{
    if (e->paging_changed)
        e->paging_changed(e, change, address);
}

int32_t pv_mmuext(struct pv *pv, struct emulator *e, const uint32_t args[5])
{
    switch (args[0]) {
    case PV_MMUEXT_PIN_TABLE: return pin(pv, args[1], PV_FRAME_TABLE);
    case PV_MMUEXT_PIN_DIRECTORY: return pin(pv, args[1], PV_FRAME_DIRECTORY);
    case PV_MMUEXT_UNPIN: return unpin(pv, args[1]);
    case PV_MMUEXT_NEW_BASEPTR: return new_base_pointer(pv, e, args[1]);
    case PV_MMUEXT_INVLPG:
        x86_tlb_flush_page(e, args[1]);
        tell_technique(e, PAGING_INVLPG, args[1]);
        return 0;
    case PV_MMUEXT_TLB_FLUSH:
        x86_tlb_flush_all(e);
        tell_technique(e, PAGING_FLUSH, 0);
        return 0;
    default: return pv_refuse(pv, PV_ENOSYS, "mmuext-op", NULL);
    }
}

/* Batch sizes as powers of two, so the table shows whether a guest
 * batches: pv-mmu-batch/1, /2-3, /4-7, ... */
static void count_batch(struct pv *pv, uint32_t count)
{
    pv_count_batch(pv, "pv-mmu-batch", count);
}

static int32_t check_update(struct pv *pv, const struct pv_mmu_update *update)
{
    char detail[46];
    snprintf(detail, sizeof detail, "entry at 0x%08x", update->entry);
    if ((update->entry & 3) || !owned_frame(pv, update->entry))
        return pv_refuse(pv, PV_EINVAL, "update-not-owned", detail);
    switch (type_of(pv, update->entry)) {
    case PV_FRAME_TABLE: return check_table_entry(pv, update->value);
    case PV_FRAME_DIRECTORY: return check_directory_entry(pv, update->value);
    default: return pv_refuse(pv, PV_EINVAL, "update-not-page-table", detail);
    }
}

/* Write one checked entry: through pv_write_physical, not a memcpy (the
 * interpreter may hold decoded code of that page), and tell the technique,
 * which may mirror the tables (the pv technique's direct paging). */
static void write_entry(struct emulator *e, uint32_t entry, uint32_t value)
{
    pv_write_physical(e, entry, &value, 4);
    tell_technique(e, PAGING_ENTRY_WRITTEN, entry);
}

/* PV_MMU_UPDATE: EBX = a list of struct pv_mmu_update (a linear address
 * of the guest's), ECX = how many. A batch of entry writes, all checked
 * before any is made: a refused batch changes nothing. Returns the number
 * written. */
int32_t pv_mmu_update(struct pv *pv, struct emulator *e, const uint32_t args[5])
{
    /* LAB 05: BEGIN the batch: the count, the list, every entry checked before any is written */
    static struct pv_mmu_update updates[PV_MMU_UPDATE_MAX];
    uint32_t list = args[0], count = args[1];
    if (count == 0 || count > PV_MMU_UPDATE_MAX)
        return pv_refuse(pv, count ? PV_E2BIG : PV_EINVAL, "mmu-update-count", NULL);
    /* Never dereference the guest's pointer: copy through its page tables. */
    if (pv_copy_from_guest(pv, e, updates, list, count * (uint32_t)sizeof updates[0]) < 0)
        return pv_refuse(pv, PV_EFAULT, "mmu-update-pointer", NULL);
    count_batch(pv, count);
    for (uint32_t i = 0; i < count; i++) {
        int32_t refused = check_update(pv, &updates[i]);
        if (refused)
            return refused;
    }
    for (uint32_t i = 0; i < count; i++)
        write_entry(e, updates[i].entry, updates[i].value);
    return (int32_t)count;
    /* LAB 05: STUB
    (void)e;
    (void)args;
    (void)count_batch;
    (void)check_update;
    (void)write_entry;
    LAB_NOT_IMPLEMENTED(5, "the PV_MMU_UPDATE batch (core/pv/mmu.c, pv_mmu_update): "
                           "every batch is refused with -PV_ENOSYS");
    return pv_refuse(pv, PV_ENOSYS, "mmu-update-not-implemented", NULL);
       LAB 05: END */
}
