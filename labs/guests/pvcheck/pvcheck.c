/*
 * pvcheck - the paravirtual interface, call by call, with hostile
 * arguments: every refusal must come back as an error code (core/pv/abi.h)
 * and the VMM must go on. Prints a deterministic transcript; the console
 * line in the middle is written through PV_CONSOLE_WRITE, the rest through
 * the UART (this is a test guest, not the no-privileged-instruction pv
 * kernel). Runs paging off first, then on its own pinned page tables.
 */
#include "pv_calls.h"

uint8_t hypercall_page[4096] __attribute__((aligned(4096)));
uint8_t shared_page[4096] __attribute__((aligned(4096)));
static uint32_t pv_directory[1024] __attribute__((aligned(4096)));
static uint32_t pv_table[1024] __attribute__((aligned(4096)));
static uint8_t scratch_page[4096] __attribute__((aligned(4096)));
static uint8_t other_page[4096] __attribute__((aligned(4096)));

static uint64_t system_time(void)
{
    uint32_t version, low, high;
    uint64_t base, stamp;
    uint32_t mul;
    do {
        version = shared->time_version;
        base = shared->system_time_ns;
        stamp = shared->tsc_timestamp;
        mul = shared->tsc_to_ns_mul;
    } while ((version & 1) || version != shared->time_version);
    asm volatile("rdtsc" : "=a"(low), "=d"(high));
    uint64_t delta = (((uint64_t)high << 32) | low) - stamp;
    /* (delta * mul) >> 32 without a 128-bit product */
    return base + (((delta & 0xffffffffu) * mul) >> 32) + (delta >> 32) * mul;
}

static void check_init(void)
{
    uint32_t hp = (uint32_t)hypercall_page, sp = (uint32_t)shared_page;
    expect("console_write before init", raw_hypercall(PV_CONSOLE_WRITE, 0, 0, 0), -PV_EINVAL);
    expect("init, wrong ABI version", raw_hypercall(PV_INIT, hp, sp, 99), -PV_EINVAL);
    expect("init, unaligned page", raw_hypercall(PV_INIT, hp + 8, sp, PV_ABI_VERSION), -PV_EINVAL);
    expect("init, page beyond RAM", raw_hypercall(PV_INIT, 0xfff00000, sp, PV_ABI_VERSION), -PV_EINVAL);
    expect("init, page in the legacy hole", raw_hypercall(PV_INIT, 0xb8000, sp, PV_ABI_VERSION), -PV_EINVAL);
    expect("init", raw_hypercall(PV_INIT, hp, sp, PV_ABI_VERSION), 0);
    expect("init again", hypercall(PV_INIT, hp, sp, PV_ABI_VERSION), -PV_EBUSY);
    expect("unknown hypercall 999", raw_hypercall(999, 0, 0, 0), -PV_ENOSYS);
    expect("event mask after init (1 = masked)", shared->event_mask, 1);
    pv_iret_entry = hp + PV_IRET * PV_HYPERCALL_ENTRY_SIZE;
}

static void check_console(void)
{
    static const char line[] = "console: this line came through PV_CONSOLE_WRITE\n";
    expect("console_write", hypercall(PV_CONSOLE_WRITE, (uint32_t)line, sizeof line - 1, 0),
           sizeof line - 1);
    expect("console_write, pointer beyond RAM", hypercall(PV_CONSOLE_WRITE, 0xfffff000, 16, 0), -PV_EFAULT);
    expect("console_write, huge length", hypercall(PV_CONSOLE_WRITE, (uint32_t)line, 0x7fffffff, 0), -PV_E2BIG);
    expect("console_write, wraps the address space", hypercall(PV_CONSOLE_WRITE, 0xffffff00, 0x1000, 0), -PV_EFAULT);
}

static void check_traps(void)
{
    extern char upcall_entry[];
    struct pv_trap_entry bad = { 0x31, 0, PV_SEL_USER_CODE, (uint32_t)upcall_entry };
    struct pv_trap_entry good = { PV_UPCALL_VECTOR, 0, PV_SEL_KERNEL_CODE, (uint32_t)upcall_entry };
    expect("set_trap_table, 100000 entries", hypercall(PV_SET_TRAP_TABLE, (uint32_t)&good, 100000, 0), -PV_E2BIG);
    expect("set_trap_table, pointer beyond RAM", hypercall(PV_SET_TRAP_TABLE, 0xfffff000, 1, 0), -PV_EFAULT);
    expect("set_trap_table, a ring-3 handler", hypercall(PV_SET_TRAP_TABLE, (uint32_t)&bad, 1, 0), -PV_EPERM);
    expect("set_trap_table, the upcall handler", hypercall(PV_SET_TRAP_TABLE, (uint32_t)&good, 1, 0), 0);
    expect("stack_switch, user SS", hypercall(PV_STACK_SWITCH, PV_SEL_USER_DATA, 0x200000, 0), -PV_EPERM);
    expect("stack_switch", hypercall(PV_STACK_SWITCH, PV_SEL_KERNEL_DATA, 0x200000, 0), 0);
}

static void check_events(void)
{
    expect("event_send, the timer's channel", hypercall(PV_EVENT_SEND, PV_EVENT_TIMER, 0, 0), -PV_EPERM);
    expect("event_send, channel 99", hypercall(PV_EVENT_SEND, 99, 0, 0), -PV_EINVAL);
    expect("event_send to self while masked", hypercall(PV_EVENT_SEND, PV_EVENT_SELF, 0, 0), 0);
    expect("upcalls while masked", upcalls, 0);
    shared->event_mask = 0;                  /* "sti": a store, no exit */
    if (shared->pending)
        hypercall(PV_EVENT_UNMASK, 0, 0, 0);
    expect("upcalls after unmask", upcalls, 1);
    expect("pending bitmap the handler saw", last_pending, 1 << PV_EVENT_SELF);
    expect("mask after the upcall's iret (0 = unmasked)", shared->event_mask, 0);
    shared->event_mask = 1;

    uint64_t before = system_time();
    uint64_t deadline = before + 2000000;
    expect("set_timer, 2 ms ahead", hypercall(PV_SET_TIMER, (uint32_t)deadline, (uint32_t)(deadline >> 32), 0), 0);
    while (upcalls < 2)
        hypercall(PV_SCHED_OP, PV_SCHED_BLOCK, 0, 0);
    shared->event_mask = 1;
    expect("timer upcall after block", last_pending, 1 << PV_EVENT_TIMER);
    expect("system time advanced by at least 2 ms", system_time() >= deadline, 1);
    expect("sched_op 77", hypercall(PV_SCHED_OP, 77, 0, 0), -PV_ENOSYS);
    expect("shutdown with status 200", hypercall(PV_SCHED_OP, PV_SCHED_SHUTDOWN, 200, 0), -PV_EINVAL);
}

/* Identity-map the first 4 MiB but the hole: the page tables and the
 * hypercall page read-only (the VMM refuses anything else). */
static void build_tables(bool table_writable)
{
    for (uint32_t i = 0; i < 1024; i++) {
        uint32_t address = i << 12;
        uint32_t flags = PTE_P | PTE_W;
        if (address == (uint32_t)hypercall_page || address == (uint32_t)pv_directory ||
            (address == (uint32_t)pv_table && !table_writable))
            flags = PTE_P;
        pv_table[i] = address | flags;
        if (address >= 0xa0000 && address < 0x100000)
            pv_table[i] = 0;                            /* the legacy hole is not RAM */
    }
    pv_table[0] = 0;                                  /* null pointers fault */
    pv_directory[0] = (uint32_t)pv_table | PTE_P | PTE_W;
}

static void check_mmu(void)
{
    uint32_t pt = (uint32_t)pv_table, pd = (uint32_t)pv_directory;
    build_tables(true);
    expect("pin a table that maps itself writable", hypercall(PV_MMUEXT, PV_MMUEXT_PIN_TABLE, pt, 0), -PV_EPERM);
    build_tables(false);
    expect("pin the page table", hypercall(PV_MMUEXT, PV_MMUEXT_PIN_TABLE, pt, 0), 0);
    expect("pin it again", hypercall(PV_MMUEXT, PV_MMUEXT_PIN_TABLE, pt, 0), -PV_EBUSY);
    expect("pin a frame beyond RAM", hypercall(PV_MMUEXT, PV_MMUEXT_PIN_TABLE, 0x7ffff000, 0), -PV_EINVAL);
    expect("new base pointer, not pinned", hypercall(PV_MMUEXT, PV_MMUEXT_NEW_BASEPTR, pd, 0), -PV_EINVAL);
    expect("pin the page directory", hypercall(PV_MMUEXT, PV_MMUEXT_PIN_DIRECTORY, pd, 0), 0);
    expect("new base pointer (paging on)", hypercall(PV_MMUEXT, PV_MMUEXT_NEW_BASEPTR, pd, 0), 0);
    printf("paging is on, still running\n");

    uint32_t slot = pt + 4 * 1023;                      /* the PTE of 0x3ff000 */
    struct pv_mmu_update updates[4] = {
        { slot, 0x10000000 | PTE_P | PTE_W },           /* VMM memory: beyond the guest's RAM */
        { slot, 0xa0000 | PTE_P },                      /* not the guest's: the legacy hole */
        { slot, pt | PTE_P | PTE_W },                   /* a page-table page, writable */
        { slot, (uint32_t)hypercall_page | PTE_P | PTE_W },   /* the hypercall page, writable */
    };
    expect("mmu_update: map VMM memory", hypercall(PV_MMU_UPDATE, (uint32_t)&updates[0], 1, 0), -PV_EPERM);
    expect("mmu_update: map a page the guest does not own", hypercall(PV_MMU_UPDATE, (uint32_t)&updates[1], 1, 0), -PV_EPERM);
    expect("mmu_update: map a page table writable", hypercall(PV_MMU_UPDATE, (uint32_t)&updates[2], 1, 0), -PV_EPERM);
    expect("mmu_update: map the hypercall page writable", hypercall(PV_MMU_UPDATE, (uint32_t)&updates[3], 1, 0), -PV_EPERM);
    struct pv_mmu_update not_table = { (uint32_t)scratch_page, 0 };
    expect("mmu_update: an entry outside any page table", hypercall(PV_MMU_UPDATE, (uint32_t)&not_table, 1, 0), -PV_EINVAL);
    expect("mmu_update: 1000000 entries", hypercall(PV_MMU_UPDATE, (uint32_t)updates, 1000000, 0), -PV_E2BIG);
    expect("mmu_update: list pointer beyond RAM", hypercall(PV_MMU_UPDATE, 0x3ffff000, 2, 0), -PV_EFAULT);
    struct pv_mmu_update large = { pd + 4, 0x400000 | PTE_P | PTE_W | 0x80 };
    expect("mmu_update: a 4 MiB page", hypercall(PV_MMU_UPDATE, (uint32_t)&large, 1, 0), -PV_EPERM);
    expect("the page table maps itself read-only", (pv_table[(uint32_t)pv_table >> 12] & PTE_W) == 0, 1);
    uint32_t before = pv_table[1023];
    struct pv_mmu_update half_bad[2] = {
        { slot, (uint32_t)scratch_page | PTE_P | PTE_W },   /* fine on its own */
        { (uint32_t)scratch_page, 0 },                      /* not in a page table */
    };
    expect("mmu_update: a batch whose last entry is refused", hypercall(PV_MMU_UPDATE, (uint32_t)half_bad, 2, 0), -PV_EINVAL);
    expect("  its first entry was not written", pv_table[1023] == before, 1);

    struct pv_mmu_update batch[3] = {
        { slot, (uint32_t)scratch_page | PTE_P | PTE_W },
        { slot - 4, (uint32_t)scratch_page | PTE_P },
        { slot - 8, 0 },
    };
    expect("mmu_update: a batch of 3", hypercall(PV_MMU_UPDATE, (uint32_t)batch, 3, 0), 3);
    expect("mmuext invlpg", hypercall(PV_MMUEXT, PV_MMUEXT_INVLPG, 0x3ff000, 0), 0);
    expect("mmuext invlpg", hypercall(PV_MMUEXT, PV_MMUEXT_INVLPG, 0x3fe000, 0), 0);
    *(volatile uint32_t *)0x3ff010 = 0x5a5a1234;
    expect("written through the new mapping, read back", *(volatile uint32_t *)(scratch_page + 0x10) == 0x5a5a1234, 1);
    expect("and through the read-only alias", *(volatile uint32_t *)0x3fe010 == 0x5a5a1234, 1);
    /* A used mapping changed: after the invlpg the old frame must be gone
     * (a VMM that mirrors the tables must hear of the VMM's own writes). */
    *(volatile uint32_t *)(other_page + 0x10) = 0x0bb0cafe;
    struct pv_mmu_update remap = { slot, (uint32_t)other_page | PTE_P | PTE_W };
    expect("mmu_update: remap a used page", hypercall(PV_MMU_UPDATE, (uint32_t)&remap, 1, 0), 1);
    expect("mmuext invlpg", hypercall(PV_MMUEXT, PV_MMUEXT_INVLPG, 0x3ff000, 0), 0);
    expect("  the new frame is seen, not the old", *(volatile uint32_t *)0x3ff010 == 0x0bb0cafe, 1);
    expect("unpin the current directory", hypercall(PV_MMUEXT, PV_MMUEXT_UNPIN, pd, 0), -PV_EBUSY);
    expect("unpin a table in use", hypercall(PV_MMUEXT, PV_MMUEXT_UNPIN, pt, 0), -PV_EBUSY);
    expect("mmuext 42", hypercall(PV_MMUEXT, 42, 0, 0), -PV_ENOSYS);
    expect("mmuext flush", hypercall(PV_MMUEXT, PV_MMUEXT_TLB_FLUSH, 0, 0), 0);
}

static void check_multicall(void)
{
    static const char text[] = "multicall: two writes, ";
    static const char more[] = "one exit\n";
    struct pv_multicall calls[3] = {
        { PV_CONSOLE_WRITE, { (uint32_t)text, sizeof text - 1, 0, 0, 0 }, 0 },
        { PV_CONSOLE_WRITE, { (uint32_t)more, sizeof more - 1, 0, 0, 0 }, 0 },
        { PV_IRET, { 0, 0, 0, 0, 0 }, 0 },
    };
    expect("multicall of 3", hypercall(PV_MULTICALL, (uint32_t)calls, 3, 0), 3);
    expect("  its first result", calls[0].result, sizeof text - 1);
    expect("  an iret inside a multicall", calls[2].result, -PV_EINVAL);
    expect("multicall of 1000", hypercall(PV_MULTICALL, (uint32_t)calls, 1000, 0), -PV_E2BIG);
    expect("multicall, list beyond RAM", hypercall(PV_MULTICALL, 0x3ffff000, 1, 0), -PV_EFAULT);
}

int guest_main(void)
{
    printf("pvcheck: the paravirtual interface, with hostile arguments\n");
    check_init();
    check_console();
    check_traps();
    check_events();
    check_mmu();
    check_multicall();
    printf("pvcheck: %s\n", checks_failed ? "FAILED" : "every check passed");
    hypercall(PV_SCHED_OP, PV_SCHED_SHUTDOWN, checks_failed ? 1 : 0, 0);
    printf("FAIL: still running after shutdown\n");
    return 3;
}
