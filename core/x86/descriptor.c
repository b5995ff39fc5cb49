/*
 * descriptor.c - decoding descriptors, reading them from the GDT/LDT and the
 * TSS, and the segment-relative checks shared by segment loads, far
 * transfers and interrupt delivery.
 */
#include <stdio.h>

#include "descriptor.h"

/* SDM vol. 3, 3.4.5, figure 3-8. */
void descriptor_decode(uint32_t low, uint32_t high, struct descriptor *descriptor)
{
    uint32_t limit = (low & 0xffffu) | (high & 0x000f0000u);

    descriptor->low = low;
    descriptor->high = high;
    descriptor->base = (low >> 16) | ((high & 0xffu) << 16) | (high & 0xff000000u);
    /* Bits 40-47 go to 0-7 and bits 52-55 to 12-15: the VMX access-rights
     * layout of core/cpu.h. */
    descriptor->attributes = (high >> 8) & 0xf0ffu;
    /* G set: the limit counts 4 KiB units and the low 12 bits read as ones
     * (SDM vol. 3, 3.4.5 "G (granularity) flag"). */
    if (descriptor->attributes & SEG_ATTR_G)
        limit = (limit << 12) | 0xfffu;
    descriptor->limit = limit;
}

/* SDM vol. 3, 5.8.3 (figure 5-8, call gate) and 6.11 (figure 6-2, IDT gates). */
void gate_decode(const struct descriptor *descriptor, struct gate *gate)
{
    uint32_t attributes = descriptor->attributes;

    gate->selector = (uint16_t)(descriptor->low >> 16);
    gate->type = SEG_ATTR_TYPE(attributes);
    gate->dpl = SEG_ATTR_DPL(attributes);
    gate->present = (attributes & SEG_ATTR_P) != 0;
    gate->parameter_count = descriptor->high & 0x1fu;
    gate->offset = (descriptor->low & 0xffffu) | (descriptor->high & 0xffff0000u);
    /* 16-bit gates (type bit 3 clear) carry a 16-bit offset only. */
    if (!(gate->type & 0x8u))
        gate->offset &= 0xffffu;
}

static uint32_t descriptor_address(const struct cpu *cpu, uint16_t selector, bool *inside)
{
    uint32_t offset = SELECTOR_INDEX(selector) * 8u;
    uint32_t base, limit;

    if (selector & SELECTOR_TI) {
        if (cpu->ldtr.attributes & SEG_ATTR_UNUSABLE) {
            *inside = false;
            return 0;
        }
        base = cpu->ldtr.base;
        limit = cpu->ldtr.limit;
    } else {
        base = cpu->gdtr.base;
        limit = cpu->gdtr.limit;
    }
    /* The whole 8-byte descriptor must lie within the limit (SDM vol. 3, 3.5.1). */
    *inside = (uint64_t)offset + 7 <= limit;
    return base + offset;
}

bool descriptor_fetch(struct emulator *e, uint16_t selector, struct descriptor *descriptor)
{
    bool inside;
    uint32_t address = descriptor_address(e->cpu, selector, &inside);

    if (!inside)
        return false;
    /* Descriptor-table reads are implicit supervisor accesses (SDM vol. 3, 4.6.1). */
    uint32_t low = x86_read_linear(e, address, 4, true);
    uint32_t high = x86_read_linear(e, address + 4, 4, true);
    descriptor_decode(low, high, descriptor);
    return true;
}

void descriptor_fetch_or_raise(struct emulator *e, uint16_t selector, struct descriptor *descriptor,
                               int vector, uint32_t ext)
{
    if (!descriptor_fetch(e, selector, descriptor))
        x86_raise(e, vector, SELECTOR_ERROR(selector) | ext);
}

void descriptor_set_accessed(struct emulator *e, uint16_t selector, struct descriptor *descriptor)
{
    bool inside;
    uint32_t address = descriptor_address(e->cpu, selector, &inside);

    if (descriptor->attributes & TYPE_ACCESSED)
        return;
    descriptor->high |= TYPE_ACCESSED << 8;
    descriptor->attributes |= TYPE_ACCESSED;
    if (inside) /* byte 5 of the descriptor holds P, DPL, S and type */
        x86_write_linear(e, address + 5, 1, (descriptor->high >> 8) & 0xffu, true);
}

void segment_load_from_descriptor(struct segment *segment, uint16_t selector,
                                  const struct descriptor *descriptor)
{
    segment->selector = selector;
    segment->base = descriptor->base;
    segment->limit = descriptor->limit;
    segment->attributes = descriptor->attributes;
}

void segment_make_unusable(struct segment *segment, uint16_t selector)
{
    segment->selector = selector;
    segment->base = 0;
    segment->limit = 0;
    segment->attributes = SEG_ATTR_UNUSABLE;
}

/*
 * SDM vol. 3, 5.3: for expand-up segments the valid offsets are 0..limit;
 * for expand-down data segments they are limit+1 .. 0xffff (B = 0) or
 * .. 0xffffffff (B = 1). Every byte of the access must be valid.
 */
bool segment_offset_within_limit(const struct segment *segment, uint32_t offset, unsigned size)
{
    uint64_t last = (uint64_t)offset + size - 1;
    uint32_t attributes = segment->attributes;

    if (attributes_is_data(attributes) && (SEG_ATTR_TYPE(attributes) & TYPE_EXPAND_DOWN)) {
        uint64_t upper = (attributes & SEG_ATTR_DB) ? 0xffffffffu : 0xffffu;
        return offset > segment->limit && last <= upper;
    }
    return last <= segment->limit;
}

void stack_cursor_init(struct stack_cursor *stack, const struct segment *ss, uint32_t esp,
                       unsigned cpl, int fault_vector, uint32_t fault_error_code)
{
    stack->ss = *ss;
    stack->esp = esp;
    stack->user = cpl == 3;
    stack->fault_vector = fault_vector;
    stack->fault_error_code = fault_error_code;
}

static bool stack_is_32bit(const struct stack_cursor *stack)
{
    return (stack->ss.attributes & SEG_ATTR_DB) != 0;
}

/* The stack offset ESP + skip as the B flag computes it (SDM vol. 3, 6.2.3:
 * a 16-bit stack wraps within 64 KiB using SP). */
static uint32_t stack_offset(const struct stack_cursor *stack, uint32_t esp, uint32_t skip)
{
    return stack_is_32bit(stack) ? esp + skip : (esp + skip) & 0xffffu;
}

void stack_push(struct emulator *e, struct stack_cursor *stack, unsigned size, uint32_t value)
{
    uint32_t new_esp = stack_is_32bit(stack)
                           ? stack->esp - size
                           : (stack->esp & 0xffff0000u) | ((stack->esp - size) & 0xffffu);
    uint32_t offset = stack_offset(stack, new_esp, 0);

    if (!segment_offset_within_limit(&stack->ss, offset, size))
        x86_raise(e, stack->fault_vector, stack->fault_error_code);
    x86_write_linear(e, stack->ss.base + offset, size, value, !stack->user);
    stack->esp = new_esp;
}

uint32_t stack_peek(struct emulator *e, const struct stack_cursor *stack, uint32_t skip,
                    unsigned size)
{
    uint32_t offset = stack_offset(stack, stack->esp, skip);

    if (!segment_offset_within_limit(&stack->ss, offset, size))
        x86_raise(e, stack->fault_vector, stack->fault_error_code);
    return x86_read_linear(e, stack->ss.base + offset, size, !stack->user);
}

void tss_read_ring_stack(struct emulator *e, unsigned ring, uint32_t ext, uint16_t *ss,
                         uint32_t *esp)
{
    const struct segment *tr = &e->cpu->tr;
    bool is_32bit = attributes_is_32bit_tss(tr->attributes);
    /* 32-bit TSS: ESPn at 4 + 8n, SSn at 8 + 8n; 16-bit TSS: SPn at 2 + 4n, SSn at 4 + 4n. */
    uint32_t esp_offset = is_32bit ? 4 + 8 * ring : 2 + 4 * ring;
    uint32_t ss_offset = is_32bit ? 8 + 8 * ring : 4 + 4 * ring;
    unsigned esp_size = is_32bit ? 4 : 2;

    if ((tr->attributes & SEG_ATTR_UNUSABLE) || ss_offset + 1 > tr->limit)
        x86_raise(e, EXC_TS, SELECTOR_ERROR(tr->selector) | ext);
    /* TSS reads are implicit supervisor accesses (SDM vol. 3, 4.6.1). */
    *esp = x86_read_linear(e, tr->base + esp_offset, esp_size, true);
    *ss = (uint16_t)x86_read_linear(e, tr->base + ss_offset, 2, true);
}

void check_new_stack_segment(struct emulator *e, uint16_t selector, unsigned new_cpl,
                             int fault_vector, uint32_t ext, struct descriptor *descriptor)
{
    uint32_t error = SELECTOR_ERROR(selector) | ext;

    if (SELECTOR_IS_NULL(selector))
        x86_raise(e, fault_vector, ext);
    descriptor_fetch_or_raise(e, selector, descriptor, fault_vector, ext);
    if (SELECTOR_RPL(selector) != new_cpl || SEG_ATTR_DPL(descriptor->attributes) != new_cpl ||
        !attributes_is_writable_data(descriptor->attributes))
        x86_raise(e, fault_vector, error);
    if (!(descriptor->attributes & SEG_ATTR_P))
        x86_raise(e, EXC_SS, error);
}

void load_code_segment(struct cpu *cpu, uint16_t selector, const struct descriptor *descriptor,
                       unsigned cpl)
{
    struct segment *cs = &cpu->segments[SEG_CS];

    segment_load_from_descriptor(cs, (uint16_t)((selector & ~3u) | cpl), descriptor);
    cs->attributes = (cs->attributes & ~(3u << 5)) | (cpl << 5);
}

void null_inaccessible_data_segments(struct cpu *cpu)
{
    static const int data_segments[] = { SEG_ES, SEG_FS, SEG_GS, SEG_DS };
    unsigned cpl = cpu_cpl(cpu);

    for (unsigned i = 0; i < sizeof data_segments / sizeof data_segments[0]; i++) {
        struct segment *segment = &cpu->segments[data_segments[i]];
        uint32_t a = segment->attributes;
        bool data_or_nonconforming = attributes_is_data(a) ||
                                     (attributes_is_code(a) && !attributes_is_conforming_code(a));

        if (!(a & SEG_ATTR_UNUSABLE) && data_or_nonconforming && SEG_ATTR_DPL(a) < cpl)
            segment_make_unusable(segment, 0);
    }
}

void report_not_implemented(struct emulator *e, const char *reason, const char *what)
{
    if (e->stats) {
        struct stats_counter *counter = stats_counter(e->stats, "not-implemented", reason);
        stats_count(counter, 0);
        if (counter->count > 1)
            return;
    }
    fprintf(stderr, "vmlab: x86: %s is not implemented (EIP 0x%08x)\n", what, e->instruction_eip);
}
