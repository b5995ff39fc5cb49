/*
 * traps.c - the descriptor tables a pv kernel cannot load itself, and the
 * hypercalls that replace lidt, ltr, the TSS's ESP0 and iret.
 *
 * A pv kernel executes no lgdt, lidt or ltr: at PV_INIT the VMM writes a
 * GDT (the teaching kernel's layout, abi.h), a TSS and an empty IDT into
 * the hypercall page, which the guest may map only read-only, and points
 * GDTR, IDTR and TR at them. PV_SET_TRAP_TABLE fills the IDT from a list
 * the VMM checks first (Xen's set_trap_table): a handler must run in the
 * kernel's code segment, so a guest cannot make ring 3 a handler's ring.
 */
#include "pv_internal.h"

#include <stdio.h>
#include <string.h>

#include "core/vm.h"
#include "core/x86/system.h"

#define TSS_SIZE 104
#define TSS_ESP0 4
#define TSS_SS0 8
#define TSS_IOMAP_BASE 102
#define GDT_ENTRIES 6

/* A segment descriptor (SDM vol. 3, 3.4.5); limit in 4 KiB units when G. */
static uint64_t descriptor(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    return (limit & 0xffffull) | ((uint64_t)(base & 0xffffff) << 16) | ((uint64_t)access << 40) |
           ((uint64_t)((limit >> 16) & 0xf) << 48) | ((uint64_t)(flags & 0xf) << 52) |
           ((uint64_t)(base >> 24) << 56);
}

int32_t pv_install_descriptor_tables(struct pv *pv, struct emulator *e)
{
    uint32_t page = pv->hypercall_page;
    uint8_t tss[TSS_SIZE] = {0};
    uint16_t kernel_data = PV_SEL_KERNEL_DATA, no_io_bitmap = TSS_SIZE;
    memcpy(tss + TSS_SS0, &kernel_data, 2);
    memcpy(tss + TSS_IOMAP_BASE, &no_io_bitmap, 2);     /* no port is open to ring 3 */
    uint64_t gdt[GDT_ENTRIES] = {
        0,
        descriptor(0, 0xfffff, 0x9b, 0xc),      /* kernel code: DPL 0, 4 GiB, 32-bit */
        descriptor(0, 0xfffff, 0x93, 0xc),      /* kernel data */
        descriptor(0, 0xfffff, 0xfb, 0xc),      /* user code: DPL 3 */
        descriptor(0, 0xfffff, 0xf3, 0xc),      /* user data */
        descriptor(page + PV_PAGE_TSS_OFFSET, TSS_SIZE - 1, 0x89, 0),   /* TSS, not busy */
    };
    static const uint8_t empty_idt[256 * 8];
    pv_write_physical(e, page + PV_PAGE_TSS_OFFSET, tss, sizeof tss);
    pv_write_physical(e, page + PV_PAGE_GDT_OFFSET, gdt, sizeof gdt);
    pv_write_physical(e, page + PV_PAGE_IDT_OFFSET, empty_idt, sizeof empty_idt);
    /* The guest keeps the hypercall page identity-mapped (docs/pv.md), so
     * its physical address is the tables' linear address too. */
    e->cpu->gdtr = (struct table_register){ page + PV_PAGE_GDT_OFFSET, sizeof gdt - 1 };
    e->cpu->idtr = (struct table_register){ page + PV_PAGE_IDT_OFFSET, sizeof empty_idt - 1 };
    x86_load_task_register(e, PV_SEL_TSS);
    return 0;
}

/* An interrupt gate (SDM vol. 3, 6.11): interrupts masked on entry, as the
 * teaching kernel's own gates. */
static uint64_t interrupt_gate(const struct pv_trap_entry *entry)
{
    if (!entry->handler)
        return 0;                                        /* not present: removed */
    return (entry->handler & 0xffffull) | ((uint64_t)entry->cs << 16) |
           ((uint64_t)(0x8e | (entry->dpl << 5)) << 40) | ((uint64_t)(entry->handler >> 16) << 48);
}

int32_t pv_set_trap_table(struct pv *pv, struct emulator *e, const uint32_t args[5])
{
    static struct pv_trap_entry entries[PV_TRAP_TABLE_MAX];
    uint32_t list = args[0], count = args[1];
    char detail[46];
    if (count > PV_TRAP_TABLE_MAX)
        return pv_refuse(pv, PV_E2BIG, "trap-table-count", NULL);
    if (pv_copy_from_guest(pv, e, entries, list, count * (uint32_t)sizeof entries[0]) < 0)
        return pv_refuse(pv, PV_EFAULT, "trap-table-pointer", NULL);
    /* Check every entry before changing any: a refused table changes nothing. */
    for (uint32_t i = 0; i < count; i++) {
        if (entries[i].cs != PV_SEL_KERNEL_CODE || (entries[i].dpl != 0 && entries[i].dpl != 3)) {
            snprintf(detail, sizeof detail, "vector %u cs 0x%x dpl %u", entries[i].vector,
                     entries[i].cs, entries[i].dpl);
            return pv_refuse(pv, PV_EPERM, "trap-table-entry", detail);
        }
    }
    for (uint32_t i = 0; i < count; i++) {
        uint64_t gate = interrupt_gate(&entries[i]);
        pv_write_physical(e, pv->hypercall_page + PV_PAGE_IDT_OFFSET + entries[i].vector * 8u,
                          &gate, sizeof gate);
        if (entries[i].vector == PV_UPCALL_VECTOR)
            pv->upcall_registered = entries[i].handler != 0;
    }
    return 0;
}

/* The kernel stack a trap from ring 3 switches to: the TSS's SS0:ESP0. */
int32_t pv_stack_switch(struct pv *pv, struct emulator *e, const uint32_t args[5])
{
    if (args[0] != PV_SEL_KERNEL_DATA)
        return pv_refuse(pv, PV_EPERM, "stack-switch-ss", NULL);
    uint32_t tss = pv->hypercall_page + PV_PAGE_TSS_OFFSET;
    uint16_t ss = PV_SEL_KERNEL_DATA;
    pv_write_physical(e, tss + TSS_ESP0, &args[1], 4);
    pv_write_physical(e, tss + TSS_SS0, &ss, 2);
    return 0;
}

/*
 * PV_IRET: the stub pushed the guest's EAX (it needs EAX for the number),
 * so the stack holds EAX, then the frame IRET pops: EIP, CS, EFLAGS, and
 * ESP, SS on a return to ring 3. The VMM checks the frame first - the
 * guest's own selectors only, no IOPL, no virtual-8086 mode, no nested
 * task - so that the IRET itself cannot fault, then returns through the
 * emulator's IRET. The event mask follows the frame's IF, as Xen's iret
 * restores it: an upcall's frame says IF = 1, so returning from it unmasks.
 */
int32_t pv_iret(struct pv *pv, struct emulator *e, const uint32_t args[5])
{
    (void)args;
    struct cpu *cpu = e->cpu;
    uint32_t esp = cpu->regs[REG_ESP] + cpu->segments[SEG_SS].base;
    uint32_t frame[6];                                   /* EAX, EIP, CS, EFLAGS, ESP, SS */
    if (pv_copy_from_guest(pv, e, frame, esp, 4 * 4) < 0)
        return pv_refuse(pv, PV_EFAULT, "iret-frame", NULL);
    bool to_user = frame[2] == PV_SEL_USER_CODE;
    if (!to_user && frame[2] != PV_SEL_KERNEL_CODE)
        return pv_refuse(pv, PV_EPERM, "iret-cs", NULL);
    if (to_user && (pv_copy_from_guest(pv, e, frame + 4, esp + 16, 8) < 0 ||
                    frame[5] != PV_SEL_USER_DATA))
        return pv_refuse(pv, PV_EPERM, "iret-ss", NULL);
    uint32_t eflags = (frame[3] & ~(EFLAGS_IOPL | EFLAGS_VM | EFLAGS_NT)) | 0x2;
    if (pv_copy_to_guest(pv, e, esp + 12, &eflags, 4) < 0)
        return pv_refuse(pv, PV_EFAULT, "iret-frame", NULL);
    cpu->regs[REG_EAX] = frame[0];
    cpu->regs[REG_ESP] += 4;
    x86_iret(e, 4);
    pv_shared(pv)->event_mask = (eflags & EFLAGS_IF) ? 0 : 1;
    return 0;
}
