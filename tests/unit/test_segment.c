/*
 * test_segment.c - segment register loads and their error codes, the
 * accessed bit, limit and type checks (expand-down included), far
 * JMP/CALL/RET through call gates with the stack switch, LLDT/LTR,
 * LAR/LSL/VERR/VERW, the I/O permission bitmap and SYSENTER/SYSEXIT.
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
#define TSS 0x3000u
#define LDT 0x4000u

/* flags: the G, D/B, L, AVL nibble (bits 55:52). */
static void set_descriptor(uint32_t table, unsigned index, uint32_t base, uint32_t limit,
                           unsigned access, unsigned flags)
{
    uint32_t low = (limit & 0xffff) | (base << 16);
    uint32_t high = ((base >> 16) & 0xff) | (access << 8) | (limit & 0xf0000) | (flags << 20) |
                    (base & 0xff000000);
    set_ram32(table + index * 8, low);
    set_ram32(table + index * 8 + 4, high);
}

static void set_gate(uint32_t table, unsigned index, uint16_t selector, uint32_t offset,
                     unsigned access, unsigned parameters)
{
    set_ram32(table + index * 8, (offset & 0xffff) | ((uint32_t)selector << 16));
    set_ram32(table + index * 8 + 4, (offset & 0xffff0000) | (access << 8) | parameters);
}

enum {
    KERNEL_CODE = 0x08, KERNEL_DATA = 0x10, USER_CODE = 0x1b, USER_DATA = 0x23, TSS_SELECTOR = 0x28,
    ABSENT_DATA = 0x30, EXECUTE_ONLY = 0x38, READABLE_CODE = 0x40, READ_ONLY_DATA = 0x48,
    EXPAND_DOWN32 = 0x50, EXPAND_DOWN16 = 0x58, CALL_GATE = 0x60, LDT_SELECTOR = 0x68,
    SMALL_USER_DATA = 0x70, CONFORMING_CODE = 0x78, SMALL_DATA = 0x80,
};

static void build_gdt(void)
{
    set_descriptor(GDT, 1, 0, 0xfffff, 0x9a, 0xc);       /* ring 0 code */
    set_descriptor(GDT, 2, 0, 0xfffff, 0x92, 0xc);       /* ring 0 data */
    set_descriptor(GDT, 3, 0, 0xfffff, 0xfa, 0xc);       /* ring 3 code */
    set_descriptor(GDT, 4, 0, 0xfffff, 0xf2, 0xc);       /* ring 3 data */
    set_descriptor(GDT, 5, TSS, 0x2068, 0x89, 0x0);      /* 32-bit TSS with an I/O bitmap */
    set_descriptor(GDT, 6, 0, 0xfffff, 0x12, 0xc);       /* data, not present */
    set_descriptor(GDT, 7, 0, 0xfffff, 0x98, 0xc);       /* execute-only code */
    set_descriptor(GDT, 8, 0x100000, 0xfff, 0x9a, 0x4);  /* readable code, 4 KiB */
    set_descriptor(GDT, 9, 0, 0xfffff, 0x90, 0xc);       /* read-only data, not accessed */
    set_descriptor(GDT, 10, 0x200000, 0xfff, 0x96, 0x4); /* expand-down, B = 1 */
    set_descriptor(GDT, 11, 0x200000, 0xfff, 0x96, 0x0); /* expand-down, B = 0 */
    set_gate(GDT, 12, KERNEL_CODE, 0x5000, 0xec, 2);     /* 32-bit call gate, DPL 3, 2 params */
    set_descriptor(GDT, 13, LDT, 0x1f, 0x82, 0x0);       /* LDT */
    set_descriptor(GDT, 14, 0, 0xfff, 0xf2, 0x4);        /* ring 3 data, 4 KiB */
    set_descriptor(GDT, 15, 0, 0xfffff, 0x9e, 0xc);      /* conforming code, DPL 0 */
    set_descriptor(GDT, 16, 0, 0xfff, 0x92, 0x4);        /* ring 0 data, 4 KiB */
    m->cpu.gdtr.base = GDT;
    m->cpu.gdtr.limit = 17 * 8 - 1;
}

static void setup(void)
{
    machine_create();
    build_gdt();
    /* The ring-0 stack in the TSS, and the I/O bitmap right after the TSS. */
    set_ram32(TSS + 4, 0x90000);
    set_ram32(TSS + 8, KERNEL_DATA);
    set_ram32(TSS + 0x64, 0x68u << 16);
    m->ram.host[TSS + 0x68 + 0x3f8 / 8] = 1;            /* port 0x3f8 denied */
    m->ram.host[TSS + 0x68 + 0x2000] = 0xff;
}

static void teardown(void)
{
    machine_destroy();
}

/* As if the CPU were running ring-3 code on the flat ring-3 stack. */
static void become_user(void)
{
    m->cpu.segments[SEG_CS] = (struct segment){ USER_CODE, 0, 0xffffffff, 0xc0fb };
    m->cpu.segments[SEG_SS] = (struct segment){ USER_DATA, 0, 0xffffffff, 0xc0f3 };
}

TestSuite(segment, .init = setup, .fini = teardown);

/* ---- data segment loads ---- */

Test(segment, null_data_selector_is_unusable)
{
    NO_FAULT(x86_load_segment(e, SEG_DS, 0));
    cr_assert(m->cpu.segments[SEG_DS].attributes & SEG_ATTR_UNUSABLE);
    EXPECT_FAULT(x86_read8(e, SEG_DS, 0), EXC_GP, 0);
    EXPECT_FAULT(x86_write32(e, SEG_DS, 0x100, 1), EXC_GP, 0);
    NO_FAULT(x86_load_segment(e, SEG_FS, 3));        /* null with RPL 3 too */
    cr_assert(m->cpu.segments[SEG_FS].attributes & SEG_ATTR_UNUSABLE);
}

Test(segment, data_load_errors)
{
    EXPECT_FAULT(x86_load_segment(e, SEG_DS, 0x100), EXC_GP, 0x100);          /* beyond limit */
    EXPECT_FAULT(x86_load_segment(e, SEG_DS, TSS_SELECTOR), EXC_GP, 0x28);    /* system */
    EXPECT_FAULT(x86_load_segment(e, SEG_ES, EXECUTE_ONLY), EXC_GP, 0x38);    /* not readable */
    EXPECT_FAULT(x86_load_segment(e, SEG_GS, ABSENT_DATA), EXC_NP, 0x30);
    EXPECT_FAULT(x86_load_segment(e, SEG_DS, KERNEL_DATA | 3), EXC_GP, 0x10); /* RPL > DPL */
    EXPECT_FAULT(x86_load_segment(e, SEG_CS, KERNEL_CODE), EXC_UD, 0);
    cr_assert_eq(m->cpu.segments[SEG_DS].selector, 0x10, "DS unchanged after faults");
}

Test(segment, user_mode_dpl_checks)
{
    become_user();
    EXPECT_FAULT(x86_load_segment(e, SEG_DS, KERNEL_DATA | 3), EXC_GP, 0x10);
    NO_FAULT(x86_load_segment(e, SEG_DS, USER_DATA));
    NO_FAULT(x86_load_segment(e, SEG_ES, USER_DATA & ~3));      /* RPL 0 <= DPL 3 */
    NO_FAULT(x86_load_segment(e, SEG_FS, CONFORMING_CODE | 3)); /* conforming: no DPL check */
    cr_assert_eq(m->cpu.segments[SEG_DS].attributes & 0xff, 0xf3);
}

Test(segment, readable_code_in_data_register)
{
    NO_FAULT(x86_load_segment(e, SEG_DS, READABLE_CODE));
    m->ram.host[0x100010] = 0x5a;
    uint8_t value = 0;
    NO_FAULT(value = x86_read8(e, SEG_DS, 0x10));
    cr_assert_eq(value, 0x5a);
    EXPECT_FAULT(x86_write8(e, SEG_DS, 0x10, 0), EXC_GP, 0);
}

Test(segment, accessed_bit_set_in_gdt)
{
    cr_assert_eq(m->ram.host[GDT + 9 * 8 + 5], 0x90);
    NO_FAULT(x86_load_segment(e, SEG_DS, READ_ONLY_DATA));
    cr_assert_eq(m->ram.host[GDT + 9 * 8 + 5], 0x91);
    cr_assert(m->cpu.segments[SEG_DS].attributes & 1);
    EXPECT_FAULT(x86_write8(e, SEG_DS, 0, 0), EXC_GP, 0);
}

Test(segment, stack_segment_loads)
{
    EXPECT_FAULT(x86_load_segment(e, SEG_SS, 0), EXC_GP, 0);
    EXPECT_FAULT(x86_load_segment(e, SEG_SS, KERNEL_DATA | 3), EXC_GP, 0x10);   /* RPL != CPL */
    EXPECT_FAULT(x86_load_segment(e, SEG_SS, READ_ONLY_DATA), EXC_GP, 0x48);
    EXPECT_FAULT(x86_load_segment(e, SEG_SS, USER_DATA & ~3), EXC_GP, 0x20);    /* DPL != CPL */
    EXPECT_FAULT(x86_load_segment(e, SEG_SS, ABSENT_DATA), EXC_SS, 0x30);
    m->cpu.interrupt_shadow = false;
    NO_FAULT(x86_load_segment(e, SEG_SS, SMALL_DATA));
    cr_assert(m->cpu.interrupt_shadow, "MOV SS blocks interrupts for one instruction");
    cr_assert_eq(m->cpu.segments[SEG_SS].limit, 0xfff);
}

Test(segment, ldt_selectors)
{
    set_descriptor(LDT, 1, 0x300000, 0xfffff, 0x92, 0xc);
    EXPECT_FAULT(x86_load_segment(e, SEG_DS, 0x0c), EXC_GP, 0x0c);   /* no LDT yet */
    NO_FAULT(x86_load_ldtr(e, LDT_SELECTOR));
    NO_FAULT(x86_load_segment(e, SEG_DS, 0x0c));
    cr_assert_eq(m->cpu.segments[SEG_DS].base, 0x300000);
    EXPECT_FAULT(x86_load_segment(e, SEG_DS, 0x24), EXC_GP, 0x24);   /* beyond the LDT limit */
    EXPECT_FAULT(x86_load_ldtr(e, KERNEL_DATA), EXC_GP, 0x10);
    NO_FAULT(x86_load_ldtr(e, 0));
    cr_assert(m->cpu.ldtr.attributes & SEG_ATTR_UNUSABLE);
}

/* After trapemu, guest memory may hold its stand-in selectors (guest
 * selector | 4). Without an LDT, the loader reads them as the GDT selector;
 * with an LDT, or if trapemu never ran, TI = 1 means the LDT as on hardware. */
Test(segment, trapemu_stand_in_selectors)
{
    EXPECT_FAULT(x86_load_segment(e, SEG_DS, USER_DATA | 4), EXC_GP, 0x24); /* never leaked */
    m->cpu.stand_in_selectors_leaked = true;
    NO_FAULT(x86_load_segment(e, SEG_DS, KERNEL_DATA | 4));
    cr_assert_eq(m->cpu.segments[SEG_DS].selector, KERNEL_DATA);
    NO_FAULT(x86_load_segment(e, SEG_ES, 0x50 | 4));                       /* expand-down */
    cr_assert_eq(m->cpu.segments[SEG_ES].base, 0x200000);
    EXPECT_FAULT(x86_load_segment(e, SEG_GS, ABSENT_DATA | 4), EXC_NP, 0x30); /* its own checks */
    EXPECT_FAULT(x86_load_segment(e, SEG_SS, KERNEL_DATA | 4), EXC_GP, 0x14); /* no SS stand-ins */
    set_descriptor(LDT, 2, 0x300000, 0xfffff, 0x92, 0xc);
    NO_FAULT(x86_load_ldtr(e, LDT_SELECTOR));
    NO_FAULT(x86_load_segment(e, SEG_DS, KERNEL_DATA | 4));                 /* the LDT's entry 2 */
    cr_assert_eq(m->cpu.segments[SEG_DS].base, 0x300000);
    cr_assert_eq(m->cpu.segments[SEG_DS].selector, KERNEL_DATA | 4);
}

/* ---- limit checks ---- */

Test(segment, expand_up_limits)
{
    NO_FAULT(x86_load_segment(e, SEG_DS, SMALL_DATA));
    NO_FAULT(x86_read32(e, SEG_DS, 0xffc));
    EXPECT_FAULT(x86_read32(e, SEG_DS, 0xffd), EXC_GP, 0);
    EXPECT_FAULT(x86_write8(e, SEG_DS, 0x1000, 0), EXC_GP, 0);
    EXPECT_FAULT(x86_read16(e, SEG_DS, 0xffffffff), EXC_GP, 0);
    NO_FAULT(x86_load_segment(e, SEG_SS, SMALL_DATA));
    EXPECT_FAULT(x86_write32(e, SEG_SS, 0xffe, 0), EXC_SS, 0);
    EXPECT_FAULT(x86_check_write(e, SEG_SS, 0x1000, 2), EXC_SS, 0);
    NO_FAULT(x86_check_write(e, SEG_SS, 0xffc, 4));
}

Test(segment, expand_down_limits)
{
    NO_FAULT(x86_load_segment(e, SEG_ES, EXPAND_DOWN32));
    EXPECT_FAULT(x86_read8(e, SEG_ES, 0xfff), EXC_GP, 0);
    EXPECT_FAULT(x86_read32(e, SEG_ES, 0), EXC_GP, 0);
    NO_FAULT(x86_write32(e, SEG_ES, 0x1000, 0x01020304));
    cr_assert_eq(ram32(0x201000), 0x01020304);
    NO_FAULT(x86_read32(e, SEG_ES, 0xfffffffc));
    EXPECT_FAULT(x86_read32(e, SEG_ES, 0xfffffffd), EXC_GP, 0);

    NO_FAULT(x86_load_segment(e, SEG_ES, EXPAND_DOWN16));
    NO_FAULT(x86_read32(e, SEG_ES, 0xfffc));
    EXPECT_FAULT(x86_read32(e, SEG_ES, 0xfffd), EXC_GP, 0);   /* past 0xffff with B = 0 */
    EXPECT_FAULT(x86_read8(e, SEG_ES, 0x10000), EXC_GP, 0);
}

Test(segment, execute_only_code_cannot_be_read)
{
    NO_FAULT(x86_far_jump(e, EXECUTE_ONLY, 0x1000, 4));
    cr_assert_eq(m->cpu.segments[SEG_CS].selector, EXECUTE_ONLY);
    EXPECT_FAULT(x86_read8(e, SEG_CS, 0), EXC_GP, 0);
    uint8_t code[4];
    NO_FAULT(x86_fetch_code(e, 0x1000, code, 1, 4));
}

/* ---- far transfers ---- */

Test(segment, far_jump_checks)
{
    NO_FAULT(x86_far_jump(e, KERNEL_CODE, 0x6000, 4));
    cr_assert_eq(m->cpu.eip, 0x6000);
    EXPECT_FAULT(x86_far_jump(e, 0, 0, 4), EXC_GP, 0);
    EXPECT_FAULT(x86_far_jump(e, USER_CODE, 0, 4), EXC_GP, 0x18);   /* DPL != CPL */
    EXPECT_FAULT(x86_far_jump(e, KERNEL_DATA, 0, 4), EXC_GP, 0x10);
    EXPECT_FAULT(x86_far_jump(e, READABLE_CODE, 0x1000, 4), EXC_GP, 0);   /* beyond limit */
    EXPECT_FAULT(x86_far_jump(e, TSS_SELECTOR, 0, 4), EXC_TS, 0);   /* task switch: TSS CS null */
    NO_FAULT(x86_far_jump(e, READABLE_CODE, 0x10345, 2));                 /* 16-bit offset */
    cr_assert_eq(m->cpu.eip, 0x345);
}

Test(segment, conforming_code_keeps_cpl)
{
    become_user();
    NO_FAULT(x86_far_jump(e, CONFORMING_CODE, 0x7000, 4));
    cr_assert_eq(cpu_cpl(&m->cpu), 3);
    cr_assert_eq(m->cpu.segments[SEG_CS].selector, CONFORMING_CODE | 3);
}

Test(segment, call_gate_to_ring0_and_far_return)
{
    NO_FAULT(x86_load_task_register(e, TSS_SELECTOR));
    become_user();
    m->cpu.regs[REG_ESP] = 0x70000;
    set_ram32(0x70000, 0x111);
    set_ram32(0x70004, 0x222);
    NO_FAULT(x86_load_segment(e, SEG_DS, USER_DATA));

    NO_FAULT(x86_far_call(e, CALL_GATE | 3, 0xdead, 4, 0x401234));
    cr_assert_eq(cpu_cpl(&m->cpu), 0);
    cr_assert_eq(m->cpu.segments[SEG_CS].selector, KERNEL_CODE);
    cr_assert_eq(m->cpu.eip, 0x5000, "the gate's offset, not the instruction's");
    cr_assert_eq(m->cpu.segments[SEG_SS].selector, KERNEL_DATA);
    uint32_t esp = m->cpu.regs[REG_ESP];
    cr_assert_eq(esp, 0x90000 - 6 * 4);
    cr_assert_eq(ram32(esp + 0), 0x401234);
    cr_assert_eq(ram32(esp + 4), USER_CODE);
    cr_assert_eq(ram32(esp + 8), 0x111, "parameters copied in order");
    cr_assert_eq(ram32(esp + 12), 0x222);
    cr_assert_eq(ram32(esp + 16), 0x70000);
    cr_assert_eq(ram32(esp + 20), USER_DATA);

    /* The kernel loads a ring-0 data segment, then RET 8 back to ring 3. */
    NO_FAULT(x86_load_segment(e, SEG_ES, KERNEL_DATA));
    NO_FAULT(x86_far_return(e, 4, 8));
    cr_assert_eq(cpu_cpl(&m->cpu), 3);
    cr_assert_eq(m->cpu.eip, 0x401234);
    cr_assert_eq(m->cpu.segments[SEG_SS].selector, USER_DATA);
    cr_assert_eq(m->cpu.regs[REG_ESP], 0x70008, "parameters popped");
    cr_assert(m->cpu.segments[SEG_ES].attributes & SEG_ATTR_UNUSABLE, "ring-0 ES nulled");
    cr_assert_not(m->cpu.segments[SEG_DS].attributes & SEG_ATTR_UNUSABLE, "ring-3 DS kept");
}

Test(segment, call_gate_without_tss_stack_is_invalid_tss)
{
    become_user();      /* TR is the reset TSS at 0: SS0 reads as null */
    EXPECT_FAULT(x86_far_call(e, CALL_GATE | 3, 0, 4, 0), EXC_TS, 0);
    cpu_reset_to_flat_protected_mode(&m->cpu);
    m->cpu.gdtr = (struct table_register){ GDT, 17 * 8 - 1 };
    NO_FAULT(x86_load_task_register(e, TSS_SELECTOR));
    become_user();
    set_ram32(TSS + 8, READ_ONLY_DATA);
    EXPECT_FAULT(x86_far_call(e, CALL_GATE | 3, 0, 4, 0), EXC_TS, READ_ONLY_DATA);
    cr_assert_eq(cpu_cpl(&m->cpu), 3, "nothing changed");
}

Test(segment, call_gate_checks)
{
    set_gate(GDT, 12, KERNEL_CODE, 0x5000, 0x8c, 0);     /* DPL 0 */
    become_user();
    EXPECT_FAULT(x86_far_call(e, CALL_GATE | 3, 0, 4, 0), EXC_GP, 0x60);
    set_gate(GDT, 12, KERNEL_CODE, 0x5000, 0x6c, 0);     /* DPL 3, not present */
    EXPECT_FAULT(x86_far_call(e, CALL_GATE | 3, 0, 4, 0), EXC_NP, 0x60);
    set_gate(GDT, 12, KERNEL_DATA, 0x5000, 0xec, 0);     /* target not code */
    EXPECT_FAULT(x86_far_call(e, CALL_GATE | 3, 0, 4, 0), EXC_GP, 0x10);
    cr_assert_eq(cpu_cpl(&m->cpu), 3);
}

Test(segment, same_privilege_far_call_and_return)
{
    m->cpu.regs[REG_ESP] = 0x80000;
    NO_FAULT(x86_far_call(e, KERNEL_CODE, 0x6000, 4, 0x1111));
    cr_assert_eq(m->cpu.regs[REG_ESP], 0x80000 - 8);
    cr_assert_eq(ram32(0x80000 - 8), 0x1111);
    cr_assert_eq(ram32(0x80000 - 4), KERNEL_CODE);
    NO_FAULT(x86_far_return(e, 4, 0));
    cr_assert_eq(m->cpu.eip, 0x1111);
    cr_assert_eq(m->cpu.regs[REG_ESP], 0x80000);
    /* Returning to a more privileged level is refused. */
    become_user();
    m->cpu.regs[REG_ESP] = 0x70000;
    set_ram32(0x70000, 0x1000);
    set_ram32(0x70004, KERNEL_CODE);
    EXPECT_FAULT(x86_far_return(e, 4, 0), EXC_GP, 0x08);
}

/* ---- LTR, LAR, LSL, VERR, VERW ---- */

Test(segment, ltr_marks_tss_busy)
{
    NO_FAULT(x86_load_task_register(e, TSS_SELECTOR));
    cr_assert_eq(m->ram.host[GDT + 5 * 8 + 5], 0x8b, "busy in the GDT");
    cr_assert_eq(SEG_ATTR_TYPE(m->cpu.tr.attributes), 0xb);
    cr_assert_eq(m->cpu.tr.base, TSS);
    EXPECT_FAULT(x86_load_task_register(e, TSS_SELECTOR), EXC_GP, 0x28);  /* already busy */
    EXPECT_FAULT(x86_load_task_register(e, 0), EXC_GP, 0);
    EXPECT_FAULT(x86_load_task_register(e, KERNEL_DATA), EXC_GP, 0x10);
    become_user();
    EXPECT_FAULT(x86_load_task_register(e, TSS_SELECTOR), EXC_GP, 0);
}

Test(segment, lar_lsl_verr_verw)
{
    bool zf = false;
    uint32_t value = 0;
    NO_FAULT(value = x86_lar(e, KERNEL_CODE, &zf));
    cr_assert(zf);
    cr_assert_eq(value, 0x00c09a00, "high doubleword & 0x00f0ff00");
    NO_FAULT(value = x86_lsl(e, SMALL_DATA, &zf));
    cr_assert(zf);
    cr_assert_eq(value, 0xfff);
    NO_FAULT(value = x86_lsl(e, KERNEL_DATA, &zf));
    cr_assert_eq(value, 0xffffffff, "scaled by G");
    NO_FAULT(x86_lsl(e, CALL_GATE, &zf));
    cr_assert_not(zf, "gates have no limit");
    NO_FAULT(x86_lar(e, CALL_GATE, &zf));
    cr_assert(zf);
    NO_FAULT(x86_lar(e, 0, &zf));
    cr_assert_not(zf);
    NO_FAULT(x86_lar(e, 0x200, &zf));
    cr_assert_not(zf, "beyond the GDT limit: ZF = 0, no fault");

    bool result = true;
    NO_FAULT(result = x86_verr(e, EXECUTE_ONLY));
    cr_assert_not(result);
    NO_FAULT(result = x86_verr(e, READABLE_CODE));
    cr_assert(result);
    NO_FAULT(result = x86_verw(e, READ_ONLY_DATA));
    cr_assert_not(result);
    NO_FAULT(result = x86_verw(e, KERNEL_DATA));
    cr_assert(result);

    become_user();
    NO_FAULT(x86_lar(e, KERNEL_CODE, &zf));
    cr_assert_not(zf, "DPL 0 invisible from CPL 3");
    NO_FAULT(x86_lar(e, CONFORMING_CODE, &zf));
    cr_assert(zf, "conforming code visible");
    NO_FAULT(result = x86_verw(e, USER_DATA));
    cr_assert(result);
}

/* ---- I/O permission ---- */

Test(segment, io_permission_bitmap)
{
    NO_FAULT(x86_load_task_register(e, TSS_SELECTOR));
    NO_FAULT(x86_check_io_permission(e, 0x3f8, 1));          /* CPL 0 <= IOPL 0 */
    become_user();
    NO_FAULT(x86_check_io_permission(e, 0x60, 1));
    EXPECT_FAULT(x86_check_io_permission(e, 0x3f8, 1), EXC_GP, 0);
    EXPECT_FAULT(x86_check_io_permission(e, 0x3f6, 4), EXC_GP, 0);
    NO_FAULT(x86_check_io_permission(e, 0x3f9, 2));
    m->cpu.tr.limit = 0x68 + 0x10;                           /* bitmap covers ports 0-0x7f */
    NO_FAULT(x86_check_io_permission(e, 0x70, 1));
    EXPECT_FAULT(x86_check_io_permission(e, 0x80, 1), EXC_GP, 0);
    m->cpu.eflags |= EFLAGS_IOPL;
    NO_FAULT(x86_check_io_permission(e, 0x3f8, 1));          /* CPL 3 <= IOPL 3 */
}

/* ---- SYSENTER / SYSEXIT ---- */

Test(segment, sysenter_and_sysexit)
{
    become_user();
    m->cpu.eflags |= EFLAGS_IF;
    EXPECT_FAULT(x86_sysenter(e), EXC_GP, 0);                 /* SYSENTER_CS = 0 */
    m->cpu.sysenter_cs = KERNEL_CODE;
    m->cpu.sysenter_esp = 0x9000;
    m->cpu.sysenter_eip = 0xc0001000;
    NO_FAULT(x86_sysenter(e));
    cr_assert_eq(cpu_cpl(&m->cpu), 0);
    cr_assert_eq(m->cpu.segments[SEG_CS].selector, 0x08);
    cr_assert_eq(m->cpu.segments[SEG_SS].selector, 0x10);
    cr_assert_eq(m->cpu.regs[REG_ESP], 0x9000);
    cr_assert_eq(m->cpu.eip, 0xc0001000);
    cr_assert_not(m->cpu.eflags & EFLAGS_IF);

    m->cpu.regs[REG_ECX] = 0x7000;
    m->cpu.regs[REG_EDX] = 0x401000;
    NO_FAULT(x86_sysexit(e));
    cr_assert_eq(cpu_cpl(&m->cpu), 3);
    cr_assert_eq(m->cpu.segments[SEG_CS].selector, 0x1b);
    cr_assert_eq(m->cpu.segments[SEG_SS].selector, 0x23);
    cr_assert_eq(m->cpu.regs[REG_ESP], 0x7000);
    cr_assert_eq(m->cpu.eip, 0x401000);
    EXPECT_FAULT(x86_sysexit(e), EXC_GP, 0);                  /* only from CPL 0 */
}

/* ---- 16-bit forms and real mode ---- */

Test(segment, sixteen_bit_far_call_and_return)
{
    m->cpu.regs[REG_ESP] = 0x80000;
    NO_FAULT(x86_far_call(e, KERNEL_CODE, 0x16000, 2, 0x12345));
    cr_assert_eq(m->cpu.eip, 0x6000, "16-bit offset");
    cr_assert_eq(m->cpu.regs[REG_ESP], 0x80000 - 4);
    cr_assert_eq(ram32(0x80000 - 4), (KERNEL_CODE << 16) | 0x2345, "IP then CS, as words");
    NO_FAULT(x86_far_return(e, 2, 0));
    cr_assert_eq(m->cpu.eip, 0x2345);
    cr_assert_eq(m->cpu.regs[REG_ESP], 0x80000);
}

Test(segment, sixteen_bit_stack_wraps_in_64k)
{
    set_descriptor(GDT, 17, 0x300000, 0xffff, 0x92, 0x0);   /* B = 0 stack */
    m->cpu.gdtr.limit = 18 * 8 - 1;
    NO_FAULT(x86_load_segment(e, SEG_SS, 0x88));
    /* A doubleword straddling offset 0xffff is beyond the limit: #SS(0). */
    m->cpu.regs[REG_ESP] = 0xabcd0002;                       /* SP = 2 */
    EXPECT_FAULT(x86_far_call(e, KERNEL_CODE, 0x6000, 4, 0x1111), EXC_SS, 0);
    cr_assert_eq(m->cpu.regs[REG_ESP], 0xabcd0002, "ESP unchanged by the fault");
    m->cpu.regs[REG_ESP] = 0xabcd0004;                       /* SP = 4 */
    NO_FAULT(x86_far_call(e, KERNEL_CODE, 0x6000, 4, 0x1111));
    cr_assert_eq(m->cpu.regs[REG_ESP], 0xabcdfffc, "only SP moved, and wrapped");
    cr_assert_eq(ram32(0x300000 + 0xfffc), 0x1111);
    cr_assert_eq(ram32(0x300000), KERNEL_CODE);
    NO_FAULT(x86_far_return(e, 4, 0));
    cr_assert_eq(m->cpu.regs[REG_ESP], 0xabcd0004);
}

Test(segment, real_mode_loads_and_jumps)
{
    m->cpu.cr0 &= ~CR0_PE;
    NO_FAULT(x86_load_segment(e, SEG_DS, 0x1234));
    cr_assert_eq(m->cpu.segments[SEG_DS].base, 0x12340);
    NO_FAULT(x86_load_segment(e, SEG_ES, 0));
    cr_assert_not(m->cpu.segments[SEG_ES].attributes & SEG_ATTR_UNUSABLE, "no null rule");
    NO_FAULT(x86_far_jump(e, 0xf000, 0xfff0, 2));
    cr_assert_eq(m->cpu.segments[SEG_CS].base, 0xf0000);
    cr_assert_eq(m->cpu.eip, 0xfff0);
    NO_FAULT(x86_check_io_permission(e, 0x3f8, 1));         /* no I/O protection */
    EXPECT_FAULT(x86_load_ldtr(e, LDT_SELECTOR), EXC_UD, 0);
}

Test(segment, lldt_needs_cpl0)
{
    become_user();
    EXPECT_FAULT(x86_load_ldtr(e, LDT_SELECTOR), EXC_GP, 0);
}

/* ---- property test: random descriptor tables ----
 *
 * Random (but plausible) GDTs, stacks and selectors, thrown at every
 * control-transfer and segment-load function. Properties: nothing crashes
 * (ASan/UBSan watch), only the architectural exceptions are raised, a
 * fault leaves every register as it was (check first, commit last), and a
 * transfer that succeeds leaves CS.RPL = SS.RPL = CPL. The GDT sometimes
 * sits in a read-only page with CR0.WP = 1, so even setting an accessed bit
 * can fault after all other checks passed. */


static void random_gdt(uint32_t *seed, uint32_t gdt)
{
    static const unsigned access[] = { 0x9a, 0x92, 0xfa, 0xf2, 0x98, 0x9e, 0x90, 0x96, 0x12,
                                       0xba, 0xb2, 0x89, 0x8b, 0x82, 0xec, 0x8c, 0xe4, 0xfe };
    static const unsigned flags[] = { 0xc, 0x4, 0x0, 0x8 };

    for (unsigned i = 1; i < 18; i++) {
        uint32_t r = next_random(seed);
        unsigned a = access[r % (sizeof access / sizeof access[0])];
        if ((a & 0x1f) == 0x0c || (a & 0x1f) == 0x04) {          /* call gate */
            uint16_t target = (uint16_t)(((next_random(seed) % 18) << 3) | (r >> 8 & 3));
            set_gate(gdt, i, target, next_random(seed) % 0x20000, a, (r >> 12) % 4);
        } else {
            uint32_t limit = (r >> 8) % 3 == 0 ? 0xffff : 0xfffff;
            set_descriptor(gdt, i, (r >> 16) % 2 ? 0 : 0x10000, limit, a,
                           flags[(r >> 4) % 4]);
        }
    }
}

/* Runs one operation under the landing pad: -1 if it completed, else the
 * vector it raised. */
static int run_operation(unsigned operation, uint32_t r, uint16_t selector, unsigned size)
{
    if (setjmp(m->fault) != 0)
        return e->fault_vector;
    switch (operation) {
    case 0: x86_load_segment(e, (r >> 20) % 6 == SEG_CS ? SEG_DS : (int)((r >> 20) % 6), selector);
            break;
    case 1: x86_far_jump(e, selector, r >> 12, size); break;
    case 2: x86_far_call(e, selector, r >> 12, size, 0x1234); break;
    case 3: x86_far_return(e, size, (uint16_t)((r >> 24) % 3 * 4)); break;
    case 4: x86_iret(e, size); break;
    case 5: x86_load_ldtr(e, selector); break;
    default: x86_load_task_register(e, selector); break;
    }
    return -1;
}

/* LAR, LSL, VERR and VERW never fault on a bad selector (SDM vol. 2). */
static bool probes_fault(uint16_t selector)
{
    bool zf;

    if (setjmp(m->fault) != 0)
        return true;
    x86_lar(e, selector, &zf);
    x86_lsl(e, selector, &zf);
    x86_verr(e, selector);
    x86_verw(e, selector);
    return false;
}

Test(segment, random_tables_keep_the_invariants)
{
    uint32_t seed = 0x2545f491;
    int successes[7] = { 0 }, faults[7] = { 0 }, accessed_bit_faults = 0;
    /* Identity-map 8 MiB with two 4 MiB pages; the second is read-only. */
    set_ram32(0x10000, 0x000000 | 0x87);
    set_ram32(0x10004, 0x400000 | 0x85);

    for (int round = 0; round < 20000; round++) {
        bool paging = next_random(&seed) % 2;
        uint32_t gdt = paging && next_random(&seed) % 2 ? 0x401000 : GDT;
        cpu_reset_to_flat_protected_mode(&m->cpu);
        if (paging) {
            m->cpu.cr3 = 0x10000;
            m->cpu.cr4 = CR4_PSE;
            m->cpu.cr0 |= CR0_PG | CR0_WP;
        }
        x86_tlb_flush_all(e);
        random_gdt(&seed, gdt);
        m->cpu.gdtr = (struct table_register){ gdt, 18 * 8 - 1 };
        set_ram32(TSS + 4, 0x90000);
        set_ram32(TSS + 8, (next_random(&seed) % 18) << 3);
        set_ram32(TSS + 12, 0x60000);
        set_ram32(TSS + 16, ((next_random(&seed) % 18) << 3) | 1);
        m->cpu.tr = (struct segment){ TSS_SELECTOR, TSS, 0x67, 0x8b };
        if (next_random(&seed) % 2)
            become_user();
        static const uint32_t stacks[] = { 0x80000, 0x70000, 8, 0x7fffe8, 0x40fff0 };
        m->cpu.regs[REG_ESP] = stacks[next_random(&seed) % 5];
        for (int i = 0; i < 6; i++) {
            uint32_t value = next_random(&seed);
            if (i == 1 || i == 4)       /* CS and SS slots: plausible selectors */
                value = ((value % 18) << 3) | (value >> 8 & 3);
            else if (i == 2)            /* EFLAGS slot */
                value = EFLAGS_FIXED | (value & (EFLAGS_IF | EFLAGS_CF | EFLAGS_IOPL));
            else                        /* EIP and ESP slots: within small limits */
                value %= 0x10000;
            set_ram32((m->cpu.regs[REG_ESP] & 0x7ffff0) + 4u * i, value);
        }
        m->cpu.regs[REG_ESP] &= 0x7ffff0;
        m->cpu.eflags = EFLAGS_FIXED | (next_random(&seed) % 8 == 0 ? EFLAGS_NT : 0);

        uint32_t r = next_random(&seed);
        uint16_t selector = (uint16_t)(((r % 20) << 3) | (r >> 8 & 7));
        unsigned size = (r >> 12) % 4 == 0 ? 2 : 4;
        struct cpu before = m->cpu;
        unsigned operation = (r >> 16) % 7;
        int vector = run_operation(operation, r, selector, size);
        if (vector < 0) {
            unsigned cpl = cpu_cpl(&m->cpu);
            successes[operation]++;
            cr_assert_eq(m->cpu.segments[SEG_CS].selector & 3, cpl, "round %d: CS.RPL", round);
            cr_assert_eq(m->cpu.segments[SEG_SS].selector & 3, cpl, "round %d: SS.RPL", round);
            cr_assert_eq(SEG_ATTR_DPL(m->cpu.segments[SEG_SS].attributes), cpl,
                         "round %d: SS.DPL", round);
        } else {
            faults[operation]++;
            if (vector == EXC_PF && m->cpu.cr2 >= 0x400000)
                accessed_bit_faults++;
            cr_assert(vector == EXC_GP || vector == EXC_NP || vector == EXC_SS ||
                      vector == EXC_TS || vector == EXC_PF || vector == EXC_UD,
                      "round %d: vector %d", round, vector);
            m->cpu.cr2 = before.cr2;
            cr_assert(same_registers(&m->cpu, &before),
                      "round %d: operation %u raised %d(0x%x) but changed registers", round,
                      operation, vector, e->fault_error_code);
        }
        cr_assert_not(probes_fault(selector), "round %d: LAR/LSL/VERR/VERW faulted", round);
    }
    /* The generator must reach both outcomes of every operation. */
    for (int i = 0; i < 7; i++) {
        cr_log_info("operation %d: %d succeeded, %d faulted", i, successes[i], faults[i]);
        cr_assert_gt(successes[i], 10, "operation %d succeeded only %d times", i, successes[i]);
        cr_assert_gt(faults[i], 10, "operation %d faulted only %d times", i, faults[i]);
    }
    cr_log_info("%d page faults setting accessed bits in a read-only GDT", accessed_bit_faults);
    cr_assert_gt(accessed_bit_faults, 20);
}

Test(segment, gdt_entry_zero_is_never_used)
{
    /* Even a valid descriptor in GDT[0] is ignored: selectors 0-3 are null
     * (SDM vol. 3, 3.4.2). */
    set_descriptor(GDT, 0, 0, 0xfffff, 0x92, 0xc);
    EXPECT_FAULT(x86_load_segment(e, SEG_SS, 0), EXC_GP, 0);
    NO_FAULT(x86_load_segment(e, SEG_DS, 0));
    cr_assert(m->cpu.segments[SEG_DS].attributes & SEG_ATTR_UNUSABLE);
    EXPECT_FAULT(x86_far_jump(e, 0, 0x1000, 4), EXC_GP, 0);
    bool zf = true;
    NO_FAULT(x86_lar(e, 0, &zf));
    cr_assert_not(zf);
}
