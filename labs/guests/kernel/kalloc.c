/*
 * kalloc.c - the physical page allocator: a list of free 4 KiB pages,
 * threaded through the free pages themselves.
 *
 * Pages are handed out lowest address first. Nothing depends on that, but
 * it makes runs reproducible: a machine with a little more RAM at the top
 * (vmlab versus QEMU) hands out the same pages in the same order.
 */
#include "kernel.h"

struct free_page {
    struct free_page *next;
};

static struct free_page *free_list;
static uint32_t free_count;

void page_free(void *page)
{
    if ((uint32_t)page % PAGE_SIZE)
        panic("page_free: 0x%x is not page-aligned", (uint32_t)page);
    struct free_page *p = page;
    p->next = free_list;
    free_list = p;
    free_count++;
}

/* Free [start, end) from the top down, so the lowest page ends up first. */
void kalloc_init(uint32_t start, uint32_t end)
{
    for (uint32_t p = PAGE_ROUND_DOWN(end); p > PAGE_ROUND_UP(start); )
        page_free((void *)(p -= PAGE_SIZE));
}

/* A zeroed page, or NULL when memory is exhausted. Zeroing a word at a
 * time: every demand-zero page fault pays for this loop. */
void *page_alloc(void)
{
    struct free_page *p = free_list;
    if (!p)
        return NULL;
    free_list = p->next;
    free_count--;
    uint32_t *word = (uint32_t *)p;
    for (uint32_t i = 0; i < PAGE_SIZE / 4; i++)
        word[i] = 0;
    return p;
}

uint32_t pages_free(void)
{
    return free_count;
}
