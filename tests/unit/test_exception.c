/*
 * test_exception.c - x86_raise, event delivery through the IDT (frames for
 * same- and inter-privilege gates, interrupt vs trap gates, 16-bit gates,
 * gate DPL for INT n), the double-fault and triple-fault rules of SDM vol. 3
 * table 6-5 with the report text, and IRET back to ring 3.
 */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "core/x86/system.h"
#include "x86_test_machine.h"

/* ---- a small machine: 8 MiB of RAM, flat protected mode, paging off ---- */


/* ---- descriptor tables ---- */

#define GDT 0x1000u
#define IDT 0x2000u
#define TSS 0x3000u
#define KERNEL_STACK_TOP 0x90000u
#define USER_STACK_TOP 0x70000u

enum {
    KERNEL_CODE = 0x08, KERNEL_DATA = 0x10, USER_CODE = 0x1b, USER_DATA = 0x23, TSS_SELECTOR = 0x28,
    RING1_CODE = 0x31, RING1_DATA = 0x39, CONFORMING_CODE = 0x40,
};
#define RING1_STACK_TOP 0x60000u

static void set_descriptor(uint32_t table, unsigned index, uint32_t base, uint32_t limit,
                           unsigned access, unsigned flags)
{
    uint32_t low = (limit & 0xffff) | (base << 16);
    uint32_t high = ((base >> 16) & 0xff) | (access << 8) | (limit & 0xf0000) | (flags << 20) |
                    (base & 0xff000000);
    set_ram32(table + index * 8, low);
    set_ram32(table + index * 8 + 4, high);
}

/* access: 0x8e 32-bit interrupt gate DPL 0, 0x8f trap gate, 0xee DPL 3, 0x86 16-bit, 0x85 task. */
static void set_gate_to(unsigned vector, uint16_t selector, uint32_t offset, unsigned access)
{
    set_ram32(IDT + vector * 8, (offset & 0xffff) | ((uint32_t)selector << 16));
    set_ram32(IDT + vector * 8 + 4, (offset & 0xffff0000) | (access << 8));
}

static void set_gate(unsigned vector, uint32_t offset, unsigned access)
{
    set_ram32(IDT + vector * 8, (offset & 0xffff) | ((uint32_t)KERNEL_CODE << 16));
    set_ram32(IDT + vector * 8 + 4, (offset & 0xffff0000) | (access << 8));
}

/* Handler addresses: 0x100000 + vector * 0x100. */
static uint32_t handler(unsigned vector)
{
    return 0x100000 + vector * 0x100;
}

static void setup(void)
{
    machine_create();

    set_descriptor(GDT, 1, 0, 0xfffff, 0x9a, 0xc);
    set_descriptor(GDT, 2, 0, 0xfffff, 0x92, 0xc);
    set_descriptor(GDT, 3, 0, 0xfffff, 0xfa, 0xc);
    set_descriptor(GDT, 4, 0, 0xfffff, 0xf2, 0xc);
    set_descriptor(GDT, 5, TSS, 0x67, 0x89, 0x0);
    set_descriptor(GDT, 6, 0, 0xfffff, 0xba, 0xc);       /* ring 1 code */
    set_descriptor(GDT, 7, 0, 0xfffff, 0xb2, 0xc);       /* ring 1 data */
    set_descriptor(GDT, 8, 0, 0xfffff, 0x9e, 0xc);       /* conforming code, DPL 0 */
    m->cpu.gdtr = (struct table_register){ GDT, 9 * 8 - 1 };
    set_ram32(TSS + 4, KERNEL_STACK_TOP);
    set_ram32(TSS + 8, KERNEL_DATA);
    set_ram32(TSS + 12, RING1_STACK_TOP);
    set_ram32(TSS + 16, RING1_DATA);
    NO_FAULT(x86_load_task_register(e, TSS_SELECTOR));

    for (unsigned vector = 0; vector < 32; vector++)
        set_gate(vector, handler(vector), 0x8e);
    set_gate(0x20, handler(0x20), 0x8e);
    set_gate(0x21, handler(0x21), 0x8f);     /* trap gate */
    set_gate(0x22, 0x1234, 0x86);            /* 16-bit interrupt gate */
    set_gate(0x23, 0, 0x85);                 /* task gate */
    set_gate(0x80, handler(0x80), 0xee);     /* DPL 3: INT 0x80 from user mode */
    set_gate(0x81, handler(0x81), 0x8e);     /* DPL 0 */
    m->cpu.idtr = (struct table_register){ IDT, 256 * 8 - 1 };

    m->cpu.regs[REG_ESP] = 0x80000;
    m->cpu.eip = 0x4000;
    e->instruction_eip = 0x4000;
    m->cpu.eflags = EFLAGS_FIXED | EFLAGS_IF;
}

static void teardown(void)
{
    machine_destroy();
}

static void become_user(void)
{
    m->cpu.segments[SEG_CS] = (struct segment){ USER_CODE, 0, 0xffffffff, 0xc0fb };
    m->cpu.segments[SEG_SS] = (struct segment){ USER_DATA, 0, 0xffffffff, 0xc0f3 };
    m->cpu.regs[REG_ESP] = USER_STACK_TOP;
}

TestSuite(exception, .init = setup, .fini = teardown);

Test(exception, raise_records_the_exception)
{
    EXPECT_FAULT(x86_raise(e, EXC_GP, 0x18), EXC_GP, 0x18);
    cr_assert(e->fault_has_error_code);
    EXPECT_FAULT(x86_raise(e, EXC_UD, 0x18), EXC_UD, 0);
    cr_assert_not(e->fault_has_error_code, "#UD pushes no error code");
    cr_assert(x86_exception_has_error_code(EXC_DF));
    cr_assert(x86_exception_has_error_code(EXC_AC));
    cr_assert_not(x86_exception_has_error_code(EXC_BP));
}

Test(exception, same_privilege_interrupt_gate_frame)
{
    m->cpu.eflags |= EFLAGS_TF | EFLAGS_NT;
    m->cpu.halted = true;
    uint32_t old_eflags = m->cpu.eflags;
    cr_assert(x86_deliver_event(e, 0x20, EVENT_EXTERNAL, false, 0));
    uint32_t esp = m->cpu.regs[REG_ESP];
    cr_assert_eq(esp, 0x80000 - 12);
    cr_assert_eq(ram32(esp), 0x4000, "EIP");
    cr_assert_eq(ram32(esp + 4), KERNEL_CODE, "CS");
    cr_assert_eq(ram32(esp + 8), old_eflags, "EFLAGS");
    cr_assert_eq(m->cpu.eip, handler(0x20));
    cr_assert_eq(m->cpu.segments[SEG_CS].selector, KERNEL_CODE);
    cr_assert_not(m->cpu.eflags & (EFLAGS_IF | EFLAGS_TF | EFLAGS_NT));
    cr_assert_not(m->cpu.halted);
    cr_assert_eq(e->fault, &m->fault, "the caller's landing pad is restored");
}

Test(exception, error_code_pushed_last)
{
    cr_assert(x86_deliver_event(e, EXC_GP, EVENT_FAULT, true, 0x1234));
    uint32_t esp = m->cpu.regs[REG_ESP];
    cr_assert_eq(esp, 0x80000 - 16);
    cr_assert_eq(ram32(esp), 0x1234);
    cr_assert_eq(ram32(esp + 4), 0x4000);
    cr_assert_eq(ram32(esp + 12), EFLAGS_FIXED | EFLAGS_IF | EFLAGS_RF,
                 "faults push RF = 1 (SDM vol. 3, 17.3.1.1)");
    cr_assert_not(m->cpu.eflags & EFLAGS_RF);
}

Test(exception, traps_and_interrupts_push_rf_unchanged)
{
    cr_assert(x86_deliver_event(e, EXC_BP, EVENT_TRAP, false, 0));
    cr_assert_eq(ram32(m->cpu.regs[REG_ESP] + 8), EFLAGS_FIXED | EFLAGS_IF);
}

Test(exception, trap_gate_keeps_if)
{
    cr_assert(x86_deliver_event(e, 0x21, EVENT_EXTERNAL, false, 0));
    cr_assert(m->cpu.eflags & EFLAGS_IF);
    cr_assert_eq(m->cpu.eip, handler(0x21));
}

Test(exception, sixteen_bit_gate_pushes_words)
{
    cr_assert(x86_deliver_event(e, 0x22, EVENT_EXTERNAL, false, 0));
    uint32_t esp = m->cpu.regs[REG_ESP];
    cr_assert_eq(esp, 0x80000 - 6);
    cr_assert_eq(ram16(esp), 0x4000);
    cr_assert_eq(ram16(esp + 2), KERNEL_CODE);
    cr_assert_eq(m->cpu.eip, 0x1234);
}

Test(exception, inter_privilege_gate_switches_stack)
{
    become_user();
    m->cpu.eip = 0x401002;
    uint32_t old_eflags = m->cpu.eflags;
    cr_assert(x86_deliver_event(e, 0x80, EVENT_SOFTWARE, false, 0));
    cr_assert_eq(cpu_cpl(&m->cpu), 0);
    cr_assert_eq(m->cpu.segments[SEG_SS].selector, KERNEL_DATA);
    uint32_t esp = m->cpu.regs[REG_ESP];
    cr_assert_eq(esp, KERNEL_STACK_TOP - 20);
    cr_assert_eq(ram32(esp), 0x401002, "EIP");
    cr_assert_eq(ram32(esp + 4), USER_CODE, "CS");
    cr_assert_eq(ram32(esp + 8), old_eflags, "EFLAGS");
    cr_assert_eq(ram32(esp + 12), USER_STACK_TOP, "ESP");
    cr_assert_eq(ram32(esp + 16), USER_DATA, "SS");
}

Test(exception, iret_back_to_ring3)
{
    become_user();
    m->cpu.segments[SEG_DS] = (struct segment){ USER_DATA, 0, 0xffffffff, 0xc0f3 };
    m->cpu.eip = 0x401002;
    cr_assert(x86_deliver_event(e, 0x80, EVENT_SOFTWARE, false, 0));
    cr_assert_not(m->cpu.eflags & EFLAGS_IF);
    /* The handler loads kernel data into ES, then IRETs. */
    NO_FAULT(x86_load_segment(e, SEG_ES, KERNEL_DATA));
    NO_FAULT(x86_iret(e, 4));
    cr_assert_eq(cpu_cpl(&m->cpu), 3);
    cr_assert_eq(m->cpu.eip, 0x401002);
    cr_assert_eq(m->cpu.segments[SEG_CS].selector, USER_CODE);
    cr_assert_eq(m->cpu.segments[SEG_SS].selector, USER_DATA);
    cr_assert_eq(m->cpu.regs[REG_ESP], USER_STACK_TOP);
    cr_assert(m->cpu.eflags & EFLAGS_IF, "IF restored from the frame");
    cr_assert(m->cpu.segments[SEG_ES].attributes & SEG_ATTR_UNUSABLE, "ring-0 ES nulled");
    cr_assert_eq(m->cpu.segments[SEG_DS].selector, USER_DATA);
}

Test(exception, iret_at_cpl3_cannot_change_if_or_iopl)
{
    become_user();
    uint32_t esp = USER_STACK_TOP - 12;
    m->cpu.regs[REG_ESP] = esp;
    set_ram32(esp, 0x401000);
    set_ram32(esp + 4, USER_CODE);
    set_ram32(esp + 8, EFLAGS_FIXED | EFLAGS_IOPL | EFLAGS_CF);  /* IF = 0, IOPL = 3 */
    NO_FAULT(x86_iret(e, 4));
    cr_assert(m->cpu.eflags & EFLAGS_IF, "IF kept: CPL 3 > IOPL 0");
    cr_assert_eq(m->cpu.eflags & EFLAGS_IOPL, 0, "IOPL kept: CPL != 0");
    cr_assert(m->cpu.eflags & EFLAGS_CF);
    cr_assert_eq(m->cpu.regs[REG_ESP], USER_STACK_TOP);
}

Test(exception, iret_checks)
{
    uint32_t esp = 0x80000 - 12;
    m->cpu.regs[REG_ESP] = esp;
    set_ram32(esp, 0x1000);
    set_ram32(esp + 4, 0);
    set_ram32(esp + 8, EFLAGS_FIXED);
    EXPECT_FAULT(x86_iret(e, 4), EXC_GP, 0);                /* null CS */
    set_ram32(esp + 4, KERNEL_DATA);
    EXPECT_FAULT(x86_iret(e, 4), EXC_GP, KERNEL_DATA);      /* not code */
    m->cpu.eflags |= EFLAGS_NT;
    EXPECT_FAULT(x86_iret(e, 4), EXC_TS, 0);                /* task return to a null link */
    cr_assert_eq(m->cpu.regs[REG_ESP], esp, "nothing popped");
}

Test(exception, int_n_from_ring3_through_dpl0_gate_is_gp)
{
    become_user();
    e->instruction_eip = 0x401000;
    m->cpu.eip = 0x401002;                    /* after INT 0x81 */
    cr_assert(x86_deliver_event(e, 0x81, EVENT_SOFTWARE, false, 0));
    cr_assert_eq(m->cpu.eip, handler(EXC_GP), "the #GP handler runs instead");
    uint32_t esp = m->cpu.regs[REG_ESP];
    cr_assert_eq(ram32(esp), 0x81 * 8 + 2, "error code names the IDT entry, EXT = 0");
    cr_assert_eq(ram32(esp + 4), 0x401000, "#GP returns to the INT instruction");
    cr_assert_eq(ram32(esp + 16), USER_STACK_TOP);
}

Test(exception, hardware_events_ignore_gate_dpl)
{
    become_user();
    cr_assert(x86_deliver_event(e, 0x81, EVENT_EXTERNAL, false, 0));
    cr_assert_eq(m->cpu.eip, handler(0x81));
}

Test(exception, not_present_gate_is_np_with_ext)
{
    set_gate(0x20, handler(0x20), 0x0e);      /* P = 0 */
    cr_assert(x86_deliver_event(e, 0x20, EVENT_EXTERNAL, false, 0));
    cr_assert_eq(m->cpu.eip, handler(EXC_NP));
    cr_assert_eq(ram32(m->cpu.regs[REG_ESP]), 0x20 * 8 + 2 + 1);
}

Test(exception, idt_limit_is_gp)
{
    m->cpu.idtr.limit = 0x20 * 8 + 7;
    cr_assert(x86_deliver_event(e, 0x21, EVENT_EXTERNAL, false, 0));
    cr_assert_eq(m->cpu.eip, handler(EXC_GP));
    cr_assert_eq(ram32(m->cpu.regs[REG_ESP]), 0x21 * 8 + 2 + 1);
}

Test(exception, benign_then_contributory_is_serial)
{
    set_gate(EXC_UD, handler(EXC_UD), 0x0e);
    cr_assert(x86_deliver_event(e, EXC_UD, EVENT_FAULT, false, 0));
    cr_assert_eq(m->cpu.eip, handler(EXC_NP));
    cr_assert_eq(ram32(m->cpu.regs[REG_ESP]), EXC_UD * 8 + 3);
}

Test(exception, page_fault_then_contributory_is_double_fault)
{
    set_gate(EXC_PF, handler(EXC_PF), 0x0e);
    cr_assert(x86_deliver_event(e, EXC_PF, EVENT_FAULT, true, 2));
    cr_assert_eq(m->cpu.eip, handler(EXC_DF));
    uint32_t esp = m->cpu.regs[REG_ESP];
    cr_assert_eq(esp, 0x80000 - 16, "one frame: the failed attempt left no trace");
    cr_assert_eq(ram32(esp), 0, "#DF error code is 0");
    cr_assert_eq(ram32(esp + 4), 0x4000);
}

Test(exception, contributory_then_contributory_is_double_fault)
{
    set_gate(EXC_GP, handler(EXC_GP), 0x0e);
    cr_assert(x86_deliver_event(e, EXC_GP, EVENT_FAULT, true, 0));
    cr_assert_eq(m->cpu.eip, handler(EXC_DF));
}

Test(exception, fault_during_double_fault_is_triple_fault)
{
    set_gate(EXC_PF, handler(EXC_PF), 0x0e);
    set_gate(EXC_DF, handler(EXC_DF), 0x0e);
    struct cpu before = m->cpu;
    cr_assert_not(x86_deliver_event(e, EXC_PF, EVENT_FAULT, true, 2));
    cr_assert(e->triple_fault);
    cr_assert_str_eq(e->triple_fault_report,
                     "triple fault: #NP(0x0043) while delivering #DF, which followed "
                     "#NP(0x0073) while delivering #PF(0x0002) at EIP 0x00004000");
    cr_assert_eq(m->cpu.regs[REG_ESP], before.regs[REG_ESP]);
    cr_assert_eq(m->cpu.eip, before.eip);
    cr_assert_eq(e->fault, &m->fault);
}

Test(exception, page_faults_on_the_stack_escalate_to_triple_fault)
{
    /* Identity-map the first 4 MiB with one 4 MiB page; the stack at 12 MiB
     * is not mapped at all. */
    set_ram32(0x10000, 0 | 0x1 | 0x2 | 0x80);
    m->cpu.cr3 = 0x10000;
    m->cpu.cr4 |= CR4_PSE;
    m->cpu.cr0 |= CR0_PG;
    x86_tlb_flush_all(e);
    m->cpu.regs[REG_ESP] = 0xc00000;
    cr_assert_not(x86_deliver_event(e, 0x20, EVENT_EXTERNAL, false, 0));
    cr_assert_str_eq(e->triple_fault_report,
                     "triple fault: #PF(0x0002) while delivering #DF, which followed "
                     "#PF(0x0002) while delivering #PF(0x0002), which followed "
                     "#PF(0x0002) while delivering interrupt 0x20 at EIP 0x00004000");
    cr_assert_eq(m->cpu.cr2, 0xbffffc, "CR2 from the last page fault");
}

Test(exception, bad_tss_stack_reports_ts_chain)
{
    set_ram32(TSS + 8, USER_DATA);
    become_user();
    m->cpu.eip = 0x401002;
    e->instruction_eip = 0x401000;
    cr_assert_not(x86_deliver_event(e, 0x80, EVENT_SOFTWARE, false, 0));
    cr_assert_str_eq(e->triple_fault_report,
                     "triple fault: #TS(0x0021) while delivering #DF, which followed "
                     "#TS(0x0021) while delivering #TS(0x0020), which followed "
                     "#TS(0x0020) while delivering int 0x80 at EIP 0x00401000");
}

Test(exception, real_mode_delivery_is_not_implemented)
{
    m->cpu.cr0 &= ~CR0_PE;
    cr_assert_not(x86_deliver_event(e, 0x20, EVENT_EXTERNAL, false, 0));
    cr_assert(e->triple_fault);
    cr_assert(strstr(e->triple_fault_report, "real-mode interrupt delivery is not implemented"));
}

/* A task gate naming the null selector: #GP(EXT) (SDM vol. 3, 7.3), which
 * the #GP handler (an interrupt gate) then receives. */
Test(exception, task_gate_to_null_selector_is_gp)
{
    cr_assert(x86_deliver_event(e, 0x23, EVENT_EXTERNAL, false, 0));
    cr_assert_not(e->triple_fault);
    cr_assert_eq(m->cpu.eip, handler(EXC_GP));
    cr_assert_eq(m->cpu.tr.selector, TSS_SELECTOR, "no task switch happened");
}

Test(exception, stack_limit_on_same_privilege_delivery)
{
    set_descriptor(GDT, 6, 0, 0xfff, 0x92, 0x4);          /* 4 KiB data */
    m->cpu.gdtr.limit = 7 * 8 - 1;
    NO_FAULT(x86_load_segment(e, SEG_SS, 0x30));
    m->cpu.regs[REG_ESP] = 8;                             /* room for 2 of 3 pushes */
    /* #SS during an external interrupt's delivery: handled serially, and
     * the #SS delivery fails the same way: #DF, then shutdown. */
    cr_assert_not(x86_deliver_event(e, 0x20, EVENT_EXTERNAL, false, 0));
    cr_assert(strstr(e->triple_fault_report, "#SS(0x0001) while delivering interrupt 0x20"));
}

Test(exception, ring3_to_ring1_uses_the_ring1_stack)
{
    set_gate_to(0x30, RING1_CODE, 0x7000, 0x8e);
    become_user();
    cr_assert(x86_deliver_event(e, 0x30, EVENT_EXTERNAL, false, 0));
    cr_assert_eq(cpu_cpl(&m->cpu), 1);
    cr_assert_eq(m->cpu.segments[SEG_CS].selector, RING1_CODE);
    cr_assert_eq(m->cpu.segments[SEG_SS].selector, RING1_DATA);
    cr_assert_eq(m->cpu.regs[REG_ESP], RING1_STACK_TOP - 20);
    cr_assert_eq(ram32(RING1_STACK_TOP - 4), USER_DATA);
    /* And IRET from ring 1 back to ring 3. */
    NO_FAULT(x86_iret(e, 4));
    cr_assert_eq(cpu_cpl(&m->cpu), 3);
    cr_assert_eq(m->cpu.regs[REG_ESP], USER_STACK_TOP);
}

Test(exception, conforming_handler_runs_at_current_cpl)
{
    set_gate_to(0x31, CONFORMING_CODE, 0x7000, 0x8e);
    become_user();
    cr_assert(x86_deliver_event(e, 0x31, EVENT_EXTERNAL, false, 0));
    cr_assert_eq(cpu_cpl(&m->cpu), 3, "no privilege change");
    cr_assert_eq(m->cpu.segments[SEG_SS].selector, USER_DATA, "no stack switch");
    cr_assert_eq(m->cpu.regs[REG_ESP], USER_STACK_TOP - 12);
    cr_assert_eq(m->cpu.segments[SEG_CS].selector, CONFORMING_CODE | 3);
}

Test(exception, iret_to_outer_level_checks_the_stack_segment)
{
    uint32_t esp = 0x80000 - 20;
    m->cpu.regs[REG_ESP] = esp;
    set_ram32(esp, 0x401000);
    set_ram32(esp + 4, USER_CODE);
    set_ram32(esp + 8, EFLAGS_FIXED);
    set_ram32(esp + 12, USER_STACK_TOP);
    set_ram32(esp + 16, KERNEL_DATA | 3);      /* DPL 0 stack for ring 3 */
    EXPECT_FAULT(x86_iret(e, 4), EXC_GP, KERNEL_DATA);
    set_ram32(esp + 16, USER_DATA & ~3);        /* RPL 0 != CS RPL 3 */
    EXPECT_FAULT(x86_iret(e, 4), EXC_GP, USER_DATA & ~3);
    set_ram32(esp + 16, 0);
    EXPECT_FAULT(x86_iret(e, 4), EXC_GP, 0);
    cr_assert_eq(cpu_cpl(&m->cpu), 0, "nothing changed");
    set_ram32(esp + 16, USER_DATA);
    NO_FAULT(x86_iret(e, 4));
    cr_assert_eq(cpu_cpl(&m->cpu), 3);
}

/* ---- property test: random IDTs, GDTs and TSS stacks ----
 *
 * Whatever the tables hold, x86_deliver_event must not crash or longjmp
 * out, must either deliver (leaving CS.RPL = SS.RPL = SS.DPL = CPL) or shut
 * down with a report and the registers as they were before the event. */

static void randomize_tables(uint32_t *seed)
{
    static const unsigned code_access[] = { 0x9a, 0xba, 0xfa, 0x9e, 0x92, 0x1a, 0x98 };
    static const unsigned data_access[] = { 0x92, 0xb2, 0xf2, 0x90, 0x12, 0x9a, 0x96 };
    static const unsigned gate_access[] = { 0x8e, 0x8f, 0xee, 0xef, 0x86, 0x87, 0x0e, 0x85,
                                            0x8c, 0xae };

    for (unsigned i = 6; i < 9; i++) {
        uint32_t r = next_random(seed);
        set_descriptor(GDT, i, 0, r % 4 ? 0xfffff : 0x1, code_access[r % 7], 0xc);
        set_descriptor(GDT, i + 3, 0, (r >> 8) % 4 ? 0xfffff : 0x1, data_access[(r >> 4) % 7],
                       (r >> 12) % 2 ? 0xc : 0x0);
    }
    m->cpu.gdtr.limit = 12 * 8 - 1;
    for (unsigned vector = 0; vector < 48; vector++) {
        uint32_t r = next_random(seed);
        uint16_t selector = (uint16_t)((((r >> 4) % 12) << 3) | ((r >> 8) & 3));
        set_gate_to(vector, selector, (r >> 10) % 0x400 * 0x100, gate_access[r % 10]);
    }
    m->cpu.idtr.limit = (uint16_t)(next_random(seed) % 8 ? 48 * 8 - 1 : 20 * 8 - 1);
    set_ram32(TSS + 8, ((next_random(seed) % 12) << 3) | (next_random(seed) % 4 ? 0 : 1));
    set_ram32(TSS + 16, ((next_random(seed) % 12) << 3) | 1);
    set_ram32(TSS + 4, next_random(seed) % 4 ? KERNEL_STACK_TOP : 8);
}

Test(exception, random_tables_deliver_or_shut_down_cleanly)
{
    uint32_t seed = 0x9e3779b9;
    int delivered = 0, shut_down = 0;

    for (int round = 0; round < 20000; round++) {
        randomize_tables(&seed);
        e->triple_fault = false;
        e->triple_fault_report[0] = 0;
        m->cpu.segments[SEG_CS] = (struct segment){ KERNEL_CODE, 0, 0xffffffff, 0xc09b };
        m->cpu.segments[SEG_SS] = (struct segment){ KERNEL_DATA, 0, 0xffffffff, 0xc093 };
        m->cpu.regs[REG_ESP] = next_random(&seed) % 4 ? 0x80000 : 4;
        m->cpu.eflags = EFLAGS_FIXED | EFLAGS_IF;
        if (next_random(&seed) % 2)
            become_user();

        uint32_t r = next_random(&seed);
        int vector = (int)(r % 48);
        enum event_kind kind = (enum event_kind)((r >> 8) % 4);
        bool has_error = kind == EVENT_FAULT && x86_exception_has_error_code(vector);
        struct cpu before = m->cpu;

        if (x86_deliver_event(e, vector, kind, has_error, 0)) {
            unsigned cpl = cpu_cpl(&m->cpu);
            delivered++;
            cr_assert_not(e->triple_fault);
            cr_assert_eq(m->cpu.segments[SEG_CS].selector & 3, cpl, "round %d", round);
            cr_assert_eq(m->cpu.segments[SEG_SS].selector & 3, cpl, "round %d", round);
            cr_assert_eq(SEG_ATTR_DPL(m->cpu.segments[SEG_SS].attributes), cpl, "round %d", round);
            cr_assert_leq(cpl, cpu_cpl(&before), "round %d: delivery never lowers privilege",
                          round);
        } else {
            shut_down++;
            cr_assert(e->triple_fault, "round %d", round);
            cr_assert(strncmp(e->triple_fault_report, "triple fault: ", 14) == 0 ||
                      strncmp(e->triple_fault_report, "shutdown: ", 10) == 0,
                      "round %d: report \"%s\"", round, e->triple_fault_report);
            cr_assert(same_registers(&m->cpu, &before), "round %d: registers changed", round);
        }
        cr_assert_eq(e->fault, &m->fault, "round %d: landing pad restored", round);
    }
    cr_log_info("%d delivered, %d shut down", delivered, shut_down);
    cr_assert_gt(delivered, 1000);
    cr_assert_gt(shut_down, 1000);
}
