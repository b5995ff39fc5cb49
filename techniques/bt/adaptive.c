/*
 * adaptive.c - adaptive binary translation: a store that keeps faulting on
 * a guest page table becomes a callout.
 *
 * The shadow page table traces the guest's page tables by mapping them
 * read-only (core/direct/shadow.h): a guest store to a page-table entry
 * faults, the signal handler sends the CPU back to the dispatcher, the core
 * does the store and the shadow drops what the entry mapped (bt.c,
 * handle_fault, "pt-write"). Fine for a store that happens once; a kernel's
 * set_pte runs the same store over and over, and pays a host page fault, a
 * signal and a sigreturn each time.
 *
 * VMware's answer (Adams and Agesen, ASPLOS 2006, "adaptive binary
 * translation"): the translator learns. Here each guest instruction that
 * faults on a traced page table is counted, by the guest-physical address
 * of its code; at BT_ADAPTIVE_THRESHOLD faults its page's translations are
 * dropped, and when the page is translated again that instruction is a
 * callout: the core performs the store and bt.c tells the shadow, without
 * a fault (bt-adaptive rows).
 *
 * The table is small and never shrinks: kernels have few such stores. When
 * it is full, further instructions simply keep faulting (correct, slower).
 */
#include "bt_internal.h"

/* Hash of a code address into the table: the slot to probe first. */
static uint32_t slot_of(uint32_t code)
{
    return (code * 0x9e3779b1u) >> (32 - 8);
}

_Static_assert(BT_ADAPTIVE_SLOTS == 1u << 8, "slot_of gives 8 bits");

/* The slot of `code`, or the empty slot where it would go; NULL if full. */
static struct bt_adaptive_slot *find(struct bt_adaptive *adaptive, uint32_t code)
{
    for (uint32_t i = 0, at = slot_of(code); i < BT_ADAPTIVE_SLOTS;
         i++, at = (at + 1) % BT_ADAPTIVE_SLOTS) {
        struct bt_adaptive_slot *slot = &adaptive->slots[at];
        if (slot->faults == 0 || slot->code == code)
            return slot;
    }
    return NULL;
}

bool bt_adaptive_note_fault(struct bt_adaptive *adaptive, uint32_t code)
{
    struct bt_adaptive_slot *slot = find(adaptive, code);
    if (!slot)
        return false;
    slot->code = code;
    return ++slot->faults == BT_ADAPTIVE_THRESHOLD;
}

bool bt_adaptive_is_store_callout(const struct bt_adaptive *adaptive, uint32_t code)
{
    const struct bt_adaptive_slot *slot = find((struct bt_adaptive *)adaptive, code);
    return slot && slot->code == code && slot->faults >= BT_ADAPTIVE_THRESHOLD;
}
