/*
 * abi.h - the paravirtual interface between vmlab and a pv guest kernel.
 *
 * This one header is included by both sides: by the VMM (core/pv) and by
 * guest kernels built with -DPV, so it uses nothing but <stdint.h>. It is
 * the whole contract; docs/pv.md explains it for someone porting a kernel.
 *
 * The shape follows Xen's (SOSP 2003) and lguest's, written again small:
 *
 *   - a guest marks its image as paravirtual with an ELF note (PV_NOTE_*);
 *   - its first hypercall, PV_INIT, names two guest-physical pages: the
 *     hypercall page, which the VMM fills with one 32-byte stub per
 *     hypercall, and the shared info page, which both sides read and write
 *     without any exit (the event mask, pending events, CR2, time, the
 *     console input ring);
 *   - every other hypercall is `call hypercall_page + 32 * n`, arguments in
 *     EBX, ECX, EDX, ESI, EDI, result in EAX (negative: -PV_E*);
 *   - interrupts become events, delivered as upcalls at PV_UPCALL_VECTOR
 *     when the guest's mask byte allows.
 */
#ifndef VMLAB_PV_ABI_H
#define VMLAB_PV_ABI_H

#include <stdint.h>

#define PV_ABI_VERSION 1

/* The ELF note that makes an image a pv guest: owner "vmlab", type 0x5056
 * ("PV"), a descriptor holding PV_ABI_VERSION and, optionally (8 bytes),
 * the guest-physical address of the kernel's hypercall page. vmlab gives a
 * guest the hypercall interface only if its image carries the note. A
 * kernel without a single `out` cannot make its first hypercall through a
 * page nobody has filled yet, so the loader fills the page the note names
 * before the guest starts (Xen's XEN_ELFNOTE_HYPERCALL_PAGE); PV_INIT is
 * then entry 0 of that page. With no address in the note, the guest makes
 * PV_INIT itself with `out %eax, $PV_HYPERCALL_PORT` (EAX = 0). */
#define PV_NOTE_NAME "vmlab"
#define PV_NOTE_TYPE 0x5056u

/* ---- the hypercall page ----------------------------------------------------
 * Entry n starts at hypercall_page + n * PV_HYPERCALL_ENTRY_SIZE. The stub
 * the VMM writes there today, under every technique, is
 *
 *     b8 nn 00 00 00     mov  $n, %eax
 *     e7 e0              out  %eax, $PV_HYPERCALL_PORT
 *     c3                 ret
 *
 * An OUT is what every technique already hands to the VMM: the interpreter
 * executes it (and recognises the port as the hypercall port of a pv guest),
 * direct execution traps on it at ring 3, KVM exits on it. The guest must
 * never depend on the bytes: only on "call entry n". */
#define PV_HYPERCALL_ENTRY_SIZE 32
#define PV_HYPERCALL_PORT 0xe0

enum pv_hypercall {
    PV_INIT = 0,            /* ebx = hypercall page (phys), ecx = shared info (phys), edx = version */
    PV_SET_TRAP_TABLE = 1,  /* ebx = struct pv_trap_entry *, ecx = count */
    PV_STACK_SWITCH = 2,    /* ebx = kernel SS, ecx = kernel ESP for traps from ring 3 */
    PV_IRET = 3,            /* jmp (not call) with ESP at an iret frame; restores the mask */
    PV_MMU_UPDATE = 4,      /* ebx = struct pv_mmu_update *, ecx = count; eax = count done */
    PV_MMUEXT = 5,          /* ebx = enum pv_mmuext_op, ecx = its argument */
    PV_SET_TIMER = 6,       /* ebx:ecx = low:high of a deadline in system time (ns); 0 cancels */
    PV_SCHED_OP = 7,        /* ebx = enum pv_sched_op, ecx = shutdown status */
    PV_CONSOLE_WRITE = 8,   /* ebx = bytes, ecx = length (at most PV_CONSOLE_WRITE_MAX) */
    PV_EVENT_SEND = 9,      /* ebx = event channel: raise it (PV_EVENT_SELF only, today) */
    PV_EVENT_UNMASK = 10,   /* deliver pending events now if the mask allows */
    PV_MULTICALL = 11,      /* ebx = struct pv_multicall *, ecx = count (at most PV_MULTICALL_MAX) */
    PV_BLOCK_SETUP = 12,    /* ebx = the block ring's frame (phys): the disk's ring; eax = 0 */
    PV_BLOCK_NOTIFY = 13,   /* the ring has new requests: eax = how many were answered */
    PV_HYPERCALL_COUNT
};

/* The hypercall page also holds the descriptor tables the VMM keeps for
 * the guest (a pv kernel cannot load its own): read-only to the guest. */
#define PV_PAGE_TSS_OFFSET 0x300
#define PV_PAGE_GDT_OFFSET 0x380
#define PV_PAGE_IDT_OFFSET 0x800

/* The GDT the VMM installs at PV_INIT: the teaching kernel's layout. */
#define PV_SEL_KERNEL_CODE 0x08
#define PV_SEL_KERNEL_DATA 0x10
#define PV_SEL_USER_CODE   0x1b
#define PV_SEL_USER_DATA   0x23
#define PV_SEL_TSS         0x28

/* Results: 0 or positive on success, else one of these, negated. */
enum pv_error {
    PV_EPERM = 1,       /* refused: a mapping the guest may not have, a handler in ring 3 */
    PV_EIO = 5,         /* the host could not read or write the disk image */
    PV_E2BIG = 7,       /* a count beyond the limit */
    PV_EFAULT = 14,     /* a pointer the guest cannot read (or write) */
    PV_EBUSY = 16,      /* in use: PV_INIT twice, unpinning the current directory */
    PV_ENODEV = 19,     /* no such device: PV_BLOCK_SETUP on a VM without a disk */
    PV_EINVAL = 22,     /* a malformed argument */
    PV_ENOSYS = 38,     /* no such hypercall or operation */
};

/* ---- PV_SET_TRAP_TABLE ---------------------------------------------------- */
struct pv_trap_entry {
    uint8_t vector;
    uint8_t dpl;             /* 0, or 3 for vectors ring 3 may raise with int n */
    uint16_t cs;             /* must be PV_SEL_KERNEL_CODE */
    uint32_t handler;        /* linear address */
};
#define PV_TRAP_TABLE_MAX 256

/* Events arrive as an interrupt at this vector (register a handler for it
 * in the trap table); the shared info page's `pending` says which. */
#define PV_UPCALL_VECTOR 0x30

/* ---- PV_MMU_UPDATE and PV_MMUEXT -----------------------------------------
 * Direct paging (Xen): the guest's page tables are guest memory, but once
 * pinned they change only through PV_MMU_UPDATE, which validates each
 * write. The VMM refuses a mapping of a frame the guest does not own
 * (beyond its RAM, or the legacy hole), any writable mapping of a page-table
 * page or of the hypercall page, and 4 MiB pages. */
struct pv_mmu_update {
    uint32_t entry;          /* guest-physical address of the PTE or PDE */
    uint32_t value;          /* what to write there */
};
#define PV_MMU_UPDATE_MAX 1024

enum pv_mmuext_op {
    PV_MMUEXT_PIN_TABLE = 0,      /* arg = frame address: validate it as a page table */
    PV_MMUEXT_PIN_DIRECTORY = 1,  /* arg = frame address: validate it as a page directory */
    PV_MMUEXT_UNPIN = 2,          /* arg = frame address: plain memory again */
    PV_MMUEXT_NEW_BASEPTR = 3,    /* arg = a pinned directory: CR3 (turns paging on the first time) */
    PV_MMUEXT_INVLPG = 4,         /* arg = linear address */
    PV_MMUEXT_TLB_FLUSH = 5,
};

/* ---- PV_SCHED_OP ----------------------------------------------------------- */
enum pv_sched_op {
    PV_SCHED_YIELD = 0,
    PV_SCHED_BLOCK = 1,      /* clear the mask and sleep until an event is pending */
    PV_SCHED_SHUTDOWN = 2,   /* ecx = status: vmlab exits with (status << 1) | 1, as isa-debug-exit */
};

/* ---- events ----------------------------------------------------------------- */
enum pv_event_channel {
    PV_EVENT_TIMER = 0,      /* the PV_SET_TIMER deadline passed */
    PV_EVENT_CONSOLE = 1,    /* bytes in the console input ring */
    PV_EVENT_SELF = 2,       /* raised by the guest itself with PV_EVENT_SEND */
    PV_EVENT_DISK = 3,       /* responses in the block ring */
    PV_EVENT_CHANNELS
};

#define PV_CONSOLE_WRITE_MAX 4096
#define PV_MULTICALL_MAX 64

struct pv_multicall {
    uint32_t op;             /* not PV_IRET, not PV_MULTICALL */
    uint32_t args[5];        /* ebx, ecx, edx, esi, edi */
    int32_t result;          /* written by the VMM */
};

/* ---- the block ring (PV_BLOCK_SETUP, PV_BLOCK_NOTIFY) ------------------------
 * Xen's blkfront/blkback, small. The guest gives the VMM one page of its
 * RAM, struct pv_block_ring, with PV_BLOCK_SETUP; from then on that frame
 * is the ring's (it cannot be pinned as a page table). To do I/O the guest
 * fills request slots, advances req_producer, and makes one PV_BLOCK_NOTIFY
 * for the whole batch. The VMM performs every request between its own
 * consumer index and req_producer against the VM's disk image (the one the
 * emulated ATA disk reads, --disk), writes one response per request,
 * advances rsp_producer and raises PV_EVENT_DISK.
 *
 * Indices run freely (the slot is index % PV_BLOCK_RING_SIZE). The guest
 * keeps its response consumer to itself and never has more than
 * PV_BLOCK_RING_SIZE requests unanswered; the VMM keeps its request
 * consumer to itself and refuses a producer that claims more.
 *
 * Buffers are guest-physical: `count` sectors from `buffer`, inside the
 * guest's RAM; a read's buffer must be plain memory (not a page table, the
 * hypercall page or the ring). A write is answered 0 only once it is in the
 * image file (the host's page cache, as the ATA disk's WRITE SECTORS);
 * PV_BLOCK_FLUSH answers once the image is on stable storage (fsync, as
 * FLUSH CACHE). */
enum pv_block_operation {
    PV_BLOCK_READ = 0,       /* image -> buffer */
    PV_BLOCK_WRITE = 1,      /* buffer -> image */
    PV_BLOCK_FLUSH = 2,      /* earlier writes to stable storage; sector, count, buffer unused */
};

#define PV_BLOCK_SECTOR_SIZE 512
#define PV_BLOCK_MAX_SECTORS 8       /* per request: one page */
#define PV_BLOCK_RING_SIZE 64        /* slots; a power of two */

struct pv_block_request {
    uint32_t id;             /* the guest's, copied into the response */
    uint16_t operation;      /* enum pv_block_operation */
    uint16_t count;          /* sectors, 1 .. PV_BLOCK_MAX_SECTORS */
    uint32_t sector;         /* the first sector */
    uint32_t buffer;         /* guest-physical address of count * 512 bytes */
};

struct pv_block_response {
    uint32_t id;
    int32_t status;          /* 0, or -PV_E* */
};

struct pv_block_ring {
    volatile uint32_t req_producer;      /* the guest's */
    volatile uint32_t rsp_producer;      /* the VMM's */
    volatile uint32_t sector_count;      /* the image's size, written by PV_BLOCK_SETUP */
    uint32_t reserved;
    struct pv_block_request requests[PV_BLOCK_RING_SIZE];
    struct pv_block_response responses[PV_BLOCK_RING_SIZE];
};

_Static_assert(sizeof(struct pv_block_request) == 16, "block request layout");
_Static_assert(sizeof(struct pv_block_ring) <= 4096, "the block ring is one page");

/* ---- the shared info page ---------------------------------------------------- */
#define PV_CONSOLE_RING_SIZE 256

struct pv_shared_info {
    /* The virtual interrupt flag, written by the guest with a plain store
     * (no exit): 1 = events masked ("cli"), 0 = deliver them ("sti"). The
     * VMM sets it to 1 when it delivers an upcall, as an interrupt gate
     * clears IF. After clearing it, a guest that finds `pending` non-zero
     * calls PV_EVENT_UNMASK, so that no event waits for the next exit. */
    volatile uint8_t event_mask;
    uint8_t reserved[3];
    volatile uint32_t pending;           /* bit n: channel n raised; the guest clears */
    volatile uint32_t cr2;               /* the faulting address of the last page fault */
    /* Time without an exit (Xen's vcpu_time_info): while `time_version`
     * is odd the VMM is writing; read it, the fields, and it again.
     * now_ns = system_time_ns + (((tsc - tsc_timestamp) * tsc_to_ns_mul) >> 32). */
    volatile uint32_t time_version;
    volatile uint32_t tsc_to_ns_mul;
    uint32_t reserved2;                  /* i386 aligns uint64_t to 4, x86-64 to 8 */
    volatile uint64_t tsc_timestamp;
    volatile uint64_t system_time_ns;
    /* Console input: the VMM produces, the guest consumes (indices run
     * freely; the byte is at index % PV_CONSOLE_RING_SIZE). */
    volatile uint32_t console_in_producer, console_in_consumer;
    volatile uint8_t console_in[PV_CONSOLE_RING_SIZE];
};

/* The same layout for a 32-bit guest and the 64-bit VMM. */
_Static_assert(__builtin_offsetof(struct pv_shared_info, tsc_timestamp) == 24, "shared info layout");
_Static_assert(__builtin_offsetof(struct pv_shared_info, console_in) == 48, "shared info layout");
_Static_assert(sizeof(struct pv_multicall) == 28, "multicall layout");

#endif
