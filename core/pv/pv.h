/*
 * pv.h - the VMM side of the paravirtual interface (abi.h).
 *
 * The hypercalls live in the core, not in a technique, because the
 * hypercall page is serviced by whichever technique runs the guest: the
 * interpreter today, direct execution or the bt engine for `--technique pv`
 * (techniques/pv). A technique that meets an OUT to PV_HYPERCALL_PORT from
 * a pv guest calls pv_hypercall() with its emulator; the core's run loop
 * calls pv_service() between slices for timers and console input.
 *
 * Files: pv.c (the guest's memory, PV_INIT, dispatch, statistics),
 * note.c (is this image a pv guest?), traps.c (trap table, descriptor
 * tables, stack switch, iret), mmu.c (direct paging), events.c (timer,
 * events, upcalls, time, sched_op, console), block.c (the block ring).
 */
#ifndef VMLAB_PV_H
#define VMLAB_PV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"

struct vm;
struct emulator;
struct stats_counter;

/* What the VMM knows about each guest frame (direct paging). */
enum pv_frame_type {
    PV_FRAME_PLAIN = 0,      /* ordinary memory: may be mapped writable */
    PV_FRAME_TABLE,          /* a pinned page table: read-only to the guest */
    PV_FRAME_DIRECTORY,      /* a pinned page directory: read-only to the guest */
    PV_FRAME_VMM,            /* the hypercall page: read-only to the guest */
    PV_FRAME_BLOCK_RING,     /* the block ring: the VMM writes it, never a page table */
};

struct pv {
    bool enabled;            /* the image carries the PV note */
    bool initialised;        /* PV_INIT succeeded */
    struct vm *vm;
    uint32_t hypercall_page, shared_info;     /* guest-physical */
    uint8_t *frame_types;    /* one enum pv_frame_type per guest frame */
    uint32_t frame_count;
    uint64_t timer_deadline_ns;               /* host time; 0: none */
    uint64_t time_base_ns, time_base_tsc;     /* system time 0 is VM start */
    uint32_t tsc_to_ns_mul;
    /* An upcall can be delivered now: events pending, mask clear, handler
     * registered. Read between guest instructions (vm_interrupt_deliverable). */
    bool upcall_due;
    bool upcall_registered;
    bool in_multicall;
    /* Set by the pv technique while it runs the guest (techniques/pv): the
     * engine under it maps the guest's validated tables whole instead of
     * shadowing them one hidden fault at a time (direct paging,
     * core/direct/shadow.h). */
    bool direct_paging;
    bool engine_said;        /* the pv technique said which engine it runs on */
    /* The block ring (block.c): its frame (0: none yet) and the VMM's own
     * request consumer, which the guest never sees. */
    uint32_t block_ring;
    uint32_t block_consumer;
    struct stats_counter *call_rows[PV_HYPERCALL_COUNT];
    struct stats_counter *event_rows[PV_EVENT_CHANNELS];
};

/* Called by vm_create after the image is loaded: enables the interface if
 * the image has the PV note. Returns 0, or -1 with a message in error. */
int pv_setup(struct pv *pv, struct vm *vm, const char *image_path, char *error, size_t error_len);
void pv_destroy(struct pv *pv);

/* True if the ELF image at path carries the PV note (note.c); then
 * *hypercall_page is the page it names, or 0. */
bool pv_image_has_note(const char *path, uint32_t *hypercall_page);

/* An OUT to PV_HYPERCALL_PORT by a pv guest, executed on `emulator` (the
 * number in EAX, arguments in EBX..EDI, the result goes to EAX). EFLAGS
 * must be materialised (the executor syncs before calling). */
void pv_hypercall(struct pv *pv, struct emulator *emulator);

/* Between slices: fire the timer, move console input, recompute
 * upcall_due. */
void pv_service(struct pv *pv, uint64_t now_ns);
/* The host time of the next pv timer event, or UINT64_MAX. */
uint64_t pv_next_deadline(const struct pv *pv);
/* Deliver the upcall: mask events, count them; returns PV_UPCALL_VECTOR. */
int pv_acknowledge_upcall(struct pv *pv);
/* A page fault is being delivered: publish CR2 in the shared info page. */
void pv_note_page_fault(struct pv *pv, uint32_t cr2);
/* Give a technique's emulator the hypercall port and CR2 publication if
 * the guest is a pv guest (interp and bt call it at attach). */
void pv_attach_emulator(struct pv *pv, struct emulator *emulator);
/* The guest is asleep in PV_SCHED_BLOCK: may it ever wake? (Only if a timer
 * is set, console input can come, or an event is pending.) */
bool pv_can_wake(const struct pv *pv);

#endif
