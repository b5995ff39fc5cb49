/*
 * descriptor.h - segment descriptors, gate descriptors and the descriptor
 * tables, plus the segment-relative checks that segment.c and exception.c
 * share (limit checks, stack pushes and pops through a descriptor that is
 * not loaded yet).
 *
 * Internal to core/x86: the interpreter uses system.h.
 *
 * A descriptor is two little-endian doublewords (SDM vol. 3, 3.4.5, figure
 * 3-8): base 31:24 | G D/B L AVL | limit 19:16 | P DPL S type | base 23:16
 * in the high doubleword, base 15:0 | limit 15:0 in the low one.
 */
#ifndef VMLAB_X86_DESCRIPTOR_H
#define VMLAB_X86_DESCRIPTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "system.h"

/* Type field values of system descriptors (S = 0), SDM vol. 3, table 3-2. */
enum system_descriptor_type {
    SYSTEM_TSS16_AVAILABLE = 0x1,
    SYSTEM_LDT = 0x2,
    SYSTEM_TSS16_BUSY = 0x3,
    SYSTEM_CALL_GATE16 = 0x4,
    SYSTEM_TASK_GATE = 0x5,
    SYSTEM_INTERRUPT_GATE16 = 0x6,
    SYSTEM_TRAP_GATE16 = 0x7,
    SYSTEM_TSS32_AVAILABLE = 0x9,
    SYSTEM_TSS32_BUSY = 0xb,
    SYSTEM_CALL_GATE32 = 0xc,
    SYSTEM_INTERRUPT_GATE32 = 0xe,
    SYSTEM_TRAP_GATE32 = 0xf,
};

/* Type bits of code and data descriptors (S = 1), SDM vol. 3, table 3-1. */
#define TYPE_ACCESSED    0x1u
#define TYPE_WRITABLE    0x2u   /* data */
#define TYPE_READABLE    0x2u   /* code */
#define TYPE_EXPAND_DOWN 0x4u   /* data */
#define TYPE_CONFORMING  0x4u   /* code */
#define TYPE_CODE        0x8u

/* Selector fields (SDM vol. 3, 3.4.2). */
#define SELECTOR_RPL(s)   ((unsigned)(s) & 3u)
#define SELECTOR_TI       0x4u
#define SELECTOR_INDEX(s) ((unsigned)(s) >> 3)
#define SELECTOR_IS_NULL(s) (((s) & 0xfffcu) == 0)
#define SELECTOR_ERROR(s) ((uint32_t)(s) & 0xfffcu)  /* error code naming a selector */

struct descriptor {
    uint32_t low, high;      /* the raw doublewords, as in the table */
    uint32_t base;
    uint32_t limit;          /* in bytes, scaled by G */
    uint32_t attributes;     /* layout of core/cpu.h (SEG_ATTR_*) */
};

struct gate {
    uint16_t selector;
    uint32_t offset;         /* low 16 bits only for 16-bit gates */
    unsigned type, dpl, parameter_count;
    bool present;
};

void descriptor_decode(uint32_t low, uint32_t high, struct descriptor *descriptor);
void gate_decode(const struct descriptor *descriptor, struct gate *gate);

static inline bool attributes_is_system(uint32_t a) { return !(a & SEG_ATTR_S); }
static inline bool attributes_is_code(uint32_t a)
{
    return (a & SEG_ATTR_S) && (SEG_ATTR_TYPE(a) & TYPE_CODE);
}
static inline bool attributes_is_data(uint32_t a)
{
    return (a & SEG_ATTR_S) && !(SEG_ATTR_TYPE(a) & TYPE_CODE);
}
static inline bool attributes_is_writable_data(uint32_t a)
{
    return attributes_is_data(a) && (SEG_ATTR_TYPE(a) & TYPE_WRITABLE);
}
static inline bool attributes_is_conforming_code(uint32_t a)
{
    return attributes_is_code(a) && (SEG_ATTR_TYPE(a) & TYPE_CONFORMING);
}
static inline bool attributes_is_readable(uint32_t a)
{
    return attributes_is_data(a) || (attributes_is_code(a) && (SEG_ATTR_TYPE(a) & TYPE_READABLE));
}
static inline bool attributes_is_32bit_tss(uint32_t a)
{
    unsigned type = SEG_ATTR_TYPE(a);
    return attributes_is_system(a) && (type == SYSTEM_TSS32_AVAILABLE || type == SYSTEM_TSS32_BUSY);
}

/*
 * Reads the descriptor a selector names from the GDT or the LDT (TI bit).
 * Returns false, without faulting, if the selector's index lies beyond the
 * table limit or TI names an unusable LDT: the caller chooses the exception
 * (SDM vol. 3, 5.3: "the processor checks the index against the limit").
 * The read itself is an implicit supervisor access and can raise #PF.
 */
bool descriptor_fetch(struct emulator *e, uint16_t selector, struct descriptor *descriptor);

/* As descriptor_fetch, but raises vector(selector & 0xfffc | ext) itself. */
void descriptor_fetch_or_raise(struct emulator *e, uint16_t selector, struct descriptor *descriptor,
                               int vector, uint32_t ext);

/* Sets the accessed bit in the table (SDM vol. 3, 3.4.5.1: set by the
 * processor when the selector is loaded) and in *descriptor. */
void descriptor_set_accessed(struct emulator *e, uint16_t selector, struct descriptor *descriptor);

/* Fills a segment register's hidden cache from a descriptor. */
void segment_load_from_descriptor(struct segment *segment, uint16_t selector,
                                  const struct descriptor *descriptor);

/* A null selector in DS/ES/FS/GS: usable selector-wise, but every access
 * through it is #GP(0) (SDM vol. 3, 5.4.1). */
void segment_make_unusable(struct segment *segment, uint16_t selector);

/* True if [offset, offset + size) lies inside the segment's limit, taking
 * expand-down data segments (SDM vol. 3, 5.3) and the B flag into account. */
bool segment_offset_within_limit(const struct segment *segment, uint32_t offset, unsigned size);

/*
 * A stack being built or read through an SS descriptor that need not be
 * loaded yet: the new stack of an inter-privilege call or interrupt, or the
 * current one. esp follows the B flag: only SP moves on a 16-bit stack.
 * Limit violations raise fault_vector(fault_error_code), which the SDM
 * pseudo-code fixes per instruction (#SS(0), #SS(selector), #SS(EXT)).
 */
struct stack_cursor {
    struct segment ss;
    uint32_t esp;
    bool user;                 /* CPL 3 access for paging (SDM vol. 3, 4.6) */
    int fault_vector;
    uint32_t fault_error_code;
};

void stack_cursor_init(struct stack_cursor *stack, const struct segment *ss, uint32_t esp,
                       unsigned cpl, int fault_vector, uint32_t fault_error_code);
void stack_push(struct emulator *e, struct stack_cursor *stack, unsigned size, uint32_t value);
/* Reads size bytes at stack offset ESP + skip without moving ESP. */
uint32_t stack_peek(struct emulator *e, const struct stack_cursor *stack, uint32_t skip,
                    unsigned size);

/* Reads the ring-n stack pointer from the current TSS (SDM vol. 3, 7.2.1,
 * figure 7-2 for the 32-bit TSS; 7.6 for the 16-bit one). A TSS too short
 * for it raises #TS(TR selector | ext). */
void tss_read_ring_stack(struct emulator *e, unsigned ring, uint32_t ext, uint16_t *ss,
                         uint32_t *esp);

/*
 * The checks every inter-privilege stack load shares (SDM vol. 2, CALL and
 * INT n pseudo-code, "new stack segment"): SS selector not null, RPL = DPL =
 * the new CPL, writable data, present. The first three raise
 * fault_vector(selector | ext) (#TS for a stack from the TSS, #GP for one
 * popped by RET/IRET); not present raises #SS(selector | ext).
 */
void check_new_stack_segment(struct emulator *e, uint16_t selector, unsigned new_cpl,
                             int fault_vector, uint32_t ext, struct descriptor *descriptor);

/* Loads CS with a code descriptor at privilege level cpl: the selector's RPL
 * becomes cpl, and for a conforming segment the cached DPL becomes cpl too,
 * because cpu_cpl() reads CPL from the cached DPL of CS (SDM vol. 3, 5.8.1.2:
 * a conforming segment runs at the caller's CPL). */
void load_code_segment(struct cpu *cpu, uint16_t selector, const struct descriptor *descriptor,
                       unsigned cpl);

/* On a return to an outer privilege level, DS/ES/FS/GS that the outer level
 * may not use become null (SDM vol. 2, RET and IRET: "FOR each of segment
 * register ES, FS, GS, and DS ..."). */
void null_inaccessible_data_segments(struct cpu *cpu);

/* A guest used something vmlab does not implement. Counted in the
 * statistics as ("not-implemented", reason) so the dashboard shows it, and
 * said on stderr the first time (every time if there are no statistics). */
void report_not_implemented(struct emulator *e, const char *reason, const char *what);

#endif
