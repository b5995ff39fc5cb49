/*
 * test_shadow.c - the shadow MMU of the direct-execution substrate
 * (core/direct/shadow.c), watched through recording shadow_ops: no host
 * mapping is made, so this runs under AddressSanitizer like every unit
 * test. What it checks: identity mapping with paging off; hidden faults map
 * the guest's frame read-only and set A; the first write maps it writable
 * and sets D; a true guest fault is left to the emulator; page-table frames
 * are never writable and a write to them drops exactly the derived
 * mapping; CPL 3 loses what only the kernel may touch (and CPL 0 gets it
 * back without faults); CR3 switches and
 * INVLPG drop mappings; pages below vm.mmap_min_addr are never mapped.
 * Direct paging (the pv technique): the whole table mirrored in runs at a
 * CR3 load, with no fault; an entry the VMM writes mirrored at once; the
 * kernel's mirrored pages still taken away at CPL 3.
 * With two views (bt): CPL 3 faults fill the user view only, with CPL 3's
 * rights, a CPL change revokes nothing, and every invalidation drops
 * both views.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/direct/shadow.h"
#include "core/x86/system.h"

#define RAM_SIZE (8u << 20)
#define LOWEST 0x10000u
#define PD 0x20000u               /* page directory */
#define PT 0x21000u               /* page table for linear 0-4 MiB */

struct call {
    bool is_map;
    uint64_t linear, length;
    uint32_t physical;
    int rights;
};

struct recorder {
    struct call calls[64];
    int count;
};

static struct cpu cpu;
static struct guest_ram ram;
static struct bus bus;
static struct stats stats;
static struct emulator emulator;
static struct shadow shadow;
static struct recorder recorder, user_recorder;

static int record_map(void *context, uint32_t linear, uint32_t physical, uint32_t length, int rights)
{
    struct recorder *r = context;
    if (r->count < 64)
        r->calls[r->count++] = (struct call){true, linear, length, physical, rights};
    return 0;
}

static void record_unmap(void *context, uint64_t linear, uint64_t length)
{
    struct recorder *r = context;
    if (r->count < 64)
        r->calls[r->count++] = (struct call){false, linear, length, 0, 0};
}

static int record_protect(void *context, uint32_t linear, uint32_t physical, uint32_t length,
                          int rights)
{
    struct recorder *r = context;
    if (r->count < 64)
        r->calls[r->count++] = (struct call){false, linear, length, physical, rights | 0x100};
    return 0;
}

static uint32_t *pte(uint32_t physical)
{
    return (uint32_t *)(ram.host + physical);
}

static void setup(void)
{
    memset(&cpu, 0, sizeof cpu);
    memset(&bus, 0, sizeof bus);
    memset(&recorder, 0, sizeof recorder);
    memset(&user_recorder, 0, sizeof user_recorder);
    ram.size = RAM_SIZE;
    ram.host = calloc(1, RAM_SIZE);
    ram.page_flags = calloc(RAM_SIZE / PAGE_SIZE, 1);
    cpu_reset_to_flat_protected_mode(&cpu);
    stats_init(&stats, 0);
    memset(&emulator, 0, sizeof emulator);
    emulator.cpu = &cpu;
    emulator.ram = &ram;
    emulator.bus = &bus;
    emulator.stats = &stats;
    x86_tlb_flush_all(&emulator);
    struct shadow_ops ops = {.map = record_map, .unmap = record_unmap, .protect = record_protect,
                             .context = &recorder};
    cr_assert_eq(shadow_init(&shadow, &emulator, &ops, LOWEST, &stats), 0);
}

static void teardown(void)
{
    shadow_destroy(&shadow);
    free(ram.host);
    free(ram.page_flags);
}

/* Linear 0-4 MiB identity-mapped by PT; entries get the flags given. */
static void paging_on(uint32_t pte_flags)
{
    for (uint32_t i = 0; i < 1024; i++)
        *pte(PT + i * 4) = (i << 12) | pte_flags;
    *pte(PD) = PT | 7;
    cpu.cr3 = PD;
    cpu.cr0 |= CR0_PG | CR0_WP;
    shadow_follow_cpu(&shadow);
    recorder.count = user_recorder.count = 0;
}

static void set_cpl(unsigned cpl)
{
    cpu.segments[SEG_CS].attributes = (cpu.segments[SEG_CS].attributes & ~(3u << 5)) | cpl << 5;
}

static const struct call *last(void)
{
    cr_assert_gt(recorder.count, 0);
    return &recorder.calls[recorder.count - 1];
}

TestSuite(shadow, .init = setup, .fini = teardown);

Test(shadow, paging_off_maps_ram_at_its_physical_address_around_the_vga_hole)
{
    shadow_follow_cpu(&shadow);
    bool low = false, high = false, hole = false;
    for (int i = 0; i < recorder.count; i++) {
        const struct call *c = &recorder.calls[i];
        if (!c->is_map)
            continue;
        low |= c->linear == LOWEST && c->physical == LOWEST && c->length == 0xA0000 - LOWEST;
        high |= c->linear == 0x100000 && c->physical == 0x100000 && c->length == RAM_SIZE - 0x100000;
        hole |= c->linear < 0x100000 && c->linear + c->length > 0xA0000;
        cr_assert_eq(c->rights, SHADOW_READ | SHADOW_WRITE);
    }
    cr_assert(low && high && !hole);
}

Test(shadow, a_hidden_fault_maps_read_only_and_sets_accessed)
{
    paging_on(7);
    cr_assert_eq(shadow_fault(&shadow, 0x300123, false, false), SHADOW_MAPPED);
    cr_assert(last()->is_map);
    cr_assert_eq(last()->linear, 0x300000);
    cr_assert_eq(last()->physical, 0x300000);
    cr_assert_eq(last()->rights, SHADOW_READ, "read-only until the first write (D bit)");
    cr_assert(*pte(PT + 0x300 * 4) & 0x20, "A set");
    cr_assert_not(*pte(PT + 0x300 * 4) & 0x40, "D still clear");
}

Test(shadow, the_first_write_maps_writable_and_sets_dirty)
{
    paging_on(7);
    shadow_fault(&shadow, 0x300000, false, false);
    cr_assert_eq(shadow_fault(&shadow, 0x300000, true, true), SHADOW_MAPPED);
    cr_assert_eq(last()->rights, SHADOW_READ | SHADOW_WRITE);
    cr_assert(*pte(PT + 0x300 * 4) & 0x40, "D set");
}

Test(shadow, a_true_guest_fault_is_left_to_the_emulator)
{
    paging_on(7);
    *pte(PT + 0x300 * 4) = 0;                       /* not present */
    cr_assert_eq(shadow_fault(&shadow, 0x300000, false, false), SHADOW_EMULATE);
    *pte(PT + 0x301 * 4) = 0x301000 | 5;            /* read-only */
    cr_assert_eq(shadow_fault(&shadow, 0x301000, true, false), SHADOW_EMULATE);
    cr_assert_eq(recorder.count, 0, "nothing mapped");
}

Test(shadow, page_tables_are_never_writable_and_an_edit_drops_the_derived_page)
{
    paging_on(7);
    shadow_fault(&shadow, 0x300000, true, false);   /* walks PD and PT */
    /* The PT is identity-mapped at linear PT: a write there is an edit. */
    cr_assert_eq(shadow_fault(&shadow, PT + 0x300 * 4, true, false), SHADOW_PT_WRITE);
    cr_assert(last()->is_map);
    cr_assert_eq(last()->rights, SHADOW_READ, "mapped for reads only");
    recorder.count = 0;
    shadow_pt_written(&shadow, PT + 0x300 * 4, 4, false);
    cr_assert_eq(recorder.count, 1);
    cr_assert_not(last()->is_map);
    cr_assert_eq(last()->linear, 0x300000, "exactly the page the entry maps");
    cr_assert_eq(last()->length, 4096);
}

Test(shadow, a_frame_mapped_writable_before_it_became_a_page_table_forces_a_flush)
{
    paging_on(7);
    *pte(PD + 4) = 0;
    shadow_fault(&shadow, 0x22000, true, false);    /* frame 0x22000 mapped writable */
    *pte(PD + 4) = 0x22000 | 7;                     /* ... and now a page table */
    for (uint32_t i = 0; i < 1024; i++)
        *pte(0x22000 + i * 4) = (0x400000 + (i << 12)) | 7;
    recorder.count = 0;
    shadow_fault(&shadow, 0x400000, false, false);
    cr_assert_not(recorder.calls[0].is_map, "flush first");
    cr_assert_eq(recorder.calls[0].length, 1ull << 32);
}

Test(shadow, entering_cpl3_takes_away_supervisor_pages)
{
    paging_on(3);                                   /* supervisor only */
    *pte(PT + 0x300 * 4) = 0x300000 | 7;            /* one user page */
    set_cpl(0);
    shadow_follow_cpu(&shadow);
    shadow_fault(&shadow, 0x200000, false, false);  /* kernel page */
    shadow_fault(&shadow, 0x300000, false, false);  /* user page */
    recorder.count = 0;
    set_cpl(3);
    shadow_follow_cpu(&shadow);
    cr_assert_eq(recorder.count, 1);
    cr_assert_eq(last()->rights, 0x100, "protected: no access");
    cr_assert_eq(last()->linear, 0x200000, "the kernel page goes, the user page stays");
    cr_assert_eq(last()->length, 4096);
    cr_assert_eq(shadow_fault(&shadow, 0x200000, false, false), SHADOW_EMULATE,
                 "at CPL 3 it is the guest's #PF");
    recorder.count = 0;
    set_cpl(0);
    shadow_follow_cpu(&shadow);
    cr_assert_eq(recorder.count, 1);
    cr_assert_eq(last()->rights, 0x100 | SHADOW_READ, "back at CPL 0: rights given back at once");
    cr_assert_eq(last()->linear, 0x200000);
}

Test(shadow, a_new_cr3_drops_everything_and_invlpg_drops_one_region)
{
    paging_on(7);
    shadow_fault(&shadow, 0x300000, false, false);
    recorder.count = 0;
    shadow_invalidate_page(&shadow, 0x300123);
    cr_assert_eq(last()->linear, 0, "INVLPG drops the 4 MiB region (a large page is one entry)");
    cr_assert_eq(last()->length, 0x400000);
    memcpy(ram.host + 0x30000, ram.host + PD, 4096);
    cpu.cr3 = 0x30000;
    recorder.count = 0;
    shadow_follow_cpu(&shadow);
    cr_assert_eq(last()->length, 1ull << 32);
    cr_assert_eq(shadow.cr3_switches->count, 1);
}

Test(shadow, pages_below_mmap_min_addr_and_outside_ram_are_emulated)
{
    paging_on(7);
    cr_assert_eq(shadow_fault(&shadow, 0x1000, false, false), SHADOW_EMULATE);
    cr_assert_eq(shadow_fault(&shadow, 0xB8000, false, false), SHADOW_EMULATE, "VGA hole");
    cr_assert_eq(recorder.count, 0);
}

/* ---- direct paging (the pv technique): validated tables mirrored whole ---- */

/* Linear 0-4 MiB identity-mapped, the paging structures read-only, as a
 * pv guest's checked tables are; direct paging on; CR3 loaded. */
static void direct_paging_on(uint32_t pte_flags)
{
    for (uint32_t i = 0; i < 1024; i++)
        *pte(PT + i * 4) = (i << 12) | pte_flags;
    *pte(PT + (PD >> 12) * 4) &= ~2u;
    *pte(PT + (PT >> 12) * 4) &= ~2u;
    *pte(PD) = PT | 7;
    shadow_use_direct_paging(&shadow);
    cpu.cr3 = PD;
    cpu.cr0 |= CR0_PG | CR0_WP;
    shadow_follow_cpu(&shadow);
}

static const struct call *map_covering(uint64_t linear)
{
    for (int i = recorder.count - 1; i >= 0; i--) {
        const struct call *c = &recorder.calls[i];
        if (c->is_map && c->linear <= linear && linear < c->linear + c->length)
            return c;
    }
    return NULL;
}

Test(shadow, direct_paging_mirrors_the_whole_table_in_runs_without_a_fault)
{
    direct_paging_on(7);
    int maps = 0;
    for (int i = 0; i < recorder.count; i++)
        maps += recorder.calls[i].is_map;
    cr_assert_lt(maps, 8, "runs of pages, not one call per page (%d calls)", maps);
    const struct call *c = map_covering(0x300000);
    cr_assert(c && c->physical + (0x300000 - c->linear) == 0x300000);
    cr_assert_eq(c->rights, SHADOW_READ | SHADOW_WRITE, "writable at once: no dirty fault");
    c = map_covering(PT);
    cr_assert(c && c->rights == SHADOW_READ, "the page table stays read-only");
    cr_assert_null(map_covering(LOWEST - 4096), "below vm.mmap_min_addr: never");
    cr_assert_null(map_covering(0xB8000), "the legacy hole is not RAM");
    cr_assert_eq(shadow.hidden_faults->count, 0);
    cr_assert_not(*pte(PT + 0x300 * 4) & 0x60, "A and D are not maintained under direct paging");
}

Test(shadow, direct_paging_mirrors_an_entry_the_vmm_writes)
{
    direct_paging_on(7);
    recorder.count = 0;
    *pte(PT + 0x300 * 4) = 0x305000 | 7;
    shadow_entry_written(&shadow, PT + 0x300 * 4);
    cr_assert_eq(recorder.count, 2);
    cr_assert_not(recorder.calls[0].is_map, "the old page goes");
    cr_assert_eq(recorder.calls[0].linear, 0x300000);
    cr_assert_eq(recorder.calls[0].length, 4096);
    cr_assert(recorder.calls[1].is_map, "the new one comes at once");
    cr_assert_eq(recorder.calls[1].linear, 0x300000);
    cr_assert_eq(recorder.calls[1].physical, 0x305000);
    recorder.count = 0;
    *pte(PT + 0x301 * 4) = 0;
    shadow_entry_written(&shadow, PT + 0x301 * 4);
    cr_assert_eq(recorder.count, 1, "a cleared entry: only the unmap");
}

Test(shadow, direct_paging_takes_the_kernels_pages_away_at_cpl3)
{
    direct_paging_on(3);                              /* supervisor pages */
    recorder.count = 0;
    set_cpl(3);
    shadow_follow_cpu(&shadow);
    cr_assert_eq(recorder.count, 1, "one call over the kernel's span");
    cr_assert_eq(last()->rights, 0x100, "no rights left (a protect to none)");
    cr_assert_leq(last()->linear, 0x300000);
    cr_assert_gt(last()->linear + last()->length, 0x300000);
    recorder.count = 0;
    set_cpl(0);
    shadow_follow_cpu(&shadow);
    cr_assert_gt(recorder.count, 0, "given back without a fault");
    cr_assert_eq(shadow.hidden_faults->count, 0);
}

/* ---- two views (bt) ---------------------------------------------------- */

static void use_user_view(void)
{
    struct shadow_ops ops = {.map = record_map, .unmap = record_unmap, .protect = record_protect,
                             .context = &user_recorder};
    shadow_use_user_view(&shadow, &ops);
}

static bool unmapped(const struct recorder *r, uint64_t linear, uint64_t length)
{
    for (int i = 0; i < r->count; i++)
        if (!r->calls[i].is_map && r->calls[i].rights == 0 && r->calls[i].linear == linear &&
            r->calls[i].length == length)
            return true;
    return false;
}

Test(shadow, two_views_keep_cpl3_out_of_the_kernel_without_revoking)
{
    use_user_view();
    paging_on(3);                                   /* supervisor only */
    *pte(PT + 0x300 * 4) = 0x300000 | 5;            /* a user page, read-only */
    set_cpl(0);
    shadow_follow_cpu(&shadow);
    cr_assert_eq(shadow_fault(&shadow, 0x200000, true, false), SHADOW_MAPPED);
    cr_assert_eq(recorder.count, 1, "the kernel's page: supervisor view");
    cr_assert_eq(last()->rights, SHADOW_READ | SHADOW_WRITE);
    cr_assert_eq(user_recorder.count, 0);
    recorder.count = 0;
    set_cpl(3);
    shadow_follow_cpu(&shadow);
    cr_assert_eq(recorder.count + user_recorder.count, 0, "entering CPL 3 revokes nothing");
    cr_assert_eq(shadow_fault(&shadow, 0x200000, false, false), SHADOW_EMULATE,
                 "at CPL 3 the kernel's page is the guest's #PF");
    cr_assert_eq(shadow_fault(&shadow, 0x300000, true, false), SHADOW_EMULATE,
                 "and so is a write to a read-only user page");
    cr_assert_eq(shadow_fault(&shadow, 0x300000, false, false), SHADOW_MAPPED);
    cr_assert_eq(user_recorder.count, 1, "the user page: user view");
    cr_assert_eq(user_recorder.calls[0].linear, 0x300000);
    cr_assert_eq(user_recorder.calls[0].rights, SHADOW_READ);
    cr_assert_eq(recorder.count, 0, "nothing in the supervisor view");
    set_cpl(0);
    shadow_follow_cpu(&shadow);
    cr_assert_eq(recorder.count, 0, "leaving CPL 3 gives nothing back: nothing was taken");
    cr_assert_eq(shadow.revocations->count + shadow.regrants->count, 0);
}

Test(shadow, two_views_are_both_invalidated)
{
    use_user_view();
    paging_on(7);
    set_cpl(3);
    shadow_fault(&shadow, 0x300000, true, false);
    recorder.count = user_recorder.count = 0;
    shadow_invalidate_page(&shadow, 0x300123);
    cr_assert(unmapped(&recorder, 0, 0x400000) && unmapped(&user_recorder, 0, 0x400000),
              "INVLPG: both views");
    shadow_fault(&shadow, 0x300000, true, false);   /* walks PD and PT again */
    recorder.count = user_recorder.count = 0;
    shadow_pt_written(&shadow, PT + 0x300 * 4, 4, false);
    cr_assert(unmapped(&recorder, 0x300000, 4096) && unmapped(&user_recorder, 0x300000, 4096),
              "a page-table edit: both views");
    memcpy(ram.host + 0x30000, ram.host + PD, 4096);
    cpu.cr3 = 0x30000;
    recorder.count = user_recorder.count = 0;
    shadow_follow_cpu(&shadow);
    cr_assert(unmapped(&recorder, 0, 1ull << 32) && unmapped(&user_recorder, 0, 1ull << 32),
              "a new CR3: both views");
}

Test(shadow, two_views_with_paging_off_both_map_all_of_ram)
{
    use_user_view();
    shadow_follow_cpu(&shadow);
    bool supervisor = false, user = false;
    for (int i = 0; i < recorder.count; i++)
        supervisor |= recorder.calls[i].is_map && recorder.calls[i].linear == 0x100000;
    for (int i = 0; i < user_recorder.count; i++)
        user |= user_recorder.calls[i].is_map && user_recorder.calls[i].linear == 0x100000;
    cr_assert(supervisor && user, "no paging, no U/S: the same pages in both views");
}

/* Direct paging with two views (pv on the bt engine): the mirror fills the
 * user view with what CPL 3 may touch, and nothing of the kernel's. */
Test(shadow, direct_paging_with_two_views_mirrors_both)
{
    use_user_view();
    direct_paging_on(7);
    bool user_page = false;
    for (int i = 0; i < user_recorder.count; i++) {
        const struct call *c = &user_recorder.calls[i];
        if (c->is_map && c->linear <= 0x300000 && 0x300000 < c->linear + c->length)
            user_page = c->rights == (SHADOW_READ | SHADOW_WRITE);
    }
    cr_assert(user_page, "a user page, writable, in the user view at once");
    cr_assert_eq(shadow.hidden_faults->count, 0);
}

Test(shadow, direct_paging_with_two_views_keeps_kernel_pages_out_of_the_user_view)
{
    use_user_view();
    direct_paging_on(3);                              /* supervisor pages */
    for (int i = 0; i < user_recorder.count; i++)
        cr_assert_not(user_recorder.calls[i].is_map && user_recorder.calls[i].rights,
                      "nothing of the kernel's in the user view");
    cr_assert_not_null(map_covering(0x300000), "the supervisor view has it");
}
