/*
 * bt_internal.h - the pieces of the binary translator and how they meet.
 * The picture is in bt.c; each file's comment tells its part.
 */
#ifndef VMLAB_BT_INTERNAL_H
#define VMLAB_BT_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/direct/direct.h"
#include "core/direct/shadow.h"
#include "core/technique.h"
#include "core/x86/decode.h"
#include "core/x86/execute.h"

struct vm;

/* ---- the context: what translated code and the VMM share (enter.c) ---- */

/* Why translated code gave control back (bt_context.exit_reason). */
enum bt_exit_reason {
    BT_EXIT_BRANCH = 1,    /* the block ended: go on at context.eip */
    BT_EXIT_CALLOUT = 2,   /* run the instruction at context.eip in the core emulator */
    BT_EXIT_FAULT = 3,     /* a host fault in the instruction at context.eip (fault.c) */
};

/* Translated code reaches it through R15, which 32-bit guest code cannot
 * name (REX.B/R are 64-bit mode only), so no guest instruction can touch
 * it. The layout is fixed by the assembly in enter.c. */
struct bt_context {
    uint64_t host_rsp;          /*  0: the VMM's stack, saved by bt_enter */
    uint32_t regs[8];           /*  8: guest EAX..EDI (enum reg32 order) */
    uint32_t eip;               /* 40: where the guest goes on */
    uint32_t eflags;            /* 44: the guest's arithmetic flags and DF */
    uint32_t exit_reason;       /* 48: enum bt_exit_reason */
    uint32_t retired;           /* 52: guest instructions completed since bt_enter (R14) */
    uint64_t exit_branch;       /* 56: address of bt_exit_branch (jmp *56(%r15)) */
    uint64_t exit_callout;      /* 64: address of bt_exit_callout */
    /* 72: what a chainable exit jumps through: bt_chain_stub (go on to the
     * block in R11) or bt_exit_branch (the dispatcher wants control back:
     * the deadline timer's signal handler sets it, see bt.c). */
    _Atomic uint64_t gate;
    uint32_t exit_site;         /* 80: which direct exit was taken (BT_NO_SITE: none) */
    /* The guest's EFLAGS bits that translated code keeps virtual
     * (virtual_state.c): IF on its own, so that cli and sti are one MOV
     * each, and the rest. */
    uint32_t virtual_if;        /* 84: EFLAGS_IF or 0 */
    uint32_t virtual_flags;     /* 88: IOPL, TF, NT, AC, ID, VIF, VIP (not bit 1, RF, VM) */
    /* 92: EFLAGS_IF if the interrupt controller asserted INTR when
     * translated code was entered, else 0. Only the core's devices raise
     * INTR, and they do not run while translated code does, so it holds
     * until the next exit (bt.c). */
    uint32_t interrupt_pending;
    uint32_t selectors[SEG_COUNT];  /* 96: the guest's segment selectors (read-only here) */
    /* FAULT only, filled by the signal handler (fault.c). */
    int fault_signal;
    int fault_trap_number;
    uint32_t fault_error_code;
    uint64_t fault_address;     /* the guest linear address (the view's base taken off) */
    int fault_kind;             /* enum bt_fault_kind */
};

#define BT_CONTEXT_EIP 40
#define BT_CONTEXT_EXIT_BRANCH 56
#define BT_CONTEXT_EXIT_CALLOUT 64
#define BT_CONTEXT_GATE 72
#define BT_CONTEXT_EXIT_SITE 80
#define BT_CONTEXT_VIRTUAL_IF 84
#define BT_CONTEXT_VIRTUAL_FLAGS 88
#define BT_CONTEXT_INTERRUPT_PENDING 92
#define BT_CONTEXT_SELECTORS 96
#define BT_NO_SITE 0xffffffffu
/* Enter translated code at `code` with the guest state of *context;
 * returns when it exits (context->exit_reason says why). */
void bt_enter(struct bt_context *context, const void *code);
/* Not called: where a fault handler sends the CPU back to the VMM, with
 * RSP = context->host_rsp (see fault.c). */
void bt_return(void);
void bt_exit_branch(void);
void bt_exit_callout(void);
/* jmp *%r11: a chained exit's way into the next block (through the gate). */
void bt_chain_stub(void);

/* ---- blocks and the code cache (code_cache.c) ---- */

/* At most this many guest instructions per block: short blocks keep the
 * host-to-guest fault map small and interrupts timely. */
#define BT_BLOCK_MAX_INSTRUCTIONS 32

/* A block has at most two direct exits (a conditional branch's), or one
 * indirect exit (ret, jmp/call through a register or memory) with its
 * inline cache: exit sites are numbered block * BT_BLOCK_MAX_EXITS + n,
 * n = BT_INDIRECT_EXIT for the indirect one. */
#define BT_BLOCK_MAX_EXITS 3
#define BT_INDIRECT_EXIT 2

/*
 * What the guest's cli, sti and popf may do at the CPL and IOPL a block was
 * translated under (SDM vol. 2, CLI, STI and POPF, protected mode). The
 * translation of those instructions depends on it, so it is part of a
 * block's key, with the EIP and the physical address.
 *
 * Translated code never changes it: the CPL changes only in the core
 * (int, iret, far transfers: callouts), and the IOPL only by an iret
 * (a callout) or by a popf at CPL 0 - where the privilege is both bits
 * whatever the IOPL. So a block and every block chained after it run
 * under the privilege they were translated for, and a chain only joins
 * blocks of one privilege: a change in the core leaves the chains alone
 * (bt.c, check_chains). BT_USER, CPL 3 or not, is part of it too.
 */
#define BT_MAY_WRITE_IF 1       /* CPL <= IOPL: cli and sti run, popf writes IF */
#define BT_MAY_WRITE_IOPL 2     /* CPL 0: popf writes IOPL too */
#define BT_USER 4               /* CPL 3: guest memory through the user view (block->user) */
unsigned bt_flags_privilege(const struct cpu *cpu);

struct bt_block {
    uint32_t index;             /* in bt_code_cache.blocks */
    uint32_t eip;               /* guest linear address of the first instruction */
    uint32_t physical;          /* guest physical address of the same byte */
    uint32_t privilege;         /* BT_MAY_WRITE_*: translated for this CPL and IOPL */
    uint32_t generation;        /* of its physical page when translated (code_cache.c) */
    /* Translated for CPL 3: every guest memory access goes through the
     * GS segment, whose base is the user view (translate.c). Part of the
     * key: the same code at CPL 0-2 is another block. */
    bool user;
    uint32_t count;             /* guest instructions executed natively (the callout not included) */
    bool callout_first;         /* nothing native: the first instruction is a callout */
    uint8_t *code;              /* RX address of the translation */
    uint32_t code_length;
    struct bt_block *next;      /* hash chain */
    /* Direct exits: the guest EIP each goes to, and where in the code the
     * 64-bit address it jumps to (through the gate) is: bt_exit_branch
     * until the dispatcher chains it to the target's translation. */
    uint32_t exit_count;
    uint32_t exit_target[BT_BLOCK_MAX_EXITS];
    uint16_t exit_patch[BT_BLOCK_MAX_EXITS];
    /* The indirect exit's inline cache: where its compared EIP (a disp32,
     * the EIP negated) and its jump address (as exit_patch) are. */
    bool has_indirect_exit;
    uint16_t indirect_eip_patch;
    /* The fault map: guest instruction i starts at eip + guest_offset[i]
     * and its translation at code + host_offset[i]; entry `count` (and a
     * trailing callout's) marks the end. */
    uint16_t guest_offset[BT_BLOCK_MAX_INSTRUCTIONS + 1];
    uint16_t host_offset[BT_BLOCK_MAX_INSTRUCTIONS + 1];
};

struct bt_code_cache {
    uint8_t *writable;          /* the cache's pages, mapped read-write ... */
    uint8_t *executable;        /* ... and the same pages again, read-execute (W^X) */
    size_t size, used;
    struct bt_block *blocks;    /* in the order of their code: the fault map's search */
    uint32_t block_count, block_capacity;
    struct bt_block **buckets;  /* hash of (eip, physical) */
    uint32_t *page_generation;  /* per guest-physical frame: bumped when its code is written */
    uint32_t frame_count;
    uint64_t chained;           /* exits chained since the last unchain */
};

int bt_code_cache_create(struct bt_code_cache *cache, uint32_t frame_count, char *why, size_t why_len);
void bt_code_cache_destroy(struct bt_code_cache *cache);
/* The live block for (eip, physical, privilege), or NULL. */
struct bt_block *bt_code_cache_find(struct bt_code_cache *cache, uint32_t eip, uint32_t physical,
                                    uint32_t privilege);
/* A new block; NULL when the cache is full (then bt_code_cache_flush). */
struct bt_block *bt_code_cache_new_block(struct bt_code_cache *cache, uint32_t eip, uint32_t physical,
                                         uint32_t privilege);
/* Make `block` findable once its code is in place (code_length bytes). */
void bt_code_cache_commit(struct bt_code_cache *cache, struct bt_block *block);
/* Drop everything. */
void bt_code_cache_flush(struct bt_code_cache *cache);
/* Every block made from the code of this physical frame is stale; every
 * chain is undone (a chain into a stale block must not survive). */
void bt_code_cache_invalidate_frame(struct bt_code_cache *cache, uint32_t frame);
/* Undo every chain. */
void bt_code_cache_unchain_all(struct bt_code_cache *cache);
/* Make direct exit `exit` of `from` jump straight to `to`'s code; for
 * the indirect exit, when the target is to->eip. */
void bt_code_cache_chain(struct bt_code_cache *cache, struct bt_block *from, uint32_t exit,
                         const struct bt_block *to);
/* The block whose code holds host address pc, or NULL. */
struct bt_block *bt_code_cache_block_at(struct bt_code_cache *cache, uint64_t pc);
/* Which guest instruction of `block` host address pc belongs to. */
uint32_t bt_block_instruction_at(const struct bt_block *block, uint64_t pc);

/* ---- adaptive translation (adaptive.c) ---- */

/* Faults on traced page tables after which a store becomes a callout. */
#define BT_ADAPTIVE_THRESHOLD 4
#define BT_ADAPTIVE_SLOTS 256

struct bt_adaptive {
    struct bt_adaptive_slot {
        uint32_t code;          /* guest-physical address of the instruction */
        uint32_t faults;        /* 0: the slot is free */
    } slots[BT_ADAPTIVE_SLOTS];
};

/* The instruction at guest-physical `code` faulted on a traced page table:
 * true when this fault makes it a callout (drop its page's translations). */
bool bt_adaptive_note_fault(struct bt_adaptive *adaptive, uint32_t code);
/* Is the instruction at `code` translated as a callout that stores for the
 * guest (bt.c, adaptive_store)? */
bool bt_adaptive_is_store_callout(const struct bt_adaptive *adaptive, uint32_t code);

/* ---- the translator (translate.c, emit.c) ---- */

/* Room for one block's host code: at most 32 instructions of at most
 * about 40 bytes each, plus the exits (34 bytes each). */
#define BT_MAX_BLOCK_CODE 2048

/* Translate the guest code at `bytes` (available bytes to the end of the
 * guest page; eip is the linear address of bytes[0]) into `out`, for the
 * view block->user says. Fills the block's counts and fault map; returns
 * the code length. */
uint32_t bt_translate_block(struct bt_block *block, const uint8_t *bytes, uint32_t available,
                            uint8_t *out, const struct bt_adaptive *adaptive);

/* virtual_state.c: cli, sti, pushf, popf, push sreg, mov r/m,sreg inline. */
struct emitter;
/* Can translated code do it itself at this privilege? */
bool bt_virtual_state_inline(const struct x86_instruction *insn, uint32_t privilege);
/* Emit it: the count-th instruction of its block, at guest address eip. */
void bt_emit_virtual_state(struct emitter *e, const struct x86_instruction *insn,
                           const uint8_t *bytes, uint32_t eip, uint32_t count, uint32_t privilege);

/* ---- the technique (bt.c, callout.c, fault.c) ---- */

enum bt_fault_kind {
    BT_FAULT_EMULATE,      /* run the instruction in the core emulator */
    BT_FAULT_PT_WRITE,     /* a write to a guest page table: emulate, tell the shadow */
    BT_FAULT_CODE_WRITE,   /* a write to a page holding translated code: invalidate, emulate */
};

/* One view of the guest's 4 GiB (core/direct/direct.h): the shadow's ops
 * for it get this as their context. */
struct bt_view {
    struct bt *bt;
    uint64_t base;              /* DIRECT_SUPERVISOR_VIEW or DIRECT_USER_VIEW */
};

struct bt {
    struct bt_context context;  /* first: translated code's R15 points here */
    struct vm *vm;
    struct emulator emulator;
    struct x86_executor executor;
    struct shadow shadow;
    struct bt_view supervisor_view, user_view;
    /* The thread whose GS base is the user view (bt.c, point_gs_at_user_view). */
    pthread_t gs_thread;
    bool gs_set;
    struct bt_code_cache cache;
    struct bt_adaptive adaptive;
    struct direct_signals signals;

    /* Last code page looked up: linear page -> physical page, valid while
     * nothing but translated code ran (see bt.c, code_physical). */
    uint32_t fetch_linear, fetch_physical;
    bool fetch_valid;

    /* What chains were made under (bt.c, check_chains): the
     * linear-to-physical mapping and the rights of every page a chain
     * crosses were checked for this paging state (and for the CPL of
     * the blocks' key). */
    struct {
        uint32_t cr0, cr3, cr4;
        uint64_t shadow_drops;      /* INVLPGs and flushes so far */
    } chain_context;

    struct stats_counter *translate_row, *flush_row, *smc_row, *chain_row, *unchain_row,
        *adaptive_row;
    void *deadline_timer;       /* timer_t: its signal closes the gate (bt.c) */
    bool timer_created;
    struct {
        const char *reason;
        struct stats_counter *row;
    } callout_rows[96], fallback_rows[16];
    struct stats_counter *inject_rows[256];
    struct stats_counter *port_rows[65536];
};

/* callout.c */
/* Execute the one instruction at cpu->eip with the core's semantics, as
 * interp does; a guest fault is delivered through the guest IDT. Returns
 * false if the CPU shut down (triple fault). *operation: what it was. */
bool bt_emulate_instruction(struct bt *bt, const char **reason);
struct stats_counter *bt_row(struct bt *bt, const char *category, const char *reason);

/* fault.c: the faults of translated code, and the deadline timer whose
 * signal closes the gate (trapemu uses SIGRTMIN + 2, hvm SIGRTMIN). */
#define BT_DEADLINE_SIGNAL (SIGRTMIN + 3)
int bt_take_fault_signals(struct bt *bt, char *why, size_t why_len);
void bt_give_back_fault_signals(struct bt *bt);
/* From deadline_ns (CLOCK_MONOTONIC) on, every millisecond, until disarmed. */
void bt_arm_deadline(struct bt *bt, uint64_t deadline_ns);
void bt_disarm_deadline(struct bt *bt);
/* The bt whose translated code runs on this thread (NULL when none). */
void bt_set_running(struct bt *bt);

#endif
