/*
 * memory.c - the pagefault scenario. The kernel runs this program several
 * times; the argument picks what it does:
 *   0  use demand-zero memory (.bss, heap, stack) and a copied page
 *   1..4  make one fatal access, which must kill only this process
 */
#include "user.h"

#define PAGE 4096

extern char _start[];                           /* user/start.S */

static char big_bss[16 * PAGE];                 /* 16 pages, none loaded */
static char page_a[PAGE] __attribute__((aligned(PAGE))) = { 1 };  /* in .data */
static char page_b[PAGE] __attribute__((aligned(PAGE)));

static int all_zero(const char *p, int n)
{
    for (int i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* A deep stack frame touches stack pages that were never mapped. */
static int __attribute__((noinline)) deep_stack(int depth)
{
    volatile char frame[3 * PAGE];
    frame[0] = (char)depth;
    frame[sizeof(frame) - 1] = (char)depth;
    if (depth == 0)
        return frame[0] + frame[sizeof(frame) - 1];
    return deep_stack(depth - 1) + frame[0];
}

static void demand_paging(void)
{
    printf("memory: 16 untouched .bss pages read as zero: %s\n",
           all_zero(big_bss, sizeof(big_bss)) ? "yes" : "no");
    for (int i = 0; i < (int)sizeof(big_bss); i += PAGE)
        big_bss[i] = (char)(i / PAGE + 1);
    printf("memory: a write to each one sticks: %s\n",
           big_bss[5 * PAGE] == 6 && big_bss[15 * PAGE] == 16 ? "yes" : "no");
    printf("memory: 27 pages of fresh stack: %s\n", deep_stack(8) == 8 * 9 / 2 ? "ok" : "wrong");
    char *heap = sbrk(4 * PAGE);
    heap[3 * PAGE + 7] = 42;
    printf("memory: heap page from sbrk holds a write: %s\n", heap[3 * PAGE + 7] == 42 ? "yes" : "no");

    for (int i = 0; i < PAGE; i++)
        page_a[i] = (char)(i * 7);
    int ok = copy_page(page_b, page_a) == 0;
    page_a[100] = 0;                       /* the copy must not follow */
    printf("memory: copy_page gives a private copy: %s\n",
           ok && page_b[100] == (char)700 && page_b[4095] == (char)(4095 * 7) ? "yes" : "no");
}

static void fatal_access(int which)
{
    volatile uint32_t *p;
    switch (which) {
    case 1:
        printf("memory: reading address 0\n");
        p = (uint32_t *)0;
        (void)*p;
        break;
    case 2:
        printf("memory: writing to my own code\n");
        p = (uint32_t *)(uintptr_t)_start;
        *p = 0;
        break;
    case 3:
        printf("memory: reading kernel memory at 0x00100000\n");
        p = (uint32_t *)0x100000;
        (void)*p;
        break;
    case 4:
        printf("memory: writing between heap and stack at 0x60000000\n");
        p = (uint32_t *)0x60000000;
        *p = 1;
        break;
    }
    printf("memory: still alive after access %d: the kernel did not stop me\n", which);
}

int main(uint32_t which, uint32_t unused)
{
    (void)unused;
    if (which == 0)
        demand_paging();
    else
        fatal_access((int)which);
    return 0;
}
