/*
 * cpu.h - the architectural state of one 32-bit x86 CPU.
 *
 * This struct is the meeting point of every technique: the interpreter
 * executes on it directly, and hvm and the direct-execution techniques
 * copy it in on attach and back out on detach. A live switch between two
 * techniques is nothing more than "detach writes struct cpu, attach reads
 * it", so everything a guest can observe must live here.
 *
 * Field names follow the Intel SDM. Nothing here is private to a technique.
 */
#ifndef VMLAB_CPU_H
#define VMLAB_CPU_H

#include <stdbool.h>
#include <stdint.h>

/* General registers in their ModRM encoding order (SDM vol. 2, table 2-2). */
enum reg32 { REG_EAX, REG_ECX, REG_EDX, REG_EBX, REG_ESP, REG_EBP, REG_ESI, REG_EDI };

/* Segment registers in their encoding order (SDM vol. 2, 3.1.1.3 "Sreg"). */
enum segment_register { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_COUNT };

/* EFLAGS bits (SDM vol. 1, 3.4.3). */
#define EFLAGS_CF   (1u << 0)
#define EFLAGS_FIXED (1u << 1)       /* bit 1 always reads as 1 */
#define EFLAGS_PF   (1u << 2)
#define EFLAGS_AF   (1u << 4)
#define EFLAGS_ZF   (1u << 6)
#define EFLAGS_SF   (1u << 7)
#define EFLAGS_TF   (1u << 8)
#define EFLAGS_IF   (1u << 9)
#define EFLAGS_DF   (1u << 10)
#define EFLAGS_OF   (1u << 11)
#define EFLAGS_IOPL (3u << 12)
#define EFLAGS_NT   (1u << 14)
#define EFLAGS_RF   (1u << 16)
#define EFLAGS_VM   (1u << 17)
#define EFLAGS_AC   (1u << 18)
#define EFLAGS_VIF  (1u << 19)
#define EFLAGS_VIP  (1u << 20)
#define EFLAGS_ID   (1u << 21)
#define EFLAGS_ARITHMETIC (EFLAGS_CF | EFLAGS_PF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_OF)

/* Control register bits we model (SDM vol. 3, 2.5). */
#define CR0_PE (1u << 0)
#define CR0_MP (1u << 1)
#define CR0_EM (1u << 2)
#define CR0_TS (1u << 3)
#define CR0_ET (1u << 4)
#define CR0_NE (1u << 5)
#define CR0_WP (1u << 16)
#define CR0_AM (1u << 18)
#define CR0_NW (1u << 29)
#define CR0_CD (1u << 30)
#define CR0_PG (1u << 31)
#define CR4_VME (1u << 0)
#define CR4_PVI (1u << 1)
#define CR4_TSD (1u << 2)
#define CR4_DE  (1u << 3)
#define CR4_PSE (1u << 4)
#define CR4_PGE (1u << 7)

/*
 * Segment descriptor attributes, packed as in the VMX "access rights" field
 * (SDM vol. 3, 24.4.1), which is also descriptor bits 40-47 and 52-55:
 * bits 0-3 type, 4 S (code/data), 5-6 DPL, 7 P, 12 AVL, 14 D/B, 15 G.
 * The same layout goes to KVM unchanged.
 */
#define SEG_ATTR_TYPE(a)  ((a) & 0xf)
#define SEG_ATTR_S        (1u << 4)
#define SEG_ATTR_DPL(a)   (((a) >> 5) & 3)
#define SEG_ATTR_P        (1u << 7)
#define SEG_ATTR_AVL      (1u << 12)
#define SEG_ATTR_DB       (1u << 14)
#define SEG_ATTR_G        (1u << 15)
#define SEG_ATTR_UNUSABLE (1u << 16)  /* a null selector was loaded */

/* A segment register: the visible selector and its hidden descriptor cache
 * (SDM vol. 3, 3.4.3). The limit is in bytes, already scaled by G. */
struct segment {
    uint16_t selector;
    uint32_t base;
    uint32_t limit;
    uint32_t attributes;
};

/* GDTR and IDTR (SDM vol. 3, 2.4.1). */
struct table_register {
    uint32_t base;
    uint16_t limit;
};

/* Exception vectors (SDM vol. 3, table 6-1). */
enum exception_vector {
    EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5,
    EXC_UD = 6, EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12,
    EXC_GP = 13, EXC_PF = 14, EXC_MF = 16, EXC_AC = 17,
};

/* MSRs we model (SDM vol. 4). */
#define MSR_IA32_TSC          0x10
#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_APIC_BASE    0x1b

struct cpu {
    uint32_t regs[8];              /* indexed by enum reg32 */
    uint32_t eip;
    uint32_t eflags;               /* authoritative outside the executor */

    struct segment segments[SEG_COUNT];
    struct segment ldtr, tr;
    struct table_register gdtr, idtr;

    uint32_t cr0, cr2, cr3, cr4;
    uint32_t dr[8];

    /* Guest TSC = host TSC + tsc_offset, so switching techniques keeps it
     * monotonic (KVM uses the same offset idea). */
    int64_t tsc_offset;
    uint32_t sysenter_cs, sysenter_esp, sysenter_eip;
    /* IA32_APIC_BASE: where the local APIC is and whether it is on (SDM
     * vol. 3, 10.4.4); the APIC itself is a device (core/dev/lapic.c). */
    uint64_t apic_base;

    /* Run state and events in flight. */
    bool halted;                   /* HLT executed, waiting for an interrupt */
    bool interrupt_shadow;         /* STI or MOV SS just ran: block one instruction */

    /* Not architectural, but it travels with the guest like the rest: set
     * once the guest has run under trapemu. There, a native `push %ds` or
     * `mov %ds, mem` stores the host's stand-in selector (guest selector | 4,
     * an LDT selector; see core/direct/traps.c) - the non-virtualizable leak
     * Popek and Goldberg describe. The core's segment loader maps such a
     * selector back when the guest reloads it (x86_load_segment); a real CPU
     * cannot, so hvm refuses a guest with this set. */
    bool stand_in_selectors_leaked;
};

/* The current privilege level is the DPL of CS (SDM vol. 3, 5.5). */
static inline unsigned cpu_cpl(const struct cpu *cpu)
{
    if (!(cpu->cr0 & CR0_PE))
        return 0;
    return SEG_ATTR_DPL(cpu->segments[SEG_CS].attributes);
}

/* Multiboot's promised initial state: 32-bit protected mode, paging off,
 * flat 4 GiB segments, interrupts off (Multiboot spec 0.6.96, 3.2). */
void cpu_reset_to_flat_protected_mode(struct cpu *cpu);

#endif
