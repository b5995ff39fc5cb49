/*
 * shadow.c - shadow paging for direct execution (see shadow.h for the
 * rules; the citations are to SDM vol. 3, chapter 4 "Paging").
 */
#include "core/direct/shadow.h"

#include <stdlib.h>
#include <string.h>

#include "core/lab.h"
#include "core/x86/system.h"

#define FRAME_DIRECTORY        1u   /* the page directory of the current CR3 */
#define FRAME_TABLE            2u   /* a page table reached from it */
#define FRAME_MAPPED_WRITABLE  4u   /* mapped writable somewhere since the last flush */

#define REGION_NONE    (-1)
#define REGION_SEVERAL (-2)

#define PDE_PRESENT 1u
#define PDE_LARGE   (1u << 7)       /* PS: a 4 MiB page when CR4.PSE (4.3) */
#define LEGACY_HOLE_START 0xA0000u
#define LEGACY_HOLE_END   0x100000u

static void forget_exactness(struct shadow *shadow);
static void mirror_address_space(struct shadow *shadow);

static struct stats_counter *row(struct shadow *shadow, const char *reason)
{
    return stats_counter(shadow->stats, "shadow", reason);
}

int shadow_init(struct shadow *shadow, struct emulator *emulator, const struct shadow_ops *ops,
                uint32_t lowest_mappable, struct stats *stats)
{
    memset(shadow, 0, sizeof *shadow);
    shadow->ops = *ops;
    shadow->emulator = emulator;
    shadow->lowest_mappable = lowest_mappable;
    shadow->frame_count = emulator->ram->size >> 12;
    shadow->frame_flags = calloc(shadow->frame_count, 1);
    shadow->table_region = malloc(shadow->frame_count * sizeof *shadow->table_region);
    if (!shadow->frame_flags || !shadow->table_region) {
        shadow_destroy(shadow);
        return -1;
    }
    for (uint32_t i = 0; i < shadow->frame_count; i++)
        shadow->table_region[i] = REGION_NONE;
    shadow->stats = stats;
    shadow->privileged_exact = true;
    shadow->hidden_faults = row(shadow, "shadow-pf");
    shadow->dirty_faults = row(shadow, "dirty");
    shadow->flushes = row(shadow, "shadow-flush");
    shadow->cr3_switches = row(shadow, "cr3-switch");
    shadow->invlpgs = row(shadow, "invlpg");
    shadow->pt_writes = row(shadow, "pt-write");
    shadow->revocations = row(shadow, "cpl3-revoke");
    shadow->regrants = row(shadow, "cpl0-regrant");
    shadow->emulated = row(shadow, "emulated-access");
    return 0;
}

void shadow_destroy(struct shadow *shadow)
{
    free(shadow->frame_flags);
    free(shadow->table_region);
    free(shadow->privileged);
    shadow->frame_flags = NULL;
    shadow->table_region = NULL;
    shadow->privileged = NULL;
}

void shadow_use_user_view(struct shadow *shadow, const struct shadow_ops *user_ops)
{
    shadow->user_view = *user_ops;
    shadow->split_views = true;
}

/* The mappings a fault at the CPU's CPL goes to: with two views, CPL 3
 * has its own. */
static const struct shadow_ops *view_of_cpl(const struct shadow *shadow, unsigned cpl)
{
    return shadow->split_views && cpl == 3 ? &shadow->user_view : &shadow->ops;
}

/* ---- dropping mappings ------------------------------------------------------ */

/* What the guest invalidates, it invalidates for every privilege level. */
static void unmap_views(struct shadow *shadow, uint64_t linear, uint64_t length)
{
    shadow->ops.unmap(shadow->ops.context, linear, length);
    if (shadow->split_views)
        shadow->user_view.unmap(shadow->user_view.context, linear, length);
}

void shadow_flush(struct shadow *shadow)
{
    unmap_views(shadow, 0, 1ull << 32);
    memset(shadow->frame_flags, 0, shadow->frame_count);
    for (uint32_t i = 0; i < shadow->frame_count; i++)
        shadow->table_region[i] = REGION_NONE;
    shadow->privileged_count = shadow->privileged_sorted = 0;
    shadow->privileged_exact = true;
    shadow->privileged_revoked = false;
    shadow->mirrored = false;
    x86_tlb_flush_all(shadow->emulator);
    stats_count(shadow->flushes, 0);
}

void shadow_invalidate_page(struct shadow *shadow, uint32_t linear)
{
    /* LAB 03: BEGIN INVLPG: dropping the shadow mappings of one guest page */
    /* A 4 MiB page is one TLB entry: INVLPG drops all of it (4.10.4.1). */
    unmap_views(shadow, linear & ~0x3fffffu, 0x400000);
    forget_exactness(shadow);
    stats_count(shadow->invlpgs, 0);
    /* LAB 03: STUB
    (void)linear;
    (void)forget_exactness;
    LAB_NOT_IMPLEMENTED(3, "INVLPG (core/direct/shadow.c, shadow_invalidate_page)");
    stats_count(shadow->invlpgs, 0);
       LAB 03: END */
}

/* Some mapping was dropped: the privileged list may name pages that are
 * no longer mapped as it says. Still good for revoking (unmapping more is
 * harmless), never again for re-granting. */
static void forget_exactness(struct shadow *shadow)
{
    shadow->privileged_exact = false;
    if (shadow->privileged_revoked) {
        shadow->privileged_count = shadow->privileged_sorted = 0;   /* all unmapped already */
        shadow->privileged_revoked = false;
        shadow->privileged_exact = true;
    }
}

static int compare_pages(const void *a, const void *b)
{
    const struct shadow_privileged_page *x = a, *y = b;
    if (x->page != y->page)
        return (x->page > y->page) - (x->page < y->page);
    return (x->rights > y->rights) - (x->rights < y->rights);  /* the later, wider mapping last */
}

/* Runs of entries with consecutive linear pages (and, to give rights back,
 * consecutive frames and the same rights) go to the host in one call. */
static uint32_t run_length(const struct shadow_privileged_page *pages, uint32_t i, uint32_t n,
                           bool same_frames)
{
    uint32_t j = i + 1;
    while (j < n && pages[j].page == pages[j - 1].page + 1 &&
           (!same_frames || (pages[j].physical == pages[j - 1].physical + 1 &&
                             pages[j].rights == pages[i].rights)))
        j++;
    return j - i;
}

/* Sort by page and keep one entry per page, the last one mapped (the
 * widest: a dirty fault upgrades read-only to read-write). Only entries
 * added since the last sort need work, so a kernel that touches the same
 * pages on every system call pays for the sort once. */
static uint32_t sort_privileged(struct shadow *shadow)
{
    struct shadow_privileged_page *pages = shadow->privileged;
    uint32_t n = shadow->privileged_count;
    if (shadow->privileged_sorted == n)
        return n;
    qsort(pages, n, sizeof *pages, compare_pages);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (kept && pages[kept - 1].page == pages[i].page)
            kept--;
        pages[kept++] = pages[i];
    }
    shadow->privileged_count = shadow->privileged_sorted = kept;
    return kept;
}

/* Entering CPL 3: take away what only the guest kernel may touch (U/S and
 * R/W with CR0.WP, SDM vol. 3, 4.6). */
static void revoke_privileged(struct shadow *shadow)
{
    uint32_t n = shadow->privileged_count;
    if (n == 0)
        return;
    struct shadow_privileged_page *pages = shadow->privileged;
    n = sort_privileged(shadow);
    /* One call over the whole span: pages in between lose their rights
     * too, which only costs them a hidden fault if they are touched. */
    uint32_t first = pages[0].page, span = pages[n - 1].page - first + 1;
    if (shadow->ops.protect(shadow->ops.context, first << 12, 0, span << 12, 0) < 0)
        for (uint32_t i = 0; i < n;) {
            uint32_t length = run_length(pages, i, n, false);
            shadow->ops.unmap(shadow->ops.context, (uint64_t)pages[i].page << 12,
                              (uint64_t)length << 12);
            i += length;
        }
    if (shadow->privileged_exact)
        shadow->privileged_revoked = true;
    else
        shadow->privileged_count = shadow->privileged_sorted = 0;
    shadow->privileged_exact = true;
    stats_count(shadow->revocations, 0);
}

/* Leaving CPL 3 with nothing invalidated since: give the kernel its pages
 * back at once (they would otherwise come back one hidden fault each). */
static void regrant_privileged(struct shadow *shadow)
{
    struct shadow_privileged_page *pages = shadow->privileged;
    uint32_t n = shadow->privileged_count;
    shadow->privileged_revoked = false;
    for (uint32_t i = 0; i < n;) {
        uint32_t length = run_length(pages, i, n, true);
        if (shadow->ops.protect(shadow->ops.context, pages[i].page << 12,
                                pages[i].physical << 12, length << 12, pages[i].rights) < 0 &&
            shadow->ops.map(shadow->ops.context, pages[i].page << 12, pages[i].physical << 12,
                            length << 12, pages[i].rights) < 0)
            shadow->privileged_exact = false;  /* some stay inaccessible: fault them in */
        i += length;
    }
    stats_count(shadow->regrants, 0);
}

static void remember_privileged(struct shadow *shadow, uint32_t linear, uint32_t physical,
                                int rights)
{
    if (shadow->privileged_count == shadow->privileged_capacity) {
        uint32_t capacity = shadow->privileged_capacity ? shadow->privileged_capacity * 2 : 256;
        struct shadow_privileged_page *pages =
            realloc(shadow->privileged, capacity * sizeof *pages);
        if (!pages) {
            shadow_flush(shadow);     /* cannot remember it: forget everything instead */
            return;
        }
        shadow->privileged = pages;
        shadow->privileged_capacity = capacity;
    }
    shadow->privileged[shadow->privileged_count++] =
        (struct shadow_privileged_page){linear >> 12, physical >> 12, rights};
}

/* ---- following the CPU ---------------------------------------------------------- */

/* Paging off: linear = physical, every RAM page mapped at once - in both
 * views: without paging there is no U/S (4.1). */
static void map_physical_identity(struct shadow *shadow, const struct shadow_ops *ops)
{
    uint32_t size = shadow->emulator->ram->size;
    uint32_t low = shadow->lowest_mappable;
    uint32_t hole = size < LEGACY_HOLE_START ? size : LEGACY_HOLE_START;
    int rw = SHADOW_READ | SHADOW_WRITE;
    if (low < hole)
        ops->map(ops->context, low, low, hole - low, rw);
    if (size > LEGACY_HOLE_END)
        ops->map(ops->context, LEGACY_HOLE_END, LEGACY_HOLE_END, size - LEGACY_HOLE_END, rw);
}

void shadow_follow_cpu(struct shadow *shadow)
{
    const struct cpu *cpu = shadow->emulator->cpu;
    bool paging = cpu->cr0 & CR0_PG, wp = cpu->cr0 & CR0_WP, pse = cpu->cr4 & CR4_PSE;
    bool same_mode = shadow->valid && paging == shadow->paging && wp == shadow->write_protect &&
                     pse == shadow->large_pages;
    /* LAB 03: BEGIN a CR3 write: the shadow of the old address space goes */
    if (!same_mode || (paging && cpu->cr3 != shadow->cr3)) {
    /* LAB 03: STUB
    if (paging && same_mode && cpu->cr3 != shadow->cr3)
        LAB_NOT_IMPLEMENTED(3, "a CR3 write (core/direct/shadow.c, shadow_follow_cpu)");
    if (!same_mode) {
       LAB 03: END */
        shadow_flush(shadow);
        if (same_mode)
            stats_count(shadow->cr3_switches, 0);
        shadow->valid = true;
        shadow->paging = paging;
        shadow->write_protect = wp;
        shadow->large_pages = pse;
        shadow->cr3 = cpu->cr3;
        if (!paging) {
            map_physical_identity(shadow, &shadow->ops);
            if (shadow->split_views)
                map_physical_identity(shadow, &shadow->user_view);
        }
    }
    if (shadow->direct_paging && paging && !shadow->mirrored)
        mirror_address_space(shadow);
    unsigned cpl = cpu_cpl(cpu);
    /* With two views each CPL has its own mappings: nothing to take away
     * or give back. */
    if (!shadow->split_views && cpl == 3 && shadow->cpl != 3)
        revoke_privileged(shadow);
    else if (!shadow->split_views && cpl != 3 && shadow->privileged_revoked)
        regrant_privileged(shadow);
    shadow->cpl = cpl;
}

void shadow_write_protect_frame(struct shadow *shadow, uint32_t physical)
{
    uint32_t frame = physical >> 12, page = physical & ~0xfffu;
    if (!shadow->valid || frame >= shadow->frame_count)
        return;
    if (!shadow->paging) {
        /* Identity-mapped, all of RAM writable (map_physical_identity). */
        if (page >= shadow->lowest_mappable && guest_ram_pointer(shadow->emulator->ram, page)) {
            shadow->ops.protect(shadow->ops.context, page, page, 4096, SHADOW_READ);
            if (shadow->split_views)
                shadow->user_view.protect(shadow->user_view.context, page, page, 4096,
                                          SHADOW_READ);
        }
        return;
    }
    if (shadow->frame_flags[frame] & FRAME_MAPPED_WRITABLE)
        shadow_flush(shadow);
}

/* ---- page faults --------------------------------------------------------------- */

static uint32_t read_physical32(struct shadow *shadow, uint32_t physical)
{
    uint8_t *p = guest_ram_pointer(shadow->emulator->ram, physical);
    uint32_t value = 0;
    if (p)
        memcpy(&value, p, sizeof value);
    return value;
}

/* Mark a frame as part of the guest's paging structure. If it was mapped
 * writable before, some mapping lets the guest edit it unseen: flush. */
static void mark_frame(struct shadow *shadow, uint32_t physical, uint8_t kind, int region)
{
    uint32_t frame = physical >> 12;
    if (frame >= shadow->frame_count)
        return;
    uint8_t *flags = &shadow->frame_flags[frame];
    bool known = *flags & kind;
    if (!known && (*flags & FRAME_MAPPED_WRITABLE))
        shadow_flush(shadow);
    shadow->frame_flags[frame] |= kind;
    if (kind == FRAME_TABLE) {
        int16_t *mapped = &shadow->table_region[frame];
        *mapped = (*mapped == REGION_NONE || *mapped == region) ? (int16_t)region : REGION_SEVERAL;
    }
}

/* Remember the page directory and the page table a walk of linear used. */
static void note_paging_structures(struct shadow *shadow, uint32_t linear)
{
    uint32_t directory = shadow->emulator->cpu->cr3 & ~0xfffu;
    uint32_t pde = read_physical32(shadow, directory + (linear >> 22) * 4);
    mark_frame(shadow, directory, FRAME_DIRECTORY, REGION_NONE);
    bool large = (pde & PDE_LARGE) && (shadow->emulator->cpu->cr4 & CR4_PSE);
    if ((pde & PDE_PRESENT) && !large)
        mark_frame(shadow, pde & ~0xfffu, FRAME_TABLE, (int)(linear >> 22));
}

static bool is_paging_structure(const struct shadow *shadow, uint32_t physical)
{
    uint32_t frame = physical >> 12;
    return frame < shadow->frame_count &&
           (shadow->frame_flags[frame] & (FRAME_DIRECTORY | FRAME_TABLE));
}

static bool mirrorable(const struct shadow *shadow, uint32_t linear, uint32_t physical)
{
    return linear >= shadow->lowest_mappable &&
           guest_ram_pointer(shadow->emulator->ram, physical) != NULL &&
           bus_find_mmio(shadow->emulator->bus, physical) == NULL;
}

/* Would CPL 3 have these rights? (the U/S and R/W rules, 4.6) */
static int user_rights(struct shadow *shadow, uint32_t linear)
{
    uint32_t physical, error;
    int rights = 0;
    if (x86_translate(shadow->emulator, linear, ACCESS_READ, true, false, &physical, &error))
        rights |= SHADOW_READ;
    if (x86_translate(shadow->emulator, linear, ACCESS_WRITE, true, false, &physical, &error))
        rights |= SHADOW_WRITE;
    return rights;
}

/* Map the page in the view of the current CPL. */
static enum shadow_outcome install(struct shadow *shadow, uint32_t page, uint32_t physical,
                                   int rights)
{
    const struct shadow_ops *view = view_of_cpl(shadow, shadow->cpl);
    if (view->map(view->context, page, physical & ~0xfffu, 4096, rights) < 0) {
        /* Out of host mappings (vm.max_map_count): start over. */
        shadow_flush(shadow);
        if (view->map(view->context, page, physical & ~0xfffu, 4096, rights) < 0)
            return SHADOW_EMULATE;
    }
    if (rights & SHADOW_WRITE)
        shadow->frame_flags[physical >> 12] |= FRAME_MAPPED_WRITABLE;
    /* One view: CPL 3 must lose this page's extra rights (4.6). */
    if (!shadow->split_views && shadow->paging && shadow->cpl < 3 &&
        (rights & ~user_rights(shadow, page)))
        remember_privileged(shadow, page, physical, rights);
    return SHADOW_MAPPED;
}

enum shadow_outcome shadow_fault(struct shadow *shadow, uint32_t linear, bool write, bool present)
{
    /* Direct paging after a flush (bt protecting a code page, say): mirror
     * everything again and retry, rather than learn one page. */
    if (shadow->direct_paging && shadow->paging && !shadow->mirrored) {
        shadow_follow_cpu(shadow);
        if (shadow->mirrored)
            return SHADOW_MAPPED;
    }
    /* LAB 03: BEGIN the hidden-fault handler */
    struct emulator *e = shadow->emulator;
    uint32_t page = linear & ~0xfffu, physical = page, error;
    shadow->cpl = cpu_cpl(e->cpu);
    if (shadow->paging) {
        /* The guest's walk, with the accessed (and for a write, dirty) bit
         * set as the hardware would set it (4.8). A failure is the guest's
         * own #PF: the emulator raises it. */
        if (!x86_translate(e, linear, write ? ACCESS_WRITE : ACCESS_READ, shadow->cpl == 3, true,
                           &physical, &error))
            return SHADOW_EMULATE;
        note_paging_structures(shadow, linear);
    }
    if (!mirrorable(shadow, page, physical)) {
        stats_count(shadow->emulated, 0);
        return SHADOW_EMULATE;
    }
    bool table = shadow->paging && is_paging_structure(shadow, physical);
    if (table && write) {
        if (!present)
            install(shadow, page, physical, SHADOW_READ);
        return SHADOW_PT_WRITE;
    }
    /* Read-only until the first write, so that D is set exactly when the
     * guest first writes (paging off: there are no D bits). */
    int rights = SHADOW_READ | (write || !shadow->paging ? SHADOW_WRITE : 0);
    stats_count(present ? shadow->dirty_faults : shadow->hidden_faults, 0);
    return install(shadow, page, physical, rights);
    /* LAB 03: STUB
    (void)linear;
    (void)write;
    (void)present;
    (void)install;
    (void)mirrorable;
    (void)note_paging_structures;
    (void)is_paging_structure;
    LAB_NOT_IMPLEMENTED(3, "the hidden-fault handler (core/direct/shadow.c, shadow_fault): "
                           "every access to an unmapped page is emulated");
    stats_count(shadow->emulated, 0);
    return SHADOW_EMULATE;
       LAB 03: END */
}

/* Direct paging keeps the privileged list exact instead of giving it up
 * (forget_exactness): the pages of a dropped entry leave it, and
 * mirror_page adds what the new entry maps. The sorted prefix stays sorted. */
static void forget_privileged_range(struct shadow *shadow, uint32_t first_page, uint32_t pages)
{
    if (!shadow->direct_paging)
        return;
    uint32_t kept = 0, sorted = 0;
    for (uint32_t i = 0; i < shadow->privileged_count; i++) {
        struct shadow_privileged_page page = shadow->privileged[i];
        if (page.page - first_page < pages)
            continue;
        if (i < shadow->privileged_sorted)
            sorted++;
        shadow->privileged[kept++] = page;
    }
    shadow->privileged_count = kept;
    shadow->privileged_sorted = sorted;
}

/* Drop the mappings derived from the entries at [physical, +size). */
static void drop_derived(struct shadow *shadow, uint32_t physical, unsigned size, bool whole_page)
{
    uint32_t frame = physical >> 12;
    if (frame >= shadow->frame_count)
        return;
    uint8_t flags = shadow->frame_flags[frame];
    int region = shadow->table_region[frame];
    if (whole_page || (flags & FRAME_DIRECTORY && flags & FRAME_TABLE) || region == REGION_SEVERAL) {
        shadow_flush(shadow);
        return;
    }
    if (!shadow->direct_paging)
        forget_exactness(shadow);
    uint32_t first = (physical & 0xfffu) >> 2, last = ((physical & 0xfffu) + size - 1) >> 2;
    if (last > 1023)
        last = 1023;
    for (uint32_t entry = first; entry <= last; entry++) {
        if (flags & FRAME_DIRECTORY) {
            unmap_views(shadow, (uint64_t)entry << 22, 0x400000);
            forget_privileged_range(shadow, entry << 10, 1024);
        } else if (region >= 0) {
            unmap_views(shadow, ((uint64_t)region << 22) | (entry << 12), 4096);
            forget_privileged_range(shadow, ((uint32_t)region << 10) | entry, 1);
        }
    }
    x86_tlb_flush_all(shadow->emulator);
}

void shadow_pt_written(struct shadow *shadow, uint32_t physical, unsigned size, bool whole_page)
{
    stats_count(shadow->pt_writes, 0);
    drop_derived(shadow, physical, size, whole_page);
}

/* ---- direct paging: validated tables mirrored whole -------------------------- */

#define ENTRY_WRITABLE 2u
#define ENTRY_USER     4u

/* What an entry pair allows the guest kernel (CPL < 3) and its user code:
 * both levels must allow an access, and with CR0.WP clear the kernel may
 * write read-only pages (SDM vol. 3, 4.6). */
static int kernel_rights(const struct shadow *shadow, uint32_t pde, uint32_t pte)
{
    bool writable = pde & pte & ENTRY_WRITABLE;
    return SHADOW_READ | (writable || !shadow->write_protect ? SHADOW_WRITE : 0);
}

static int entry_user_rights(uint32_t pde, uint32_t pte)
{
    if (!(pde & pte & ENTRY_USER))
        return 0;
    return SHADOW_READ | (pde & pte & ENTRY_WRITABLE ? SHADOW_WRITE : 0);
}

/* Consecutive linear pages on consecutive frames with the same rights go
 * to the host as one mapping: a kernel's identity map is a few calls. A
 * mirror keeps one run per view (MIRROR_USER only with two views). */
enum { MIRROR_SUPERVISOR, MIRROR_USER, MIRROR_VIEWS };

struct mirror_run {
    uint32_t linear, physical, pages;
    int rights;
};

static const struct shadow_ops *mirror_view(const struct shadow *shadow, int view)
{
    return view == MIRROR_USER ? &shadow->user_view : &shadow->ops;
}

static void map_run(struct shadow *shadow, struct mirror_run *run, int view)
{
    const struct shadow_ops *ops = mirror_view(shadow, view);
    if (run->pages == 0)
        return;
    /* A failure (out of host mappings) leaves the run unmapped: its pages
     * come in one hidden fault each, and the shadow-pf row shows it. */
    if (ops->map(ops->context, run->linear, run->physical, run->pages << 12, run->rights) == 0 &&
        (run->rights & SHADOW_WRITE))
        for (uint32_t i = 0; i < run->pages; i++)
            shadow->frame_flags[(run->physical >> 12) + i] |= FRAME_MAPPED_WRITABLE;
    run->pages = 0;
}

static void map_runs(struct shadow *shadow, struct mirror_run runs[MIRROR_VIEWS])
{
    for (int view = 0; view < MIRROR_VIEWS; view++)
        map_run(shadow, &runs[view], view);
}

/* Add one page to a view's run, or end the run there. */
static void extend_run(struct shadow *shadow, struct mirror_run *run, int view, uint32_t linear,
                       uint32_t physical, int rights)
{
    uint32_t length = run->pages << 12;
    if (rights && run->pages && run->linear + length == linear &&
        run->physical + length == physical && run->rights == rights) {
        run->pages++;
        return;
    }
    map_run(shadow, run, view);
    if (rights)
        *run = (struct mirror_run){linear, physical, 1, rights};
}

/* One page as the entries allow it. Two views (bt): the kernel's rights in
 * the supervisor view, the user's in the user view. One view: the kernel's
 * rights (remembered for CPL 3, as install() does) or, at CPL 3, the
 * user's. */
static void mirror_page(struct shadow *shadow, struct mirror_run runs[MIRROR_VIEWS],
                        uint32_t linear, uint32_t physical, int kernel, int user, bool as_kernel)
{
    if (is_paging_structure(shadow, physical)) {   /* edits must reach the VMM */
        kernel &= ~SHADOW_WRITE;
        user &= ~SHADOW_WRITE;
    }
    if (!mirrorable(shadow, linear, physical)) {
        map_runs(shadow, runs);
        return;
    }
    if (shadow->split_views) {
        extend_run(shadow, &runs[MIRROR_SUPERVISOR], MIRROR_SUPERVISOR, linear, physical, kernel);
        extend_run(shadow, &runs[MIRROR_USER], MIRROR_USER, linear, physical, user);
        return;
    }
    if (as_kernel && (kernel & ~user))
        remember_privileged(shadow, linear, physical, kernel);
    extend_run(shadow, &runs[MIRROR_SUPERVISOR], MIRROR_SUPERVISOR, linear, physical,
               as_kernel ? kernel : user);
}

/* The 4 MiB region `region` as its directory entry says. */
static void mirror_region(struct shadow *shadow, struct mirror_run runs[MIRROR_VIEWS],
                          uint32_t region, uint32_t pde, bool as_kernel)
{
    uint32_t base = region << 22;
    if (!(pde & PDE_PRESENT))
        return;
    if ((pde & PDE_LARGE) && shadow->large_pages) {   /* a 4 MiB page (4.3) */
        for (uint32_t i = 0; i < 1024; i++)
            mirror_page(shadow, runs, base | (i << 12), (pde & 0xffc00000u) + (i << 12),
                        kernel_rights(shadow, pde, pde), entry_user_rights(pde, pde), as_kernel);
        return;
    }
    uint32_t table = pde & ~0xfffu;
    for (uint32_t i = 0; i < 1024; i++) {
        uint32_t pte = read_physical32(shadow, table + i * 4);
        if (pte & PDE_PRESENT)
            mirror_page(shadow, runs, base | (i << 12), pte & ~0xfffu,
                        kernel_rights(shadow, pde, pte), entry_user_rights(pde, pte), as_kernel);
    }
}

static void mark_table_of(struct shadow *shadow, uint32_t region, uint32_t pde)
{
    if ((pde & PDE_PRESENT) && !((pde & PDE_LARGE) && shadow->large_pages))
        mark_frame(shadow, pde & ~0xfffu, FRAME_TABLE, (int)region);
}

/* After a CR3 load or a flush: map everything the tables allow, with the
 * kernel's rights; shadow_follow_cpu then takes the kernel's pages away
 * if the guest is at CPL 3, as after any run at CPL 0. */
static void mirror_address_space(struct shadow *shadow)
{
    uint32_t directory = shadow->emulator->cpu->cr3 & ~0xfffu;
    uint64_t flushes = shadow->flushes->count;
    /* The paging structures first, so that no page of them is mapped
     * writable on the way (mirror_page asks is_paging_structure). */
    mark_frame(shadow, directory, FRAME_DIRECTORY, REGION_NONE);
    for (uint32_t region = 0; region < 1024; region++)
        mark_table_of(shadow, region, read_physical32(shadow, directory + region * 4));
    struct mirror_run runs[MIRROR_VIEWS] = {{0}};
    bool list_was_empty = shadow->privileged_count == 0;
    for (uint32_t region = 0; region < 1024; region++)
        mirror_region(shadow, runs, region, read_physical32(shadow, directory + region * 4), true);
    map_runs(shadow, runs);
    /* The walk remembered the kernel's pages in ascending order, once each:
     * already the sorted list revoke_privileged wants. */
    if (list_was_empty)
        shadow->privileged_sorted = shadow->privileged_count;
    shadow->mirrored = shadow->flushes->count == flushes;   /* else try again next time */
    shadow->cpl = 0;
    stats_count(shadow->mirrors, 0);
}

void shadow_use_direct_paging(struct shadow *shadow)
{
    shadow->direct_paging = true;
    shadow->mirrored = false;
    shadow->mirrors = row(shadow, "mirror-all");
    shadow->mirrored_entries = row(shadow, "mirror-entry");
}

void shadow_entry_written(struct shadow *shadow, uint32_t physical)
{
    uint32_t frame = physical >> 12, index = (physical & 0xfffu) >> 2;
    if (!shadow->valid || !shadow->paging || frame >= shadow->frame_count)
        return;
    uint8_t flags = shadow->frame_flags[frame];
    int region = shadow->table_region[frame];
    if (!(flags & (FRAME_DIRECTORY | FRAME_TABLE)))
        return;                       /* no mapping came from it */
    drop_derived(shadow, physical, 4, false);
    if (!shadow->direct_paging || !shadow->mirrored)
        return;                       /* (a flush: the next shadow_follow_cpu mirrors all) */
    const struct cpu *cpu = shadow->emulator->cpu;
    uint32_t directory = cpu->cr3 & ~0xfffu;
    bool as_kernel = cpu_cpl(cpu) < 3;
    struct mirror_run runs[MIRROR_VIEWS] = {{0}};
    if (flags & FRAME_DIRECTORY) {
        uint32_t pde = read_physical32(shadow, physical & ~3u);
        mark_table_of(shadow, index, pde);
        mirror_region(shadow, runs, index, pde, as_kernel);
    } else if (region >= 0) {
        uint32_t pde = read_physical32(shadow, directory + (uint32_t)region * 4);
        uint32_t pte = read_physical32(shadow, physical & ~3u);
        if ((pde & PDE_PRESENT) && (pde & ~0xfffu) == (physical & ~0xfffu) && (pte & PDE_PRESENT))
            mirror_page(shadow, runs, ((uint32_t)region << 22) | (index << 12), pte & ~0xfffu,
                        kernel_rights(shadow, pde, pte), entry_user_rights(pde, pte), as_kernel);
    }
    map_runs(shadow, runs);
    stats_count(shadow->mirrored_entries, 0);
}

bool shadow_is_page_table(const struct shadow *shadow, uint32_t physical)
{
    return shadow->paging && is_paging_structure(shadow, physical);
}
