/*
 * paging.c - 32-bit paging structures (Intel SDM vol. 3, 4.3): one page
 * directory, page tables taken from a small pool, identity mapping of low
 * memory so the guest keeps running at the same addresses when CR0.PG is set.
 */
#include "guest.h"

#define POOL_PAGES 24

volatile uint32_t page_directory[1024] __attribute__((aligned(4096)));
static uint8_t page_pool[POOL_PAGES][PAGE_SIZE] __attribute__((aligned(4096)));
static int pool_used;

void *page_alloc(void)
{
    if (pool_used == POOL_PAGES) {
        printf("FAIL: page pool exhausted\n");
        guest_exit(0x7b);
    }
    void *page = page_pool[pool_used++];
    memset(page, 0, PAGE_SIZE);
    return page;
}

/* The PDE gets U and W set: the effective access rights are the most
 * restrictive of PDE and PTE (SDM 4.6.1), so the PTE alone decides. */
volatile uint32_t *paging_pte(uint32_t va)
{
    volatile uint32_t *pde = &page_directory[va >> 22];
    if (!(*pde & PTE_P))
        *pde = (uint32_t)page_alloc() | PTE_P | PTE_W | PTE_U;
    volatile uint32_t *table = (volatile uint32_t *)(*pde & ~0xfffu);
    return &table[(va >> 12) & 0x3ff];
}

void paging_map(uint32_t va, uint32_t pa, uint32_t flags)
{
    *paging_pte(va) = (pa & ~0xfffu) | flags;
}

/* Identity-map [0, megabytes) with 4 KiB pages, writable, supervisor only.
 * Page 0 stays unmapped so a null pointer faults. */
void paging_identity_map(uint32_t megabytes)
{
    for (uint32_t va = PAGE_SIZE; va < megabytes << 20; va += PAGE_SIZE)
        paging_map(va, va, PTE_P | PTE_W);
}

void paging_enable(void)
{
    write_cr3((uint32_t)&page_directory[0]);
    write_cr0(read_cr0() | CR0_PG);
}

void paging_disable(void)
{
    write_cr0(read_cr0() & ~CR0_PG);
}
