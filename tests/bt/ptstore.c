/*
 * ptstore.c - a page-table edit by a store that bt has made a callout
 * (techniques/bt/adaptive.c). One store instruction (set_pte) maps a
 * linear page to frame A, then B, then A... 40 times, each time followed
 * by INVLPG and a read through the page. Under bt the first few of those
 * stores fault on the traced page table; then the store is translated
 * again as a callout that tells the shadow, and every read must still see
 * the frame the entry names. tests/bt/run.sh compares the transcript with
 * QEMU's (tests/bt/expected/ptstore.out) and checks the bt-adaptive rows.
 */
#include "guest.h"

#define WINDOW 0x40000000u

static volatile uint32_t frame_a[1024] __attribute__((aligned(4096)));
static volatile uint32_t frame_b[1024] __attribute__((aligned(4096)));

/* The one store that edits the page table, always the same instruction. */
static void __attribute__((noinline)) set_pte(volatile uint32_t *pte, uint32_t value)
{
    *pte = value;
}

int guest_main(void)
{
    paging_identity_map(8);
    paging_enable();
    frame_a[5] = 0xaaaa0005;
    frame_b[5] = 0xbbbb0005;
    volatile uint32_t *pte = paging_pte(WINDOW);
    volatile uint32_t *window = (volatile uint32_t *)WINDOW;
    uint32_t hash = 0;
    for (int i = 0; i < 40; i++) {
        uint32_t frame = (uint32_t)(uintptr_t)(i % 2 ? frame_b : frame_a);
        set_pte(pte, frame | PTE_P | PTE_W);
        invlpg(window);
        uint32_t seen = window[5];
        hash = hash_word(hash, seen);
        if (i % 10 == 0 || i == 39)
            printf("store %2d: the window shows %08x\n", i, seen);
        if (seen != (i % 2 ? 0xbbbb0005u : 0xaaaa0005u)) {
            printf("FAIL: store %d: the window shows %08x\n", i, seen);
            return 1;
        }
    }
    window[6] = 0x600d;                         /* through the last mapping: frame B */
    printf("writes through the window reach frame b: %s; hash %08x\n",
           frame_b[6] == 0x600d ? "yes" : "no", hash);
    return 0;
}
