/*
 * pv_calls.h - what the pv test guests (pvcheck, blkcheck) share: a call
 * through the hypercall page, one through the raw port (before PV_INIT has
 * written the page, or to test PV_INIT itself), the upcall handler's
 * bookkeeping, and the line each check prints. The including guest
 * defines hypercall_page and shared_page, page-aligned (PV_INIT names them).
 */
#ifndef PV_CALLS_H
#define PV_CALLS_H

#include "guest.h"
#include "../../../core/pv/abi.h"

extern uint8_t hypercall_page[4096], shared_page[4096];
static volatile struct pv_shared_info *const shared = (volatile struct pv_shared_info *)shared_page;
uint32_t pv_iret_entry;                 /* note.S's upcall entry returns through it */
static volatile int upcalls;
static volatile uint32_t last_pending;

/* Hypercall n through the page (PV_HYPERCALL_ENTRY_SIZE bytes an entry). */
static inline int32_t hypercall(uint32_t n, uint32_t a, uint32_t b, uint32_t c)
{
    int32_t result;
    void *entry = hypercall_page + n * PV_HYPERCALL_ENTRY_SIZE;
    asm volatile("call *%1" : "=a"(result) : "r"(entry), "b"(a), "c"(b), "d"(c) : "memory");
    return result;
}

/* Hypercall n by the OUT the page's entries make. */
static inline int32_t raw_hypercall(uint32_t n, uint32_t a, uint32_t b, uint32_t c)
{
    int32_t result;
    asm volatile("outl %%eax, %1" : "=a"(result) : "i"(PV_HYPERCALL_PORT), "a"(n), "b"(a), "c"(b),
                 "d"(c) : "memory");
    return result;
}

/* Called from note.S's upcall_entry. */
void upcall_handler(void)
{
    last_pending = shared->pending;
    shared->pending = 0;
    upcalls++;
}

static inline void expect(const char *what, int32_t got, int32_t want)
{
    printf("%s: %d%s\n", what, (int)got, got == want ? "" : "  <-- WRONG");
    if (got != want)
        checks_failed++;
}

#endif
