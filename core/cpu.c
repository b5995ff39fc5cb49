/*
 * cpu.c - the CPU state Multiboot promises on entry to the kernel.
 */
#include <string.h>

#include "cpu.h"

/* Flat 4 GiB segments as a GDT would describe them: present, S = 1,
 * DPL 0, D/B = 1 (32-bit), G = 1; code is execute/read, data read/write,
 * both already accessed (SDM vol. 3, 3.4.5). */
#define FLAT_CODE_ATTRIBUTES (0xbu | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_DB | SEG_ATTR_G)
#define FLAT_DATA_ATTRIBUTES (0x3u | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_DB | SEG_ATTR_G)

static void load_flat(struct segment *segment, uint16_t selector, uint32_t attributes)
{
    segment->selector = selector;
    segment->base = 0;
    segment->limit = 0xffffffffu;
    segment->attributes = attributes;
}

/*
 * Multiboot spec 0.6.96, 3.2 "Machine state": 32-bit protected mode, paging
 * off, CS a flat 32-bit code segment, DS/ES/FS/GS/SS flat data segments,
 * IF clear. GDTR and IDTR are undefined there and the OS must load its
 * own, so they are empty here. The loader sets EAX/EBX/EIP.
 */
void cpu_reset_to_flat_protected_mode(struct cpu *cpu)
{
    memset(cpu, 0, sizeof *cpu);
    load_flat(&cpu->segments[SEG_CS], 0x08, FLAT_CODE_ATTRIBUTES);
    for (int s = 0; s < SEG_COUNT; s++) {
        if (s != SEG_CS)
            load_flat(&cpu->segments[s], 0x10, FLAT_DATA_ATTRIBUTES);
    }
    cpu->eflags = EFLAGS_FIXED;
    cpu->cr0 = CR0_PE | CR0_ET;
    cpu->apic_base = 0xFEE00900u;   /* SDM 10.4.4: 0xFEE00000, BSP, enabled */

    /* No LDT until the guest loads one. */
    cpu->ldtr.attributes = SEG_ATTR_UNUSABLE;
    /* TR as the processor leaves it after reset (SDM vol. 3, table 9-1:
     * base 0, limit 0xffff, present), typed as a busy 32-bit TSS because
     * VM entry requires that of a usable TR (SDM vol. 3, 26.3.1.2) and hvm
     * hands this state to KVM unchanged. */
    cpu->tr.limit = 0xffff;
    cpu->tr.attributes = 0xbu | SEG_ATTR_P;
}
