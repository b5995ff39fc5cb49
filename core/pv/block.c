/*
 * block.c - the disk of a pv guest: a ring of requests in a page the guest
 * shares with the VMM (Xen's blkfront/blkback, written again small).
 *
 * The native kernel moves a sector through the ATA registers: some ten
 * port writes to start a command, a status poll, then 256 16-bit reads or
 * writes of the data register - each of them an exit under trapemu or
 * hvm. A pv kernel instead writes requests {id, operation, sector, count,
 * buffer} into the ring, advances its producer index, and makes one
 * PV_BLOCK_NOTIFY for the whole batch. The VMM performs the batch against
 * the same image file the ATA disk uses (ata_image_* in core/dev/ata.c),
 * writes one response per request and raises PV_EVENT_DISK: one exit and
 * one upcall per batch, whatever its size.
 *
 * Everything in the ring is the guest's and may be hostile: the producer
 * index is bounded by the ring's size, each request is copied out once
 * before it is looked at, and its buffer, sector range and count are
 * checked; a bad request gets an error status in its response and a
 * pv-refused/<what> row, never a VMM access outside the guest's RAM.
 */
#include "pv_internal.h"

#include <stdio.h>
#include <string.h>

#include "core/vm.h"

static struct pv_block_ring *ring_of(struct pv *pv)
{
    return (struct pv_block_ring *)(pv->vm->ram.host + pv->block_ring);
}

/* The disk the ring reaches: the ATA channel's master (--disk). */
static struct ata_disk *disk_of(struct pv *pv)
{
    return pv->vm->has_disk ? &pv->vm->disk : NULL;
}

/* ---- PV_BLOCK_SETUP ------------------------------------------------------ */

/* EBX = the ring's frame, a page of the guest's plain RAM (not the shared
 * info page, not a page table, not the hypercall page). The frame becomes
 * the ring's for good: it can no longer be pinned as a page table, since
 * the VMM writes into it without checking what it writes as a PTE. */
int32_t pv_block_setup(struct pv *pv, struct emulator *e, const uint32_t args[5])
{
    char detail[46];
    uint32_t frame = args[0];
    if (pv->block_ring)
        return pv_refuse(pv, PV_EBUSY, "block-setup-twice", NULL);
    struct ata_disk *disk = disk_of(pv);
    if (!disk)
        return pv_refuse(pv, PV_ENODEV, "block-no-disk", NULL);
    snprintf(detail, sizeof detail, "frame 0x%08x", frame);
    if ((frame & (PAGE_SIZE - 1)) || !pv_guest_owns(pv, frame, PAGE_SIZE) ||
        pv->frame_types[frame >> PAGE_SHIFT] != PV_FRAME_PLAIN || frame == pv->shared_info)
        return pv_refuse(pv, PV_EINVAL, "block-ring-frame", detail);

    static const uint8_t zero_page[PAGE_SIZE];
    pv_write_physical(e, frame, zero_page, PAGE_SIZE);      /* an empty ring */
    uint32_t sectors = disk->sector_count > UINT32_MAX ? UINT32_MAX : (uint32_t)disk->sector_count;
    pv_write_physical(e, frame + (uint32_t)offsetof(struct pv_block_ring, sector_count),
                      &sectors, sizeof sectors);
    pv->frame_types[frame >> PAGE_SHIFT] = PV_FRAME_BLOCK_RING;
    pv->block_ring = frame;
    pv->block_consumer = 0;
    return 0;
}

/* ---- one request --------------------------------------------------------- */

/* Is the buffer of `r` the guest's, and - for a read, which the VMM writes
 * into - plain memory? A read into a pinned page table would write entries
 * that mmu_update never checked. */
static int32_t check_buffer(struct pv *pv, const struct pv_block_request *r, uint32_t length)
{
    char detail[46];
    snprintf(detail, sizeof detail, "buffer 0x%08x, %u bytes", r->buffer, length);
    if (!pv_guest_owns(pv, r->buffer, length))
        return pv_refuse(pv, PV_EFAULT, "block-buffer", detail);
    if (r->operation != PV_BLOCK_READ)
        return 0;
    for (uint32_t page = r->buffer >> PAGE_SHIFT; page <= (r->buffer + length - 1) >> PAGE_SHIFT; page++)
        if (pv->frame_types[page] != PV_FRAME_PLAIN)
            return pv_refuse(pv, PV_EPERM, "block-buffer-not-plain", detail);
    return 0;
}

static int32_t check_request(struct pv *pv, struct ata_disk *disk, const struct pv_block_request *r)
{
    char detail[46];
    if (r->operation > PV_BLOCK_FLUSH) {
        snprintf(detail, sizeof detail, "operation %u", r->operation);
        return pv_refuse(pv, PV_ENOSYS, "block-operation", detail);
    }
    if (r->operation == PV_BLOCK_FLUSH)
        return 0;
    if (r->count == 0 || r->count > PV_BLOCK_MAX_SECTORS) {
        snprintf(detail, sizeof detail, "%u sectors", r->count);
        return pv_refuse(pv, r->count ? PV_E2BIG : PV_EINVAL, "block-count", detail);
    }
    if ((uint64_t)r->sector + r->count > disk->sector_count) {
        snprintf(detail, sizeof detail, "sectors %u+%u", r->sector, r->count);
        return pv_refuse(pv, PV_EINVAL, "block-sector-range", detail);
    }
    return check_buffer(pv, r, (uint32_t)r->count * PV_BLOCK_SECTOR_SIZE);
}

/* Copy `length` bytes into guest-physical memory a page at a time (what
 * pv_write_physical accepts: it drops the interpreter's decoded code of
 * each page written). */
static void copy_to_physical(struct emulator *e, uint32_t physical, const uint8_t *from,
                             uint32_t length)
{
    while (length > 0) {
        uint32_t chunk = PAGE_SIZE - (physical & (PAGE_SIZE - 1));
        if (chunk > length)
            chunk = length;
        pv_write_physical(e, physical, from, chunk);
        physical += chunk;
        from += chunk;
        length -= chunk;
    }
}

/* A checked request against the image. A write is answered 0 only when
 * ata_image_write has put every byte into the file. */
static int32_t perform(struct pv *pv, struct emulator *e, struct ata_disk *disk,
                       const struct pv_block_request *r)
{
    static uint8_t data[PV_BLOCK_MAX_SECTORS * PV_BLOCK_SECTOR_SIZE];
    uint32_t length = (uint32_t)r->count * PV_BLOCK_SECTOR_SIZE;
    switch (r->operation) {
    case PV_BLOCK_READ:
        if (ata_image_read(disk, r->sector, r->count, data) < 0)
            return -PV_EIO;
        copy_to_physical(e, r->buffer, data, length);
        return 0;
    case PV_BLOCK_WRITE:
        memcpy(data, pv->vm->ram.host + r->buffer, length);
        return ata_image_write(disk, r->sector, r->count, data) < 0 ? -PV_EIO : 0;
    default:
        return ata_image_flush(disk) < 0 ? -PV_EIO : 0;
    }
}

/* ---- PV_BLOCK_NOTIFY ------------------------------------------------------ */

/* Take request slot `index` out of the ring: one read of each field, so the
 * checks and the I/O see the same values whatever the guest writes. */
static struct pv_block_request take_request(struct pv *pv, uint32_t index)
{
    const struct pv_block_request *slot = &ring_of(pv)->requests[index % PV_BLOCK_RING_SIZE];
    struct pv_block_request r;
    memcpy(&r, slot, sizeof r);
    return r;
}

static void put_response(struct pv *pv, struct emulator *e, uint32_t index,
                         const struct pv_block_response *response)
{
    uint32_t at = pv->block_ring + (uint32_t)offsetof(struct pv_block_ring, responses) +
                  (index % PV_BLOCK_RING_SIZE) * (uint32_t)sizeof *response;
    pv_write_physical(e, at, response, sizeof *response);
}

/* Every request from our consumer index to the guest's producer, in order;
 * response n goes into slot n (one response per request, so the VMM never
 * needs the guest's response consumer). Then one event for the batch.
 * Returns the number of requests answered. */
int32_t pv_block_notify(struct pv *pv, struct emulator *e, const uint32_t args[5])
{
    (void)args;
    char detail[46];
    struct ata_disk *disk = disk_of(pv);
    if (!pv->block_ring || !disk)
        return pv_refuse(pv, PV_EINVAL, "block-no-ring", NULL);
    uint32_t producer = ring_of(pv)->req_producer;
    uint32_t queued = producer - pv->block_consumer;
    if (queued > PV_BLOCK_RING_SIZE) {
        snprintf(detail, sizeof detail, "producer %u, consumer %u", producer, pv->block_consumer);
        return pv_refuse(pv, PV_EINVAL, "block-ring-index", detail);
    }
    if (queued == 0)
        return 0;
    pv_count_batch(pv, "pv-block", queued);
    for (uint32_t n = 0; n < queued; n++) {
        uint32_t index = pv->block_consumer + n;
        struct pv_block_request r = take_request(pv, index);
        struct pv_block_response response = { r.id, check_request(pv, disk, &r) };
        if (response.status == 0)
            response.status = perform(pv, e, disk, &r);
        put_response(pv, e, index, &response);
    }
    pv->block_consumer = producer;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);          /* responses before the index */
    uint32_t rsp_at = pv->block_ring + (uint32_t)offsetof(struct pv_block_ring, rsp_producer);
    pv_write_physical(e, rsp_at, &producer, sizeof producer);
    pv_raise_event(pv, PV_EVENT_DISK);
    return (int32_t)queued;
}
