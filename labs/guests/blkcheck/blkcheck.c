/*
 * blkcheck - the pv block ring (core/pv/block.c) with hostile requests:
 * a ring in a frame the guest may not give, buffers outside its RAM or in
 * its page tables, sectors beyond the image, huge counts, a producer index
 * that claims more than the ring holds. Each must come back as an error
 * status, the VMM must go on answering, and a good batch must reach the
 * image with one notification and one disk event. Runs with paging off
 * (physical = linear) and needs a disk: tests/pv/run.sh gives it one.
 * Prints a deterministic transcript (tests/pv/expected/blkcheck.txt).
 */
#include "../pvcheck/pv_calls.h"

uint8_t hypercall_page[4096] __attribute__((aligned(4096)));
uint8_t shared_page[4096] __attribute__((aligned(4096)));
static uint8_t ring_page[4096] __attribute__((aligned(4096)));
static uint32_t pinned_table[1024] __attribute__((aligned(4096)));
static uint8_t data[2][512] __attribute__((aligned(4096)));
static struct pv_block_ring *const ring = (struct pv_block_ring *)ring_page;
static uint32_t producer;

/* PV_INIT through a raw OUT (the note names no page), and the upcall. */
static void init(void)
{
    extern char upcall_entry[];
    expect("init", raw_hypercall(PV_INIT, (uint32_t)hypercall_page, (uint32_t)shared_page,
                                 PV_ABI_VERSION), 0);
    pv_iret_entry = (uint32_t)hypercall_page + PV_IRET * PV_HYPERCALL_ENTRY_SIZE;
    struct pv_trap_entry upcall = { PV_UPCALL_VECTOR, 0, PV_SEL_KERNEL_CODE, (uint32_t)upcall_entry };
    expect("set_trap_table, the upcall handler", hypercall(PV_SET_TRAP_TABLE, (uint32_t)&upcall, 1, 0), 0);
}

static void check_setup(void)
{
    uint32_t rp = (uint32_t)ring_page;
    expect("block_notify before setup", hypercall(PV_BLOCK_NOTIFY, 0, 0, 0), -PV_EINVAL);
    expect("block_setup, unaligned frame", hypercall(PV_BLOCK_SETUP, rp + 8, 0, 0), -PV_EINVAL);
    expect("block_setup, frame beyond RAM", hypercall(PV_BLOCK_SETUP, 0xfff00000, 0, 0), -PV_EINVAL);
    expect("block_setup, frame in the legacy hole", hypercall(PV_BLOCK_SETUP, 0xb8000, 0, 0), -PV_EINVAL);
    expect("block_setup, the shared info page", hypercall(PV_BLOCK_SETUP, (uint32_t)shared_page, 0, 0), -PV_EINVAL);
    expect("block_setup, the hypercall page", hypercall(PV_BLOCK_SETUP, (uint32_t)hypercall_page, 0, 0), -PV_EINVAL);
    expect("pin an empty page table", hypercall(PV_MMUEXT, PV_MMUEXT_PIN_TABLE, (uint32_t)pinned_table, 0), 0);
    expect("block_setup, a pinned page table", hypercall(PV_BLOCK_SETUP, (uint32_t)pinned_table, 0, 0), -PV_EINVAL);
    ring->sector_count = 0x5a5a;
    expect("block_setup", hypercall(PV_BLOCK_SETUP, rp, 0, 0), 0);
    expect("block_setup again", hypercall(PV_BLOCK_SETUP, rp, 0, 0), -PV_EBUSY);
    expect("the ring says how many sectors the image has", ring->sector_count >= 4 && ring->sector_count != 0x5a5a, 1);
    expect("pin the ring as a page table", hypercall(PV_MMUEXT, PV_MMUEXT_PIN_TABLE, rp, 0), -PV_EBUSY);
    expect("block_notify, nothing queued", hypercall(PV_BLOCK_NOTIFY, 0, 0, 0), 0);
}

static void queue(uint16_t operation, uint32_t sector, uint16_t count, uint32_t buffer)
{
    ring->requests[producer % PV_BLOCK_RING_SIZE] =
        (struct pv_block_request){ producer, operation, count, sector, buffer };
    producer++;
}

/* Publish the queued requests, notify once; the result is the notify's. */
static int32_t submit(void)
{
    ring->req_producer = producer;
    return hypercall(PV_BLOCK_NOTIFY, 0, 0, 0);
}

static int32_t status_of(uint32_t index)
{
    return ring->responses[index % PV_BLOCK_RING_SIZE].status;
}

/* Write sector 1, flush, read it back: three requests, one notification,
 * one event. Events unmasked so that the upcall comes at once. */
static void check_batch(void)
{
    for (int i = 0; i < 512; i++)
        data[0][i] = (uint8_t)(i * 7 + 3);
    memset(data[1], 0, 512);
    uint32_t first = producer;
    int before = upcalls;
    shared->event_mask = 0;
    queue(PV_BLOCK_WRITE, 1, 1, (uint32_t)data[0]);
    queue(PV_BLOCK_FLUSH, 0, 0, 0);
    queue(PV_BLOCK_READ, 1, 1, (uint32_t)data[1]);
    expect("a batch of 3 (write, flush, read), one notify", submit(), 3);
    shared->event_mask = 1;
    expect("  responses produced", ring->rsp_producer == producer, 1);
    expect("  the write's status", status_of(first), 0);
    expect("  the flush's status", status_of(first + 1), 0);
    expect("  the read's status", status_of(first + 2), 0);
    expect("  the read's id", ring->responses[(first + 2) % PV_BLOCK_RING_SIZE].id, first + 2);
    expect("  read back what was written", memcmp(data[0], data[1], 512) == 0, 1);
    expect("  disk events for the batch", upcalls - before, 1);
    expect("  pending bitmap the handler saw", last_pending, 1 << PV_EVENT_DISK);
}

static const struct {
    const char *what;
    uint16_t operation, count;
    uint32_t sector, buffer;     /* sector: ~0u stands for "the image's size" */
    int32_t want;
} hostile[] = {
    { "read into a buffer beyond RAM", PV_BLOCK_READ, 1, 0, 0xfff00000, -PV_EFAULT },
    { "write from a buffer beyond RAM", PV_BLOCK_WRITE, 1, 0, 0xfffffe00, -PV_EFAULT },
    { "read into the legacy hole", PV_BLOCK_READ, 1, 0, 0xb8000, -PV_EFAULT },
    { "read into a pinned page table", PV_BLOCK_READ, 1, 0, 0, -PV_EPERM },
    { "read into the ring itself", PV_BLOCK_READ, 1, 0, 1, -PV_EPERM },
    { "read into the hypercall page", PV_BLOCK_READ, 1, 0, 2, -PV_EPERM },
    { "read the sector after the image", PV_BLOCK_READ, 1, ~0u, 3, -PV_EINVAL },
    { "write 8 sectors from sector 0xfffffffc", PV_BLOCK_WRITE, 8, 0xfffffffc, 3, -PV_EINVAL },
    { "read 0 sectors", PV_BLOCK_READ, 0, 0, 3, -PV_EINVAL },
    { "read 9 sectors", PV_BLOCK_READ, 9, 0, 3, -PV_E2BIG },
    { "read 65535 sectors", PV_BLOCK_READ, 65535, 0, 3, -PV_E2BIG },
    { "operation 7", 7, 1, 0, 3, -PV_ENOSYS },
};

/* Small buffer numbers stand for this guest's own pages. */
static uint32_t buffer_address(uint32_t which)
{
    switch (which) {
    case 0: return (uint32_t)pinned_table;
    case 1: return (uint32_t)ring_page;
    case 2: return (uint32_t)hypercall_page;
    case 3: return (uint32_t)data[1];
    default: return which;
    }
}

static void check_hostile(void)
{
    uint32_t n = sizeof hostile / sizeof hostile[0], first = producer;
    for (uint32_t i = 0; i < n; i++)
        queue(hostile[i].operation, hostile[i].sector == ~0u ? ring->sector_count : hostile[i].sector,
              hostile[i].count, buffer_address(hostile[i].buffer));
    expect("a batch of 12 hostile requests", submit(), (int32_t)n);
    for (uint32_t i = 0; i < n; i++) {
        char line[64];
        int length = 0;
        for (const char *c = "  "; *c; c++)
            line[length++] = *c;
        for (const char *c = hostile[i].what; *c && length < 63; c++)
            line[length++] = *c;
        line[length] = 0;
        expect(line, status_of(first + i), hostile[i].want);
    }
    expect("the ring page was not written as a sector", ring->req_producer == producer, 1);

    ring->req_producer = producer + 1000;
    expect("block_notify, producer 1000 ahead", hypercall(PV_BLOCK_NOTIFY, 0, 0, 0), -PV_EINVAL);
    ring->req_producer = producer;
    uint32_t again = producer;
    memset(data[1], 0, 512);
    queue(PV_BLOCK_READ, 1, 1, (uint32_t)data[1]);
    expect("and then a good read", submit(), 1);
    expect("  its status", status_of(again), 0);
    expect("  the sector written before", memcmp(data[0], data[1], 512) == 0, 1);
}

int guest_main(void)
{
    printf("blkcheck: the pv block ring, with hostile requests\n");
    init();
    check_setup();
    check_batch();
    check_hostile();
    printf("blkcheck: %s\n", checks_failed ? "FAILED" : "every check passed");
    hypercall(PV_SCHED_OP, PV_SCHED_SHUTDOWN, checks_failed ? 1 : 0, 0);
    printf("FAIL: still running after shutdown\n");
    return 3;
}
