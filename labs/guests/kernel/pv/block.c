/*
 * block.c - the paravirtual build's disk driver: what ata.c is for the
 * native kernel, through the block ring (core/pv/abi.h, docs/pv.md)
 * instead of the ATA registers. Xen's blkfront, small.
 *
 * The kernel above calls the same three functions (ata_init, ata_read,
 * ata_write: kernel.h). Each call queues its requests in the ring page,
 * makes one PV_BLOCK_NOTIFY for all of them, and collects the responses.
 * A read is one request; a write is two - the sector, then a flush, as the
 * native driver's WRITE SECTORS then FLUSH CACHE - under one notification.
 *
 * Requests name guest-physical buffers. The caller's buffer is a user
 * address (a system call's), which may straddle two pages that are not
 * adjacent in memory; the driver copies through one sector of its own
 * instead, which the kernel maps at its own address (physical = linear).
 */
#ifdef PV
#include "../kernel.h"
#include "../arch.h"

/* The ring is a whole page: the VMM clears the page at PV_BLOCK_SETUP and
 * keeps it as the ring's, so nothing else may share it. */
static uint8_t ring_page[4096] __attribute__((aligned(4096)));
static struct pv_block_ring *const ring = (struct pv_block_ring *)ring_page;
static uint8_t bounce[PV_BLOCK_SECTOR_SIZE] __attribute__((aligned(PV_BLOCK_SECTOR_SIZE)));

static bool present;
static uint32_t producer;       /* requests queued (ring->req_producer once published) */
static uint32_t consumer;       /* responses collected */

bool ata_init(void)
{
    if (!present)
        present = pv_call(PV_BLOCK_SETUP, (uint32_t)ring_page, 0, 0) == 0;
    return present;
}

/* One request into the next slot; the VMM sees it only at submit(). At
 * most two are queued at a time, far below PV_BLOCK_RING_SIZE. */
static void queue(uint16_t operation, uint32_t sector, void *buffer)
{
    struct pv_block_request *r = &ring->requests[producer % PV_BLOCK_RING_SIZE];
    r->id = producer;
    r->operation = operation;
    r->count = buffer ? 1 : 0;
    r->sector = sector;
    r->buffer = (uint32_t)buffer;
    producer++;
}

/* Publish what is queued, notify once, and wait for the disk event. The
 * VMM answers before the notification returns, but the ABI promises only
 * the event, so the driver waits for the responses as for an interrupt.
 * 0 if every request succeeded. */
static int submit(void)
{
    asm volatile("" ::: "memory");          /* the slots before the index */
    ring->req_producer = producer;
    if (pv_call(PV_BLOCK_NOTIFY, 0, 0, 0) < 0)
        return -1;
    while (ring->rsp_producer != producer)
        arch_wait_for_interrupt();
    int result = 0;
    for (; consumer != producer; consumer++)
        if (ring->responses[consumer % PV_BLOCK_RING_SIZE].status != 0)
            result = -1;
    return result;
}

int ata_read(uint32_t lba, void *buffer)
{
    if (!present || lba >= ring->sector_count)
        return -1;
    queue(PV_BLOCK_READ, lba, bounce);
    if (submit() < 0)
        return -1;
    memcpy(buffer, bounce, SECTOR_SIZE);
    return 0;
}

/* The sector and a flush in one batch: when the call returns, the sector
 * is in the image file on stable storage, as with the native driver. */
int ata_write(uint32_t lba, const void *buffer)
{
    if (!present || lba >= ring->sector_count)
        return -1;
    memcpy(bounce, buffer, SECTOR_SIZE);
    queue(PV_BLOCK_WRITE, lba, bounce);
    queue(PV_BLOCK_FLUSH, 0, 0);
    return submit();
}
#endif
