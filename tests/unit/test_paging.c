/*
 * test_paging.c - the page walk (4 KiB and 4 MiB pages, U/S, R/W, CR0.WP,
 * accessed/dirty bits), page-crossing accesses, the software TLB and its
 * invalidation, memory outside RAM, MMIO, code-page notification,
 * instruction fetch, and MOV to control registers.
 */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "core/x86/system.h"
#include "x86_test_machine.h"

/* The machine: tests/unit/x86_test_machine.h (8 MiB, flat, paging off). */
static void setup(void)
{
    machine_create();
}

static void teardown(void)
{
    machine_destroy();
}

/* ---- page tables ---- */

#define PAGE_DIRECTORY 0x10000u
#define PAGE_TABLE     0x11000u
#define P  0x001u
#define RW 0x002u
#define US 0x004u
#define A  0x020u
#define D  0x040u
#define PS 0x080u

/* Linear 0x00400000-0x007fffff through one page table; paging on. */
static void enable_paging(void)
{
    set_ram32(PAGE_DIRECTORY + 1 * 4, PAGE_TABLE | P | RW | US);
    m->cpu.cr3 = PAGE_DIRECTORY;
    m->cpu.cr0 |= CR0_PG;
    x86_tlb_flush_all(e);
}

static void map(uint32_t linear, uint32_t physical, uint32_t flags)
{
    cr_assert_eq(linear >> 22, 1, "test maps only 0x00400000-0x007fffff");
    set_ram32(PAGE_TABLE + ((linear >> 12) & 0x3ff) * 4, physical | flags);
}

static void become_user(void)
{
    m->cpu.segments[SEG_CS].attributes |= 3u << 5;
    m->cpu.segments[SEG_SS].attributes |= 3u << 5;
}

TestSuite(paging, .init = setup, .fini = teardown);

Test(paging, paging_off_linear_is_physical)
{
    set_ram32(0x5000, 0xdeadbeef);
    uint32_t value = 0;
    NO_FAULT(value = x86_read_linear(e, 0x5000, 4, false));
    cr_assert_eq(value, 0xdeadbeef);
}

Test(paging, four_kib_page_maps_and_sets_accessed_and_dirty)
{
    enable_paging();
    map(0x400000, 0x200000, P | RW);
    NO_FAULT(x86_write_linear(e, 0x400123, 4, 0x11223344, false));
    cr_assert_eq(ram32(0x200123), 0x11223344);
    cr_assert(ram32(PAGE_DIRECTORY + 4) & A, "PDE accessed bit");
    cr_assert_eq(ram32(PAGE_TABLE) & (A | D), A | D, "PTE accessed and dirty bits");
}

Test(paging, read_sets_accessed_but_not_dirty)
{
    enable_paging();
    map(0x401000, 0x201000, P | RW);
    set_ram32(0x201010, 77);
    uint32_t value = 0;
    NO_FAULT(value = x86_read_linear(e, 0x401010, 4, false));
    cr_assert_eq(value, 77);
    cr_assert_eq(ram32(PAGE_TABLE + 4) & (A | D), A);
}

Test(paging, four_mib_page_with_pse)
{
    enable_paging();
    m->cpu.cr4 |= CR4_PSE;
    set_ram32(PAGE_DIRECTORY + 2 * 4, 0x400000 | P | RW | PS);
    set_ram32(0x400123, 0xcafe);
    uint32_t value = 0;
    NO_FAULT(value = x86_read_linear(e, 0x800123, 4, false));
    cr_assert_eq(value, 0xcafe);
    NO_FAULT(x86_write_linear(e, 0x9ffffc, 4, 5, false));
    cr_assert_eq(ram32(0x5ffffc), 5);
    cr_assert_eq(ram32(PAGE_DIRECTORY + 8) & (A | D), A | D, "4 MiB PDE gets A and D");
}

Test(paging, ps_bit_ignored_without_pse)
{
    enable_paging();
    /* Without CR4.PSE the PDE points at a page table: here 0x400000, whose
     * first entry maps the page at 0x300000. */
    set_ram32(PAGE_DIRECTORY + 2 * 4, 0x400000 | P | RW | PS);
    set_ram32(0x400000, 0x300000 | P | RW);
    set_ram32(0x300010, 42);
    uint32_t value = 0;
    NO_FAULT(value = x86_read_linear(e, 0x800010, 4, false));
    cr_assert_eq(value, 42);
}

Test(paging, four_mib_page_reserved_bits_fault)
{
    enable_paging();
    m->cpu.cr4 |= CR4_PSE;
    set_ram32(PAGE_DIRECTORY + 2 * 4, 0x400000 | (1u << 13) | P | RW | PS);
    EXPECT_FAULT(x86_read_linear(e, 0x800000, 4, false), EXC_PF, 0x9);
}

Test(paging, not_present_faults_with_cr2_and_error_code)
{
    enable_paging();
    EXPECT_FAULT(x86_read_linear(e, 0x402abc, 4, false), EXC_PF, 0x0);
    cr_assert_eq(m->cpu.cr2, 0x402abc);
    EXPECT_FAULT(x86_write_linear(e, 0x402abc, 1, 0, false), EXC_PF, 0x2);
    EXPECT_FAULT(x86_read_linear(e, 0xc0000000, 4, false), EXC_PF, 0x0);
    cr_assert_eq(m->cpu.cr2, 0xc0000000, "not-present PDE");
    become_user();
    EXPECT_FAULT(x86_write_linear(e, 0x402abc, 1, 0, false), EXC_PF, 0x6);
}

Test(paging, user_cannot_touch_supervisor_pages)
{
    enable_paging();
    map(0x400000, 0x200000, P | RW);            /* supervisor page */
    become_user();
    EXPECT_FAULT(x86_read_linear(e, 0x400000, 4, false), EXC_PF, 0x5);
    EXPECT_FAULT(x86_write_linear(e, 0x400000, 4, 0, false), EXC_PF, 0x7);
    /* Implicit supervisor accesses (descriptor tables) are allowed at CPL 3. */
    NO_FAULT(x86_read_linear(e, 0x400000, 4, true));
}

Test(paging, user_bit_needed_in_both_levels)
{
    set_ram32(PAGE_DIRECTORY + 1 * 4, PAGE_TABLE | P | RW);   /* PDE: supervisor */
    m->cpu.cr3 = PAGE_DIRECTORY;
    m->cpu.cr0 |= CR0_PG;
    x86_tlb_flush_all(e);
    map(0x400000, 0x200000, P | RW | US);
    become_user();
    EXPECT_FAULT(x86_read_linear(e, 0x400000, 4, false), EXC_PF, 0x5);
}

Test(paging, read_only_page_and_cr0_wp)
{
    enable_paging();
    map(0x400000, 0x200000, P | US);             /* read-only user page */
    /* WP = 0: the supervisor may write read-only pages. */
    NO_FAULT(x86_write_linear(e, 0x400000, 4, 1, false));
    cr_assert_eq(ram32(0x200000), 1);
    /* WP = 1: it may not. */
    NO_FAULT(x86_write_control_register(e, 0, m->cpu.cr0 | CR0_WP));
    EXPECT_FAULT(x86_write_linear(e, 0x400000, 4, 2, false), EXC_PF, 0x3);
    cr_assert_eq(ram32(0x200000), 1);
    /* The user may never write it. */
    become_user();
    EXPECT_FAULT(x86_write_linear(e, 0x400000, 4, 3, false), EXC_PF, 0x7);
    uint32_t value = 0;
    NO_FAULT(value = x86_read_linear(e, 0x400000, 4, false));
    cr_assert_eq(value, 1);
}

Test(paging, crossing_write_checks_both_pages_first)
{
    enable_paging();
    map(0x400000, 0x200000, P | RW);
    map(0x401000, 0x300000, P);                  /* read-only */
    m->cpu.cr0 |= CR0_WP;
    set_ram32(0x200ffc, 0xaaaaaaaa);
    EXPECT_FAULT(x86_write_linear(e, 0x400ffe, 4, 0x12345678, false), EXC_PF, 0x3);
    cr_assert_eq(m->cpu.cr2, 0x401000, "CR2 names the second page");
    cr_assert_eq(ram32(0x200ffc), 0xaaaaaaaa, "first page untouched");
}

Test(paging, crossing_access_joins_two_pages)
{
    enable_paging();
    map(0x400000, 0x200000, P | RW);
    map(0x401000, 0x300000, P | RW);             /* not physically contiguous */
    NO_FAULT(x86_write_linear(e, 0x400ffd, 4, 0x44332211, false));
    cr_assert_eq(m->ram.host[0x200ffd], 0x11);
    cr_assert_eq(m->ram.host[0x200fff], 0x33);
    cr_assert_eq(m->ram.host[0x300000], 0x44);
    uint32_t value = 0;
    NO_FAULT(value = x86_read_linear(e, 0x400ffd, 4, false));
    cr_assert_eq(value, 0x44332211);
}

Test(paging, translate_without_setting_bits)
{
    enable_paging();
    map(0x400000, 0x200000, P | RW);
    uint32_t physical = 0, error = 0;
    cr_assert(x86_translate(e, 0x400abc, ACCESS_WRITE, false, false, &physical, &error));
    cr_assert_eq(physical, 0x200abc);
    cr_assert_eq(ram32(PAGE_TABLE) & (A | D), 0, "no bits set");
    cr_assert(x86_translate(e, 0x400abc, ACCESS_WRITE, false, true, &physical, &error));
    cr_assert_eq(ram32(PAGE_TABLE) & (A | D), A | D);
    cr_assert_not(x86_translate(e, 0x400abc, ACCESS_READ, true, false, &physical, &error));
    cr_assert_eq(error, 0x5);
}

Test(paging, tlb_keeps_stale_entry_until_invlpg)
{
    enable_paging();
    map(0x400000, 0x200000, P | RW);
    set_ram32(0x200000, 1);
    set_ram32(0x300000, 2);
    uint32_t value = 0;
    NO_FAULT(value = x86_read_linear(e, 0x400000, 4, false));
    cr_assert_eq(value, 1);
    map(0x400000, 0x300000, P | RW);             /* the guest edits its PTE */
    NO_FAULT(value = x86_read_linear(e, 0x400000, 4, false));
    cr_assert_eq(value, 1, "cached as on hardware until INVLPG");
    x86_tlb_flush_page(e, 0x400abc);
    NO_FAULT(value = x86_read_linear(e, 0x400000, 4, false));
    cr_assert_eq(value, 2);
}

Test(paging, tlb_flushed_by_cr3_write)
{
    enable_paging();
    map(0x400000, 0x200000, P | RW);
    NO_FAULT(x86_write_linear(e, 0x400000, 4, 9, false));
    map(0x400000, 0, 0);                         /* unmapped */
    NO_FAULT(x86_write_linear(e, 0x400000, 4, 10, false));
    cr_assert_eq(ram32(0x200000), 10, "stale write entry still used");
    NO_FAULT(x86_write_control_register(e, 3, PAGE_DIRECTORY));
    EXPECT_FAULT(x86_write_linear(e, 0x400000, 4, 11, false), EXC_PF, 0x2);
}

Test(paging, invlpg_in_a_large_page_drops_the_whole_page)
{
    enable_paging();
    m->cpu.cr4 |= CR4_PSE;
    set_ram32(PAGE_DIRECTORY + 2 * 4, 0x400000 | P | RW | PS);
    NO_FAULT(x86_read_linear(e, 0x801000, 4, false));
    set_ram32(PAGE_DIRECTORY + 2 * 4, 0);
    x86_tlb_flush_page(e, 0x800000);             /* another 4 KiB of the same 4 MiB page */
    EXPECT_FAULT(x86_read_linear(e, 0x801000, 4, false), EXC_PF, 0);
}

Test(paging, user_and_supervisor_cached_separately)
{
    enable_paging();
    map(0x400000, 0x200000, P | RW);             /* supervisor only */
    NO_FAULT(x86_read_linear(e, 0x400000, 4, false));   /* cached for the supervisor */
    become_user();
    EXPECT_FAULT(x86_read_linear(e, 0x400000, 4, false), EXC_PF, 0x5);
}

Test(paging, write_entry_only_after_dirty_bit)
{
    enable_paging();
    map(0x400000, 0x200000, P | RW);
    NO_FAULT(x86_read_linear(e, 0x400000, 4, false));
    cr_assert_eq(ram32(PAGE_TABLE) & D, 0);
    NO_FAULT(x86_write_linear(e, 0x400000, 4, 1, false));
    cr_assert(ram32(PAGE_TABLE) & D, "a write after a cached read still sets D");
}

Test(paging, cr0_wp_change_flushes_tlb)
{
    enable_paging();
    map(0x400000, 0x200000, P);
    NO_FAULT(x86_write_linear(e, 0x400000, 4, 1, false));   /* WP = 0: allowed, cached */
    NO_FAULT(x86_write_control_register(e, 0, m->cpu.cr0 | CR0_WP));
    EXPECT_FAULT(x86_write_linear(e, 0x400000, 4, 2, false), EXC_PF, 0x3);
}

Test(paging, page_tables_and_frames_outside_ram)
{
    enable_paging();
    map(0x400000, 0xf0000000, P | RW);           /* nothing there */
    uint32_t value = 0;
    NO_FAULT(value = x86_read_linear(e, 0x400000, 4, false));
    cr_assert_eq(value, 0xffffffff);
    NO_FAULT(x86_write_linear(e, 0x400000, 4, 0, false));   /* dropped */
    NO_FAULT(value = x86_read_linear(e, 0x400000, 2, false));
    cr_assert_eq(value, 0xffff);
    /* The legacy hole 0xA0000-0xFFFFF is not RAM either. */
    map(0x401000, 0xa0000, P | RW);
    NO_FAULT(x86_write_linear(e, 0x401000, 4, 0, false));
    NO_FAULT(value = x86_read_linear(e, 0x401000, 4, false));
    cr_assert_eq(value, 0xffffffff);
}

struct counting_device {
    int reads, writes;
    uint32_t last_offset, last_value;
};

static uint32_t device_read(void *device, uint32_t offset, unsigned size)
{
    struct counting_device *d = device;
    (void)size;
    d->reads++;
    d->last_offset = offset;
    return 0x12345678;
}

static void device_write(void *device, uint32_t offset, unsigned size, uint32_t value)
{
    struct counting_device *d = device;
    (void)size;
    d->writes++;
    d->last_offset = offset;
    d->last_value = value;
}

Test(paging, mmio_goes_to_the_bus_every_time)
{
    struct counting_device device = { 0 };
    cr_assert_eq(bus_register_mmio(&m->bus, 0xfee00000, 0x1000, "test", &device, device_read,
                                   device_write), 0);
    enable_paging();
    map(0x400000, 0xfee00000, P | RW);
    uint32_t value = 0;
    NO_FAULT(value = x86_read_linear(e, 0x400030, 4, false));
    NO_FAULT(value = x86_read_linear(e, 0x400030, 4, false));
    cr_assert_eq(value, 0x12345678);
    cr_assert_eq(device.reads, 2, "never cached");
    cr_assert_eq(device.last_offset, 0x30);
    NO_FAULT(x86_write_linear(e, 0x400040, 4, 0xabc, false));
    NO_FAULT(x86_write_linear(e, 0x400040, 4, 0xabd, false));
    cr_assert_eq(device.writes, 2);
    cr_assert_eq(device.last_value, 0xabd);
}

static int code_writes;
static uint32_t code_page;

static void note_code_write(struct emulator *emulator, uint32_t page)
{
    (void)emulator;
    code_writes++;
    code_page = page;
}

Test(paging, writes_to_code_pages_notify_every_time)
{
    code_writes = 0;
    e->code_written = note_code_write;
    m->ram.page_flags[0x7000 / PAGE_SIZE] = PAGE_FLAG_CODE;
    NO_FAULT(x86_write_linear(e, 0x7010, 1, 1, false));
    NO_FAULT(x86_write_linear(e, 0x7020, 4, 1, false));
    cr_assert_eq(code_writes, 2);
    cr_assert_eq(code_page, 0x7000, "the page's physical address");
    /* A page marked after a write entry was cached: the TLB helper drops it. */
    NO_FAULT(x86_write_linear(e, 0x8000, 4, 1, false));
    m->ram.page_flags[0x8000 / PAGE_SIZE] = PAGE_FLAG_CODE;
    tlb_forget_writes_to_physical_page(&e->tlb, 0x8000);
    NO_FAULT(x86_write_linear(e, 0x8004, 4, 1, false));
    cr_assert_eq(code_writes, 3);
}

Test(paging, tlb_lookup_fast_path_matches_contract)
{
    enable_paging();
    map(0x400000, 0x200000, P | RW);
    cr_assert_null(tlb_lookup(&e->tlb, false, false, 0x400010));
    NO_FAULT(x86_read_linear(e, 0x400010, 4, false));
    cr_assert_eq(tlb_lookup(&e->tlb, false, false, 0x400010), m->ram.host + 0x200010);
    cr_assert_null(tlb_lookup(&e->tlb, false, true, 0x400010), "read fill is read-only");
    cr_assert_null(tlb_lookup(&e->tlb, true, false, 0x400010), "user table separate");
}

/* ---- instruction fetch ---- */

Test(paging, fetch_stops_before_unmapped_page_when_not_needed)
{
    enable_paging();
    map(0x400000, 0x200000, P | RW);
    memset(m->ram.host + 0x200ffc, 0x90, 4);
    uint8_t buf[16];
    unsigned got = 0;
    NO_FAULT(got = x86_fetch_code(e, 0x400ffc, buf, 1, 15));
    cr_assert_eq(got, 4);
    cr_assert_eq(buf[3], 0x90);
    EXPECT_FAULT(x86_fetch_code(e, 0x400ffc, buf, 6, 15), EXC_PF, 0x0);
    cr_assert_eq(m->cpu.cr2, 0x401000);
}

Test(paging, fetch_checks_cs_limit)
{
    m->cpu.segments[SEG_CS].limit = 0x1fff;
    uint8_t buf[16];
    unsigned got = 0;
    NO_FAULT(got = x86_fetch_code(e, 0x1ffc, buf, 2, 15));
    cr_assert_eq(got, 4);
    EXPECT_FAULT(x86_fetch_code(e, 0x1ffc, buf, 5, 15), EXC_GP, 0);
    EXPECT_FAULT(x86_fetch_code(e, 0x2000, buf, 1, 15), EXC_GP, 0);
}

Test(paging, fetch_from_user_mode_needs_user_page)
{
    enable_paging();
    map(0x400000, 0x200000, P);
    become_user();
    uint8_t buf[4];
    EXPECT_FAULT(x86_fetch_code(e, 0x400000, buf, 1, 4), EXC_PF, 0x5);
}

/* ---- control registers ---- */

Test(paging, control_register_rules)
{
    /* PG without PE. */
    EXPECT_FAULT(x86_write_control_register(e, 0, CR0_PG), EXC_GP, 0);
    /* NW without CD. */
    EXPECT_FAULT(x86_write_control_register(e, 0, CR0_PE | CR0_NW), EXC_GP, 0);
    /* ET reads as 1 whatever is written; reserved CR0 and CR3 bits stay clear. */
    NO_FAULT(x86_write_control_register(e, 0, CR0_PE | (1u << 7)));
    cr_assert_eq(m->cpu.cr0, CR0_PE | CR0_ET);
    NO_FAULT(x86_write_control_register(e, 3, 0x12345fff));
    cr_assert_eq(m->cpu.cr3, 0x12345018);
    /* CR4 reserved bits (PAE is not modelled). */
    EXPECT_FAULT(x86_write_control_register(e, 4, 1u << 5), EXC_GP, 0);
    EXPECT_FAULT(x86_write_control_register(e, 4, 1u << 20), EXC_GP, 0);
    NO_FAULT(x86_write_control_register(e, 4, CR4_PSE | CR4_PGE));
    cr_assert_eq(m->cpu.cr4, CR4_PSE | CR4_PGE);
    /* CR1 does not exist; CPL 3 may not write control registers. */
    EXPECT_FAULT(x86_write_control_register(e, 1, 0), EXC_UD, 0);
    become_user();
    EXPECT_FAULT(x86_write_control_register(e, 3, 0), EXC_GP, 0);
}

Test(paging, flat_protected_mode_reset_state)
{
    struct cpu cpu;
    memset(&cpu, 0x55, sizeof cpu);
    cpu_reset_to_flat_protected_mode(&cpu);
    cr_assert_eq(cpu.segments[SEG_CS].selector, 0x08);
    cr_assert_eq(cpu.segments[SEG_CS].limit, 0xffffffff);
    cr_assert_eq(cpu.segments[SEG_CS].attributes & 0x18, 0x18, "a code segment");
    cr_assert_eq(cpu.segments[SEG_DS].selector, 0x10);
    cr_assert_eq(cpu.segments[SEG_SS].selector, 0x10);
    cr_assert(cpu.segments[SEG_SS].attributes & SEG_ATTR_DB);
    cr_assert_eq(cpu.cr0, CR0_PE | CR0_ET);
    cr_assert_eq(cpu.eflags, 0x2);
    cr_assert_eq(cpu.gdtr.limit, 0);
    cr_assert_eq(cpu.idtr.base, 0);
    cr_assert_eq(cpu_cpl(&cpu), 0);
}

Test(paging, page_fault_drops_stale_entries_for_the_address)
{
    enable_paging();
    map(0x400000, 0x200000, P | RW);
    NO_FAULT(x86_read_linear(e, 0x400000, 4, false));       /* read entry cached */
    map(0x400000, 0, 0);                                     /* unmapped, no INVLPG */
    NO_FAULT(x86_read_linear(e, 0x400000, 4, false));       /* stale hit, as on hardware */
    EXPECT_FAULT(x86_write_linear(e, 0x400000, 4, 0, false), EXC_PF, 0x2);
    /* SDM vol. 3, 4.10.4.1: the #PF invalidated the stale read entry too. */
    EXPECT_FAULT(x86_read_linear(e, 0x400000, 4, false), EXC_PF, 0x0);
}

Test(paging, check_write_probes_both_pages_without_writing)
{
    enable_paging();
    map(0x400000, 0x200000, P | RW);
    map(0x401000, 0x300000, P);                  /* read-only */
    m->cpu.cr0 |= CR0_WP;
    NO_FAULT(x86_check_write(e, SEG_DS, 0x400ff8, 8));
    EXPECT_FAULT(x86_check_write(e, SEG_DS, 0x400ffc, 8), EXC_PF, 0x3);
    cr_assert_eq(m->cpu.cr2, 0x401000);
    cr_assert_eq(ram32(PAGE_TABLE) & D, 0, "a probe sets no dirty bit");
}
