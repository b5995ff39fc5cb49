/*
 * control.c - MOV to control registers, and SYSENTER/SYSEXIT.
 */
#include "descriptor.h"

/* CR0 bits a MOV can change (SDM vol. 3, 2.5, figure 2-7). The others are
 * reserved and, unlike CR4's, do not fault: SDM vol. 2, MOV (control
 * registers): "Reserved bits in CR0 and CR3 remain clear after any load of
 * those registers; attempts to set them have no impact", and "CR0.ET
 * remains set after any load of CR0". #GP(0) is only for the invalid
 * combinations checked in write_cr0. */
#define CR0_WRITABLE (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_NE | CR0_WP | CR0_AM | CR0_NW | \
                      CR0_CD | CR0_PG)

/* CR4 bits we model (SDM vol. 3, 2.5, figure 2-7): VME PVI TSD DE PSE MCE
 * PGE PCE OSFXSR OSXMMEXCPT. PAE (bit 5) is absent because only 32-bit
 * paging is implemented. Setting any other bit is #GP(0) (SDM vol. 2, MOV
 * CR: "an attempt is made to write a 1 to any reserved bit in CR4"). */
#define CR4_MCE        (1u << 6)
#define CR4_PCE        (1u << 8)
#define CR4_OSFXSR     (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)
#define CR4_PAE        (1u << 5)
#define CR4_SUPPORTED (CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | CR4_MCE | CR4_PGE | \
                       CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT)

#define CR3_DEFINED 0xfffff018u   /* page-directory base, PCD, PWT */

static void write_cr0(struct emulator *e, uint32_t value)
{
    struct cpu *cpu = e->cpu;
    uint32_t old = cpu->cr0;

    value = (value & CR0_WRITABLE) | CR0_ET;
    /* SDM vol. 2, MOV CR: PG without PE, or NW without CD, is #GP(0). */
    if ((value & CR0_PG) && !(value & CR0_PE))
        x86_raise(e, EXC_GP, 0);
    if ((value & CR0_NW) && !(value & CR0_CD))
        x86_raise(e, EXC_GP, 0);
    cpu->cr0 = value;
    /* SDM vol. 3, 4.10.4.1: changing PG or WP invalidates the TLBs (and PE
     * changes what counts as a user access). */
    if ((old ^ value) & (CR0_PG | CR0_WP | CR0_PE))
        x86_tlb_flush_all(e);
}

static void write_cr4(struct emulator *e, uint32_t value)
{
    struct cpu *cpu = e->cpu;
    uint32_t old = cpu->cr4;

    if (value & ~CR4_SUPPORTED)
        x86_raise(e, EXC_GP, 0);
    cpu->cr4 = value;
    /* SDM vol. 3, 4.10.4.1: changing PSE, PGE or PAE invalidates the TLBs. */
    if ((old ^ value) & (CR4_PSE | CR4_PGE | CR4_PAE))
        x86_tlb_flush_all(e);
}

void x86_write_control_register(struct emulator *e, int number, uint32_t value)
{
    struct cpu *cpu = e->cpu;

    /* SDM vol. 2, MOV CR: CPL > 0 is #GP(0); CR1, CR5-7 are #UD. */
    if (number != 0 && number != 2 && number != 3 && number != 4)
        x86_raise(e, EXC_UD, 0);
    if (cpu_cpl(cpu) != 0 || (cpu->eflags & EFLAGS_VM))
        x86_raise(e, EXC_GP, 0);
    switch (number) {
    case 0:
        write_cr0(e, value);
        break;
    case 2:
        cpu->cr2 = value;
        break;
    case 3:
        /* 32-bit paging uses bits 31:12, PWT and PCD (SDM vol. 3, table
         * 4-3); the reserved bits stay clear (vol. 2, MOV). Every MOV to CR3
         * flushes the non-global TLB entries; we flush global ones too
         * (vol. 3, 4.10.4.1). */
        cpu->cr3 = value & CR3_DEFINED;
        x86_tlb_flush_all(e);
        break;
    case 4:
        write_cr4(e, value);
        break;
    }
}

/* ---- SYSENTER / SYSEXIT ---------------------------------------------------- */

/* The flat segments SYSENTER and SYSEXIT load without reading the GDT
 * (SDM vol. 2, SYSENTER: base 0, limit 4 GiB, G = 1, D/B = 1). */
static void load_flat(struct segment *segment, uint16_t selector, unsigned type, unsigned dpl)
{
    segment->selector = selector;
    segment->base = 0;
    segment->limit = 0xffffffffu;
    segment->attributes = type | SEG_ATTR_S | (dpl << 5) | SEG_ATTR_P | SEG_ATTR_DB | SEG_ATTR_G;
}

#define FLAT_CODE_TYPE 0xbu   /* execute/read, accessed */
#define FLAT_DATA_TYPE 0x3u   /* read/write, accessed */

/* SDM vol. 2, SYSENTER: #GP(0) in real mode or if IA32_SYSENTER_CS[15:2]
 * is 0; otherwise CS = SYSENTER_CS (RPL 0), SS = CS + 8, ring 0, and VM,
 * IF and RF cleared. */
void x86_sysenter(struct emulator *e)
{
    struct cpu *cpu = e->cpu;
    uint16_t cs = (uint16_t)(cpu->sysenter_cs & 0xfffcu);

    if (!(cpu->cr0 & CR0_PE) || cs == 0)
        x86_raise(e, EXC_GP, 0);
    cpu->eflags &= ~(EFLAGS_VM | EFLAGS_IF | EFLAGS_RF);
    load_flat(&cpu->segments[SEG_CS], cs, FLAT_CODE_TYPE, 0);
    load_flat(&cpu->segments[SEG_SS], (uint16_t)(cs + 8), FLAT_DATA_TYPE, 0);
    cpu->regs[REG_ESP] = cpu->sysenter_esp;
    cpu->eip = cpu->sysenter_eip;
}

/* SDM vol. 2, SYSEXIT: #GP(0) in real mode, at CPL > 0 or if
 * IA32_SYSENTER_CS[15:2] is 0; otherwise CS = SYSENTER_CS + 16 and
 * SS = SYSENTER_CS + 24, both RPL 3, ESP = ECX, EIP = EDX. */
void x86_sysexit(struct emulator *e)
{
    struct cpu *cpu = e->cpu;
    uint16_t base = (uint16_t)cpu->sysenter_cs;

    if (!(cpu->cr0 & CR0_PE) || cpu_cpl(cpu) != 0 || (base & 0xfffcu) == 0)
        x86_raise(e, EXC_GP, 0);
    load_flat(&cpu->segments[SEG_CS], (uint16_t)((base + 16) | 3), FLAT_CODE_TYPE, 3);
    load_flat(&cpu->segments[SEG_SS], (uint16_t)((base + 24) | 3), FLAT_DATA_TYPE, 3);
    cpu->regs[REG_ESP] = cpu->regs[REG_ECX];
    cpu->eip = cpu->regs[REG_EDX];
}
