/*
 * paging - 32-bit paging as the CPU sees it (Intel SDM vol. 3, chapter 4):
 * aliasing, 4 MiB pages, accessed and dirty bits, INVLPG and CR3 reloads,
 * and CR0.WP.
 */
#include "guest.h"

#define VA_ALIAS_A 0x40000000u
#define VA_ALIAS_B 0x40001000u
#define VA_AD      0x40002000u
#define VA_SWITCH  0x40003000u
#define VA_RO      0x40004000u
#define VA_BIG_LOW 0x80000000u   /* 4 MiB page onto physical 0 */
#define VA_BIG_HI  0xc0000000u   /* 4 MiB page onto physical 4 MiB */

static volatile uint32_t marker = 0x600dcafe;

static void test_alias(void)
{
    uint32_t *phys = page_alloc();
    paging_map(VA_ALIAS_A, (uint32_t)phys, PTE_P | PTE_W);
    paging_map(VA_ALIAS_B, (uint32_t)phys, PTE_P | PTE_W);
    *(volatile uint32_t *)(VA_ALIAS_A + 8) = 0x12345678;
    uint32_t via_b = *(volatile uint32_t *)(VA_ALIAS_B + 8);
    uint32_t via_phys = ((volatile uint32_t *)phys)[2];
    printf("alias: wrote 12345678 at %08x, read %08x at %08x and %08x physically\n",
           VA_ALIAS_A + 8, via_b, VA_ALIAS_B + 8, via_phys);
    CHECK(via_b == 0x12345678 && via_phys == 0x12345678, "alias does not see the write");
}

/* SDM 4.8: the CPU sets A on any access through a paging-structure entry,
 * and D in the PTE on a write; software must clear them itself. */
static void test_accessed_dirty(void)
{
    volatile uint32_t *pte = paging_pte(VA_AD);
    volatile uint32_t *pde = &page_directory[VA_AD >> 22];
    *pte = (uint32_t)page_alloc() | PTE_P | PTE_W;
    *pde &= ~PTE_A;
    invlpg((void *)VA_AD);
    printf("A/D: fresh PTE: A=%u D=%u\n", !!(*pte & PTE_A), !!(*pte & PTE_D));
    CHECK(!(*pte & (PTE_A | PTE_D)), "fresh PTE has A or D set");
    uint32_t v = *(volatile uint32_t *)VA_AD;
    printf("A/D: after a read: PTE A=%u D=%u, PDE A=%u\n",
           !!(*pte & PTE_A), !!(*pte & PTE_D), !!(*pde & PTE_A));
    CHECK((*pte & PTE_A) && !(*pte & PTE_D) && (*pde & PTE_A), "read did not set A only");
    *(volatile uint32_t *)VA_AD = v + 1;
    printf("A/D: after a write: PTE A=%u D=%u\n", !!(*pte & PTE_A), !!(*pte & PTE_D));
    CHECK((*pte & PTE_A) && (*pte & PTE_D), "write did not set D");
}

/* SDM 4.10.4: after changing a PTE, INVLPG (or a CR3 write, for non-global
 * pages) makes the CPU use the new entry. What it sees before that is not
 * architecturally defined, so it is not printed. */
static void test_invlpg(void)
{
    uint32_t *page_a = page_alloc(), *page_b = page_alloc();
    page_a[0] = 0xaaaaaaaa;
    page_b[0] = 0xbbbbbbbb;
    volatile uint32_t *va = (volatile uint32_t *)VA_SWITCH;
    paging_map(VA_SWITCH, (uint32_t)page_a, PTE_P | PTE_W);
    invlpg((void *)va);
    uint32_t first = *va;
    paging_map(VA_SWITCH, (uint32_t)page_b, PTE_P | PTE_W);
    invlpg((void *)va);
    uint32_t after_invlpg = *va;
    paging_map(VA_SWITCH, (uint32_t)page_a, PTE_P | PTE_W);
    write_cr3(read_cr3());
    uint32_t after_cr3 = *va;
    printf("tlb: page A %08x, after PTE->B and INVLPG %08x, after PTE->A and CR3 reload %08x\n",
           first, after_invlpg, after_cr3);
    CHECK(first == 0xaaaaaaaa && after_invlpg == 0xbbbbbbbb && after_cr3 == 0xaaaaaaaa,
          "stale translation after INVLPG or CR3 write");
}

/* SDM 4.3: with CR4.PSE = 1 a PDE with PS = 1 maps a 4 MiB page; bits 31:22
 * of the PDE give its physical address, and the PDE gets the D bit. */
static void test_large_pages(void)
{
    write_cr4(read_cr4() | CR4_PSE);
    page_directory[VA_BIG_LOW >> 22] = 0x00000000 | PTE_P | PTE_W | PDE_PS;
    page_directory[VA_BIG_HI >> 22] = 0x00400000 | PTE_P | PTE_W | PDE_PS;
    write_cr3(read_cr3());
    volatile uint32_t *alias = (volatile uint32_t *)(VA_BIG_LOW + (uint32_t)&marker);
    printf("4M page: a variable read through its alias at 0x80000000 + address: %08x\n", *alias);
    CHECK(*alias == 0x600dcafe, "4 MiB page does not map physical 0");
    *alias = 0xfeedf00d;
    printf("4M page: a write through the alias seen at the variable: %08x, PDE D=%u\n",
           marker, !!(page_directory[VA_BIG_LOW >> 22] & PTE_D));
    CHECK(marker == 0xfeedf00d && (page_directory[VA_BIG_LOW >> 22] & PTE_D),
          "write through 4 MiB page lost or D not set");
    volatile uint32_t *low = (volatile uint32_t *)0x00400010;   /* identity-mapped */
    *low = 0x4b4b4b4b;
    uint32_t high = *(volatile uint32_t *)(VA_BIG_HI + 0x10);
    printf("4M page: physical 00400010 read through %08x: %08x\n", VA_BIG_HI + 0x10, high);
    CHECK(high == 0x4b4b4b4b, "second 4 MiB page maps the wrong frame");
}

/* SDM 4.6.1: a supervisor write to a read-only page is allowed when
 * CR0.WP = 0 and a page fault when CR0.WP = 1 (error code P | W = 3). */
static void test_write_protect(void)
{
    uint32_t *phys = page_alloc();
    volatile uint32_t *ro = (volatile uint32_t *)VA_RO;
    paging_map(VA_RO, (uint32_t)phys, PTE_P);
    write_cr0(read_cr0() & ~CR0_WP);
    invlpg((void *)ro);
    bool ok = probe_write32(ro, 0x11111111);
    printf("WP=0: supervisor write to a read-only page: %s, value %08x\n",
           ok ? "allowed" : "faulted", phys[0]);
    CHECK(ok && phys[0] == 0x11111111, "WP=0 write was not allowed");
    write_cr0(read_cr0() | CR0_WP);
    ok = probe_write32(ro, 0x22222222);
    if (ok)
        printf("WP=1: supervisor write to a read-only page: allowed\n");
    else
        printf("WP=1: supervisor write to a read-only page: vector %u error %x cr2 %08x, value %08x\n",
               last_trap.vector, last_trap.error, last_trap.cr2, phys[0]);
    CHECK(!ok && last_trap.vector == 14 && last_trap.error == 3 && last_trap.cr2 == VA_RO &&
          phys[0] == 0x11111111, "WP=1 write did not fault as #PF(3) at the page");
    write_cr0(read_cr0() & ~CR0_WP);
}

int guest_main(void)
{
    gdt_init();
    idt_init();
    paging_identity_map(8);
    paging_enable();
    printf("paging: enabled, CR0.PG=%u, 8 MiB identity-mapped with 4 KiB pages\n",
           read_cr0() >> 31);
    test_alias();
    test_accessed_dirty();
    test_invlpg();
    test_large_pages();
    test_write_protect();
    paging_disable();
    printf("paging: disabled again, CR0.PG=%u; %s\n", read_cr0() >> 31,
           checks_failed ? "FAILED" : "all checks passed");
    return checks_failed ? 1 : 0;
}
