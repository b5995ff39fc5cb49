/*
 * usermem.c - the current process's memory, seen from the kernel:
 * demand-zero pages, the heap (sbrk), page copies, and the check every
 * system call makes before it touches a user pointer.
 *
 * A process's address space:
 *   USER_BASE ... image_end   the program, loaded by exec.c
 *   image_end ... brk         the heap, grown by sbrk
 *   stack bottom ... USER_STACK_TOP   the stack, at most USER_STACK_MAX
 * Pages of the image's .bss, the heap and the stack are not allocated
 * until touched; the first touch faults and gets a zeroed page.
 */
#include "proc.h"
#include "arch.h"

#define STACK_BOTTOM (USER_STACK_TOP - USER_STACK_MAX)

static bool demand_zero_allowed(const struct proc *p, uint32_t va)
{
    return (va >= USER_BASE && va < p->brk) || (va >= STACK_BOTTOM && va < USER_STACK_TOP);
}

/* Called from the page-fault handler for a not-present page. */
bool user_fault_resolve(uint32_t va, bool write)
{
    (void)write;                       /* heap and stack pages are all writable */
    struct proc *p = proc_current();
    if (!demand_zero_allowed(p, va))
        return false;
    void *page = page_alloc();
    if (!page)
        return false;
    if (vm_map(p->directory, PAGE_ROUND_DOWN(va), (uint32_t)page, PTE_USER | PTE_WRITE) < 0) {
        page_free(page);
        return false;
    }
    return true;
}

/* May the kernel read (or write) [va, va+len) for the current process?
 * Every page must be a user page (writable, for a write), or one that
 * demand paging will create when the kernel touches it. */
bool user_range_ok(uint32_t va, uint32_t len, bool write)
{
    struct proc *p = proc_current();
    if (!p || va < USER_BASE || va >= USER_STACK_TOP || len > USER_STACK_TOP - va)
        return false;
    for (uint32_t page = PAGE_ROUND_DOWN(va); page < va + len; page += PAGE_SIZE) {
        pte_t *pte = vm_lookup(p->directory, page, false);
        if (pte && (*pte & PTE_PRESENT)) {
            if (!(*pte & PTE_USER) || (write && !(*pte & PTE_WRITE)))
                return false;
        } else if (!demand_zero_allowed(p, page)) {
            return false;
        }
    }
    return true;
}

static void unmap_and_free(struct proc *p, uint32_t va)
{
    pte_t *pte = vm_lookup(p->directory, va, false);
    if (!pte || !(*pte & PTE_PRESENT))
        return;
    page_free((void *)(*pte & ~0xfffu));
    arch_set_pte(pte, 0);
    arch_invlpg(va);                   /* the TLB may still hold the old entry */
}

/* Move the end of the heap by delta bytes; return the old end, or -1.
 * Growing allocates nothing (the pages come on demand); shrinking frees. */
int user_sbrk(int delta)
{
    struct proc *p = proc_current();
    uint32_t old = p->brk, new = old + (uint32_t)delta;
    if ((delta > 0 && (new < old || new > STACK_BOTTOM)) ||
        (delta < 0 && (new > old || new < p->image_end)))
        return -1;
    for (uint32_t va = PAGE_ROUND_UP(new); va < PAGE_ROUND_UP(old); va += PAGE_SIZE)
        unmap_and_free(p, va);
    p->brk = new;
    return (int)old;
}

/* Give page dst a private copy of page src (both page-aligned). */
int user_copy_page(uint32_t dst, uint32_t src)
{
    struct proc *p = proc_current();
    if (dst % PAGE_SIZE || src % PAGE_SIZE || !user_range_ok(src, PAGE_SIZE, false) ||
        !demand_zero_allowed(p, dst))
        return -1;
    uint8_t *copy = page_alloc();
    if (!copy)
        return -1;
    memcpy(copy, (const void *)src, PAGE_SIZE);   /* may demand-fault src in */
    unmap_and_free(p, dst);
    if (vm_map(p->directory, dst, (uint32_t)copy, PTE_USER | PTE_WRITE) < 0) {
        page_free(copy);
        return -1;
    }
    return 0;
}
