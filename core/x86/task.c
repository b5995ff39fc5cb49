/*
 * task.c - hardware task switching (Intel SDM vol. 3, 7.3 "Task
 * Switching"): a far JMP or CALL to a TSS descriptor or a task gate, an
 * interrupt or exception through a task gate in the IDT, and IRET with
 * EFLAGS.NT = 1 back along the previous-task link.
 *
 * Only 32-bit TSSs (SDM 7.2.1, figure 7-2); a 16-bit TSS is reported as
 * not implemented (#GP). The switch is atomic here: every check, including
 * those of the new task's LDT and segment descriptors, is made before the
 * first register changes, so a fault is raised in the old task. The SDM
 * raises the faults of the segment checks (step 12 of 7.3) after the
 * commit, in the new task's context; a guest that switches to a task with
 * a bad segment sees #TS/#NP/#SS with the right error code, but at the
 * old task's instruction. The TSS's debug trap bit (T) is reported as
 * not implemented and ignored; so is a new task in virtual-8086 mode.
 */
#include "descriptor.h"

/* Offsets in a 32-bit TSS (SDM figure 7-2). */
enum {
    TSS_LINK = 0x00, TSS_CR3 = 0x1c, TSS_EIP = 0x20, TSS_EFLAGS = 0x24, TSS_EAX = 0x28,
    TSS_ES = 0x48, TSS_LDT = 0x60, TSS_TRAP = 0x64,
};
#define TSS32_MIN_LIMIT 0x67
#define TYPE_BUSY 0x2u   /* the B bit of a TSS descriptor's type */

/* What the new task's TSS holds. */
struct task_image {
    uint32_t cr3, eip, eflags, regs[8];
    uint16_t selectors[SEG_COUNT], ldt, trap;
};

/* Segment register order in the TSS: ES, CS, SS, DS, FS, GS. */
static const int tss_segment_order[SEG_COUNT] = {SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS};

static uint32_t tss_read(struct emulator *e, const struct descriptor *tss, uint32_t offset)
{
    return x86_read_linear(e, tss->base + offset, 4, true);
}

static void read_image(struct emulator *e, const struct descriptor *tss, struct task_image *image)
{
    image->cr3 = tss_read(e, tss, TSS_CR3);
    image->eip = tss_read(e, tss, TSS_EIP);
    image->eflags = tss_read(e, tss, TSS_EFLAGS);
    for (int r = 0; r < 8; r++)
        image->regs[r] = tss_read(e, tss, TSS_EAX + 4u * (uint32_t)r);
    for (int s = 0; s < SEG_COUNT; s++)
        image->selectors[tss_segment_order[s]] = (uint16_t)tss_read(e, tss, TSS_ES + 4u * (uint32_t)s);
    image->ldt = (uint16_t)tss_read(e, tss, TSS_LDT);
    image->trap = (uint16_t)tss_read(e, tss, TSS_TRAP);
}

/* The old task's state goes back into its TSS (SDM 7.3, step 8): EIP,
 * EFLAGS, the general registers and the segment selectors. */
static void save_state(struct emulator *e, const struct segment *tr, uint32_t eip, uint32_t eflags)
{
    const struct cpu *cpu = e->cpu;
    x86_write_linear(e, tr->base + TSS_EIP, 4, eip, true);
    x86_write_linear(e, tr->base + TSS_EFLAGS, 4, eflags, true);
    for (int r = 0; r < 8; r++)
        x86_write_linear(e, tr->base + TSS_EAX + 4u * (uint32_t)r, 4, cpu->regs[r], true);
    for (int s = 0; s < SEG_COUNT; s++)
        x86_write_linear(e, tr->base + TSS_ES + 4u * (uint32_t)s, 2,
                         cpu->segments[tss_segment_order[s]].selector, true);
}

/* Reads a descriptor from the GDT or from the new task's LDT (which is not
 * loaded yet). False if the selector lies outside its table. */
static bool fetch_in(struct emulator *e, const struct segment *ldt, uint16_t selector,
                     struct descriptor *d)
{
    uint32_t base = e->cpu->gdtr.base, limit = e->cpu->gdtr.limit;
    if (selector & SELECTOR_TI) {
        if (ldt->attributes & SEG_ATTR_UNUSABLE)
            return false;
        base = ldt->base;
        limit = ldt->limit;
    }
    uint32_t offset = SELECTOR_INDEX(selector) * 8u;
    if (offset + 7 > limit)
        return false;
    descriptor_decode(x86_read_linear(e, base + offset, 4, true),
                      x86_read_linear(e, base + offset + 4, 4, true), d);
    return true;
}

/* SDM 7.3 step 12 and table 7-1: the LDT must be an LDT descriptor in the
 * GDT, present. */
static void check_ldt(struct emulator *e, uint16_t selector, struct segment *ldt)
{
    struct descriptor d;
    if (SELECTOR_IS_NULL(selector)) {
        segment_make_unusable(ldt, selector);
        return;
    }
    if ((selector & SELECTOR_TI) || !descriptor_fetch(e, selector, &d) ||
        !attributes_is_system(d.attributes) || SEG_ATTR_TYPE(d.attributes) != SYSTEM_LDT)
        x86_raise(e, EXC_TS, SELECTOR_ERROR(selector));
    if (!(d.attributes & SEG_ATTR_P))
        x86_raise(e, EXC_TS, SELECTOR_ERROR(selector));
    segment_load_from_descriptor(ldt, selector, &d);
}

/* Table 7-1: CS a present code segment, non-conforming with DPL = RPL,
 * conforming with DPL <= RPL; CPL becomes its RPL. */
static void check_code(struct emulator *e, const struct segment *ldt, uint16_t selector,
                       struct descriptor *d)
{
    unsigned rpl = SELECTOR_RPL(selector), dpl;
    if (SELECTOR_IS_NULL(selector) || !fetch_in(e, ldt, selector, d) ||
        !attributes_is_code(d->attributes))
        x86_raise(e, EXC_TS, SELECTOR_ERROR(selector));
    dpl = SEG_ATTR_DPL(d->attributes);
    if (attributes_is_conforming_code(d->attributes) ? dpl > rpl : dpl != rpl)
        x86_raise(e, EXC_TS, SELECTOR_ERROR(selector));
    if (!(d->attributes & SEG_ATTR_P))
        x86_raise(e, EXC_NP, SELECTOR_ERROR(selector));
}

/* SS: writable data with RPL = DPL = CPL, present (else #SS). */
static void check_stack(struct emulator *e, const struct segment *ldt, uint16_t selector,
                        unsigned cpl, struct descriptor *d)
{
    if (SELECTOR_IS_NULL(selector) || !fetch_in(e, ldt, selector, d) ||
        !attributes_is_writable_data(d->attributes) || SELECTOR_RPL(selector) != cpl ||
        SEG_ATTR_DPL(d->attributes) != cpl)
        x86_raise(e, EXC_TS, SELECTOR_ERROR(selector));
    if (!(d->attributes & SEG_ATTR_P))
        x86_raise(e, EXC_SS, SELECTOR_ERROR(selector));
}

/* DS, ES, FS, GS: null, or readable, and for data and non-conforming code
 * DPL >= CPL and DPL >= RPL; present (else #NP). Returns false for null. */
static bool check_data(struct emulator *e, const struct segment *ldt, uint16_t selector,
                       unsigned cpl, struct descriptor *d)
{
    if (SELECTOR_IS_NULL(selector))
        return false;
    if (!fetch_in(e, ldt, selector, d) || !attributes_is_readable(d->attributes))
        x86_raise(e, EXC_TS, SELECTOR_ERROR(selector));
    unsigned dpl = SEG_ATTR_DPL(d->attributes);
    if (!attributes_is_conforming_code(d->attributes) &&
        (dpl < cpl || dpl < SELECTOR_RPL(selector)))
        x86_raise(e, EXC_TS, SELECTOR_ERROR(selector));
    if (!(d->attributes & SEG_ATTR_P))
        x86_raise(e, EXC_NP, SELECTOR_ERROR(selector));
    return true;
}

/* The new task's segments, checked (all before the commit, see above). */
struct task_segments {
    struct segment ldt;
    struct descriptor descriptors[SEG_COUNT];
    bool present[SEG_COUNT];
};

static void check_segments(struct emulator *e, const struct task_image *image,
                           struct task_segments *segments)
{
    check_ldt(e, image->ldt, &segments->ldt);
    uint16_t cs = image->selectors[SEG_CS];
    check_code(e, &segments->ldt, cs, &segments->descriptors[SEG_CS]);
    unsigned cpl = SELECTOR_RPL(cs);
    check_stack(e, &segments->ldt, image->selectors[SEG_SS], cpl, &segments->descriptors[SEG_SS]);
    segments->present[SEG_CS] = segments->present[SEG_SS] = true;
    static const int data[] = {SEG_DS, SEG_ES, SEG_FS, SEG_GS};
    for (int i = 0; i < 4; i++)
        segments->present[data[i]] = check_data(e, &segments->ldt, image->selectors[data[i]],
                                                cpl, &segments->descriptors[data[i]]);
    if (image->eip > segments->descriptors[SEG_CS].limit)
        x86_raise(e, EXC_GP, 0);
}

/* Sets or clears the busy bit of a TSS descriptor in the GDT. */
static void set_busy(struct emulator *e, uint16_t selector, bool busy)
{
    uint32_t address = e->cpu->gdtr.base + SELECTOR_INDEX(selector) * 8u + 5;
    uint32_t access = x86_read_linear(e, address, 1, true);
    access = busy ? access | TYPE_BUSY : access & ~TYPE_BUSY;
    x86_write_linear(e, address, 1, access, true);
}

/* The new TSS descriptor (SDM 7.3 steps 2-4): in the GDT, a 32-bit TSS,
 * busy for IRET and available otherwise, present, limit >= 0x67. */
static void check_new_tss(struct emulator *e, uint16_t selector, enum task_switch_source source,
                          uint32_t ext, struct descriptor *tss)
{
    int vector = source == TASK_SWITCH_IRET ? EXC_TS : EXC_GP;
    if ((selector & SELECTOR_TI) || SELECTOR_IS_NULL(selector))
        x86_raise(e, vector, SELECTOR_ERROR(selector) | ext);
    descriptor_fetch_or_raise(e, selector, tss, vector, ext);
    unsigned type = SEG_ATTR_TYPE(tss->attributes);
    if (attributes_is_system(tss->attributes) &&
        (type == SYSTEM_TSS16_AVAILABLE || type == SYSTEM_TSS16_BUSY)) {
        report_not_implemented(e, "task-switch-16bit-tss", "a task switch to a 16-bit TSS");
        x86_raise(e, vector, SELECTOR_ERROR(selector) | ext);
    }
    unsigned wanted = source == TASK_SWITCH_IRET ? SYSTEM_TSS32_BUSY : SYSTEM_TSS32_AVAILABLE;
    if (!attributes_is_system(tss->attributes) || type != wanted)
        x86_raise(e, vector, SELECTOR_ERROR(selector) | ext);
    if (!(tss->attributes & SEG_ATTR_P))
        x86_raise(e, EXC_NP, SELECTOR_ERROR(selector) | ext);
    if (tss->limit < TSS32_MIN_LIMIT)
        x86_raise(e, EXC_TS, SELECTOR_ERROR(selector) | ext);
}

static void load_new_state(struct emulator *e, uint16_t selector, const struct descriptor *tss,
                           const struct task_image *image, const struct task_segments *segments)
{
    struct cpu *cpu = e->cpu;
    segment_load_from_descriptor(&cpu->tr, selector, tss);
    cpu->tr.attributes |= TYPE_BUSY;
    /* SDM 7.3 step 11: CR3 when paging is on; TLB flushed as by MOV CR3. */
    if (cpu->cr0 & CR0_PG)
        x86_write_control_register(e, 3, image->cr3);
    cpu->ldtr = segments->ldt;
    cpu->eip = image->eip;
    cpu->eflags = (image->eflags & ~(uint32_t)EFLAGS_VM) | EFLAGS_FIXED;
    for (int r = 0; r < 8; r++)
        cpu->regs[r] = image->regs[r];
    unsigned cpl = SELECTOR_RPL(image->selectors[SEG_CS]);
    for (int s = 0; s < SEG_COUNT; s++) {
        struct segment *segment = &cpu->segments[s];
        if (s == SEG_CS)
            load_code_segment(cpu, image->selectors[s], &segments->descriptors[s], cpl);
        else if (segments->present[s])
            segment_load_from_descriptor(segment, image->selectors[s], &segments->descriptors[s]);
        else
            segment_make_unusable(segment, image->selectors[s]);
    }
    cpu->cr0 |= CR0_TS;   /* step 13: the FPU state belongs to the old task */
}

void x86_task_switch(struct emulator *e, uint16_t selector, enum task_switch_source source,
                     uint32_t return_eip, uint32_t ext)
{
    struct cpu *cpu = e->cpu;
    struct descriptor tss;
    struct task_image image;
    struct task_segments segments;

    check_new_tss(e, selector, source, ext, &tss);
    if (!attributes_is_32bit_tss(cpu->tr.attributes) || cpu->tr.limit < TSS32_MIN_LIMIT)
        x86_raise(e, EXC_TS, SELECTOR_ERROR(cpu->tr.selector) | ext);
    read_image(e, &tss, &image);
    if (image.eflags & EFLAGS_VM)
        report_not_implemented(e, "task-switch-to-vm86", "a task switch into virtual-8086 mode");
    if (image.trap & 1)
        report_not_implemented(e, "task-switch-debug-trap", "the TSS debug trap bit (T)");
    /* The new LDT is read from the GDT; its segments from the new LDT. */
    check_segments(e, &image, &segments);

    /* Commit (steps 7-10): the old task's busy bit and NT, its state, the
     * new task's link and busy bit. */
    uint32_t old_eflags = cpu->eflags;
    uint16_t old_tr = cpu->tr.selector;
    if (source == TASK_SWITCH_JMP || source == TASK_SWITCH_IRET)
        set_busy(e, old_tr, false);
    if (source == TASK_SWITCH_IRET)
        old_eflags &= ~(uint32_t)EFLAGS_NT;
    save_state(e, &cpu->tr, return_eip, old_eflags);
    if (source == TASK_SWITCH_CALL || source == TASK_SWITCH_INTERRUPT) {
        x86_write_linear(e, tss.base + TSS_LINK, 2, old_tr, true);
        image.eflags |= EFLAGS_NT;
    }
    if (source != TASK_SWITCH_IRET)
        set_busy(e, selector, true);
    load_new_state(e, selector, &tss, &image, &segments);
    for (int s = 0; s < SEG_COUNT; s++)
        if (segments.present[s])
            descriptor_set_accessed(e, cpu->segments[s].selector, &segments.descriptors[s]);
}

uint16_t x86_task_link(struct emulator *e)
{
    struct cpu *cpu = e->cpu;
    if (!attributes_is_32bit_tss(cpu->tr.attributes) || cpu->tr.limit < TSS32_MIN_LIMIT)
        x86_raise(e, EXC_TS, SELECTOR_ERROR(cpu->tr.selector));
    return (uint16_t)x86_read_linear(e, cpu->tr.base + TSS_LINK, 2, true);
}
