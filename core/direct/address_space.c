/*
 * address_space.c - the guest's 4 GiB inside the vmlab process.
 *
 * Guest-virtual address v is host address v, so guest code runs unchanged
 * and its memory accesses need no translation by us. For that the low
 * 4 GiB must be ours: they are reserved once, PROT_NONE and MAP_NORESERVE
 * (no memory is committed), with MAP_FIXED_NOREPLACE so that we fail
 * loudly instead of clobbering something already there (mmap(2)). Guest
 * pages are then mapped over the reservation from the RAM memfd, and
 * "unmapping" means putting the reservation back, never leaving a hole
 * another mmap could fill.
 *
 * The reservation starts at vm.mmap_min_addr: the host refuses mappings
 * below it (the NULL-pointer guard), so guest pages there cannot be
 * mirrored and their accesses are emulated instead (shadow.c).
 *
 * bt has a second view of the same 4 GiB, its user view at
 * DIRECT_USER_VIEW (direct.h): guest address v at host address
 * DIRECT_USER_VIEW + v, reserved the same way, guard pages included. The
 * map/protect/unmap functions take the view's base; trapemu only ever
 * passes DIRECT_SUPERVISOR_VIEW (0). Guest pages below vm.mmap_min_addr
 * stay unmapped in both views, so that both see the same pages.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "core/direct/direct.h"

static uint32_t lowest_mappable;
static bool reserved;

bool direct_supported(char *why, size_t why_len)
{
#if defined(__SANITIZE_ADDRESS__)
    snprintf(why, why_len,
             "direct execution cannot run under AddressSanitizer: its shadow memory occupies the "
             "low 4 GiB the guest needs (use build/vmlab, not build/vmlab-san)");
    return false;
#elif !defined(__x86_64__) || !defined(__linux__)
    snprintf(why, why_len, "direct execution needs an x86-64 Linux host");
    return false;
#else
    (void)why;
    (void)why_len;
    return true;
#endif
}

uint32_t direct_lowest_mappable(void)
{
    if (lowest_mappable)
        return lowest_mappable;
    unsigned long value = 65536;     /* the usual default, if /proc cannot tell */
    FILE *file = fopen("/proc/sys/vm/mmap_min_addr", "r");
    if (file) {
        if (fscanf(file, "%lu", &value) != 1)
            value = 65536;
        fclose(file);
    }
    value = (value + 4095) & ~4095ul;
    lowest_mappable = value ? (uint32_t)value : 4096;   /* never map page 0: keep NULL a fault */
    return lowest_mappable;
}

/* PROT_NONE, nothing committed, never over something already there. */
static int reserve(uint64_t start, uint64_t length, const char *what, char *why, size_t why_len)
{
    void *want = (void *)(uintptr_t)start;
    void *got = mmap(want, length, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (got == MAP_FAILED || got != want) {
        if (got != MAP_FAILED)
            munmap(got, length);        /* an old kernel ignored NOREPLACE */
        snprintf(why, why_len, "cannot reserve %s at 0x%llx: %s", what,
                 (unsigned long long)start, got == MAP_FAILED ? strerror(errno) : "address taken");
        return -1;
    }
    return 0;
}

int direct_reserve_guest_space(char *why, size_t why_len)
{
    if (reserved)
        return 0;
    uint64_t start = direct_lowest_mappable();
    if (reserve(start, DIRECT_GUEST_SPACE_END - start, "the guest's 4 GiB", why, why_len) < 0)
        return -1;
    reserved = true;
    return 0;
}

int direct_reserve_guard_above(char *why, size_t why_len)
{
    static bool guarded;
    if (guarded)
        return 0;
    if (reserve(DIRECT_GUEST_SPACE_END, DIRECT_GUARD_SIZE,
                "the guard pages above the guest's 4 GiB", why, why_len) < 0)
        return -1;
    guarded = true;
    return 0;
}

int direct_reserve_user_view(char *why, size_t why_len)
{
    static bool user_view;
    if (user_view)
        return 0;
    if (reserve(DIRECT_USER_VIEW, DIRECT_GUEST_SPACE_END + DIRECT_GUARD_SIZE,
                "the user view of the guest's 4 GiB", why, why_len) < 0)
        return -1;
    user_view = true;
    return 0;
}

int direct_map(uint64_t view, int memfd, uint32_t linear, uint32_t physical, uint32_t length,
               int prot)
{
    if (linear < direct_lowest_mappable())
        return -1;
    void *at = (void *)(uintptr_t)(view + linear);
    void *got = mmap(at, length, prot, MAP_SHARED | MAP_FIXED, memfd, physical);
    return got == at ? 0 : -1;
}

int direct_protect(uint64_t view, uint32_t linear, uint32_t length, int prot)
{
    return mprotect((void *)(uintptr_t)(view + linear), length, prot);
}

int direct_unmap(uint64_t view, uint64_t linear, uint64_t length)
{
    uint64_t low = direct_lowest_mappable();
    if (linear < low) {
        if (linear + length <= low)
            return 0;
        length -= low - linear;
        linear = low;
    }
    if (linear + length > DIRECT_GUEST_SPACE_END)
        length = DIRECT_GUEST_SPACE_END - linear;
    void *at = (void *)(uintptr_t)(view + linear);
    void *got = mmap(at, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                     -1, 0);
    return got == at ? 0 : -1;
}
