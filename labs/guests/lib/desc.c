/*
 * desc.c - the descriptor tables: GDT with a TSS, and the IDT.
 *
 * Multiboot leaves GDTR pointing at whatever the loader used (spec 3.2:
 * "the OS image must create its own GDT as soon as it needs to load a
 * segment register"), and IDTR undefined, so every guest loads both.
 */
#include "guest.h"

/* A segment descriptor (Intel SDM vol. 3, 3.4.5, figure 3-8). */
struct segment_descriptor {
    uint16_t limit_low, base_low;
    uint8_t base_mid, access, flags_limit_high, base_high;
} __attribute__((packed));

/* A gate descriptor: call gate (SDM 5.8.3) or IDT gate (SDM 6.11). */
struct gate_descriptor {
    uint16_t offset_low, selector;
    uint8_t params, access;
    uint16_t offset_high;
} __attribute__((packed));

static struct segment_descriptor gdt[GDT_SLOTS];
static struct gate_descriptor idt[256];
static struct tss tss;              /* only SS0:ESP0: the stack a trap from ring 3 switches to */
extern char trap_stubs[];           /* traps.S: 256 stubs, 16 bytes apart */

void gdt_set_segment(int index, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    gdt[index].limit_low = limit & 0xffff;
    gdt[index].base_low = base & 0xffff;
    gdt[index].base_mid = (base >> 16) & 0xff;
    gdt[index].access = access;
    gdt[index].flags_limit_high = (uint8_t)((flags << 4) | ((limit >> 16) & 0xf));
    gdt[index].base_high = base >> 24;
}

void gdt_set_gate(int index, uint16_t selector, uint32_t offset, uint8_t access, uint8_t params)
{
    struct gate_descriptor *g = (struct gate_descriptor *)&gdt[index];
    g->offset_low = offset & 0xffff;
    g->selector = selector;
    g->params = params;
    g->access = access;
    g->offset_high = offset >> 16;
}

void tss_set_esp0(uint32_t esp0)
{
    tss.esp0 = esp0;
}

/* Access bytes: P | DPL | S | type (SDM 3.4.5.1). Flags: G = 4 KiB
 * granularity, D/B = 32-bit. */
#define ACC_KCODE 0x9a
#define ACC_KDATA 0x92
#define ACC_UCODE 0xfa
#define ACC_UDATA 0xf2
#define ACC_TSS   0x89      /* available 32-bit TSS */
#define FLAGS_4K_32BIT 0xc

static uint8_t trap_stack[8192] __attribute__((aligned(16)));

void gdt_init(void)
{
    gdt_set_segment(SEL_KCODE >> 3, 0, 0xfffff, ACC_KCODE, FLAGS_4K_32BIT);
    gdt_set_segment(SEL_KDATA >> 3, 0, 0xfffff, ACC_KDATA, FLAGS_4K_32BIT);
    gdt_set_segment(SEL_UCODE >> 3, 0, 0xfffff, ACC_UCODE, FLAGS_4K_32BIT);
    gdt_set_segment(SEL_UDATA >> 3, 0, 0xfffff, ACC_UDATA, FLAGS_4K_32BIT);
    tss.ss0 = SEL_KDATA;
    tss.esp0 = (uint32_t)(trap_stack + sizeof trap_stack);
    tss.iomap_base = sizeof tss;    /* no I/O bitmap: ring 3 in/out needs IOPL */
    gdt_set_segment(SEL_TSS >> 3, (uint32_t)&tss, sizeof tss - 1, ACC_TSS, 0);

    struct table_register gdtr = { sizeof gdt - 1, (uint32_t)gdt };
    asm volatile("lgdt %0" : : "m"(gdtr));
    /* A segment register keeps its old hidden descriptor until reloaded
     * (SDM 3.4.3), so reload all of them; CS only by a far transfer. */
    asm volatile("ljmp %0, $1f\n1:\n"
                 "mov %1, %%ds\n mov %1, %%es\n mov %1, %%fs\n mov %1, %%gs\n mov %1, %%ss"
                 : : "i"(SEL_KCODE), "r"(SEL_KDATA) : "memory");
    asm volatile("ltr %w0" : : "r"(SEL_TSS));
}

void idt_set(int vector, uint8_t type)
{
    uint32_t stub = (uint32_t)trap_stubs + 16u * vector;
    idt[vector].offset_low = stub & 0xffff;
    idt[vector].selector = SEL_KCODE;
    idt[vector].params = 0;
    idt[vector].access = type;
    idt[vector].offset_high = stub >> 16;
}

void idt_set_present(int vector, bool present)
{
    if (present)
        idt[vector].access |= 0x80;
    else
        idt[vector].access &= 0x7f;
}

void idt_load(uint16_t limit)
{
    struct table_register idtr = { limit, (uint32_t)idt };
    asm volatile("lidt %0" : : "m"(idtr));
}

/* Every vector gets an interrupt gate (IF cleared on entry), DPL 0: an
 * "int n" from ring 3 to any of them is a #GP unless a guest says so. */
void idt_init(void)
{
    for (int v = 0; v < 256; v++)
        idt_set(v, GATE_INT);
    idt_load(sizeof idt - 1);
}
