/*
 * exceptions - the processor exceptions a kernel meets first (Intel SDM
 * vol. 3, 6.15 "Exception and interrupt reference"), each raised on purpose
 * and caught: vector, error code, and where EIP pointed relative to the
 * faulting instruction (a fault points at it, a trap after it).
 */
#include "guest.h"

/* Labels on the instructions that raise the exceptions (asm below). */
extern char at_de[], at_ud[], at_bp[], at_of[], at_br[], at_gp_limit[], at_gp_system[],
    at_gp_null_ss[], at_np[], at_ss[], at_df_de[], at_df_pf[], at_gp_es_limit[],
    at_gp_es_readonly[], at_ss_limit[];

#define SEL_NOT_PRESENT_DATA ((GDT_FREE + 1) << 3)
#define SEL_NOT_PRESENT_STACK ((GDT_FREE + 2) << 3)
#define SEL_SMALL_DATA ((GDT_FREE + 3) << 3)      /* base 0, limit 0xfff bytes */
#define SEL_READ_ONLY ((GDT_FREE + 4) << 3)       /* flat, read-only data */
#define SEL_SHORT_STACK ((GDT_FREE + 5) << 3)     /* base 0, limit 2 MiB - 1 */

/* Run setup, arm the library's trap catch (lib/trap.c), run insn at
 * label; the catch resumes at local label 1 with the registers of the
 * moment of the exception. */
#define RAISE(label, setup, insn, ...)                                             \
    asm volatile(setup "\n\tmovl $1f, trap_resume_eip\n" #label ":\n\t" insn       \
                 "\n1:\n\tmovl $0, trap_resume_eip" : : __VA_ARGS__ : "memory", "cc")

static const int32_t bounds[2] = { 10, 20 };

static void report(const char *name, const char *label, char *at, uint32_t vector,
                   uint32_t error, int eip_offset, bool eip_defined)
{
    static int seen;
    bool trapped = last_trap.count > seen;
    seen = last_trap.count;
    if (!trapped) {
        printf("%s: no exception\n", name);
        CHECK(false, "%s was not raised", name);
        return;
    }
    int offset = (int)(last_trap.eip - (uint32_t)at);
    if (eip_defined)
        printf("%s: vector %u error %x eip %s%c%d\n", name, last_trap.vector,
               last_trap.error, label, offset < 0 ? '-' : '+', offset < 0 ? -offset : offset);
    else
        printf("%s: vector %u error %x (saved eip undefined: SDM 6.15, interrupt 8)\n",
               name, last_trap.vector, last_trap.error);
    CHECK(last_trap.vector == vector && last_trap.error == error &&
          (!eip_defined || offset == eip_offset),
          "%s: want vector %u error %x eip %s+%d", name, vector, error, label, eip_offset);
}

/* Faults point EIP at the faulting instruction (offset 0); the traps int3
 * and into point after it (SDM 6.5). */
static void simple_exceptions(void)
{
    RAISE(at_de, "", "divl %%ecx", "a"(1), "d"(0), "c"(0));
    report("#DE divide by zero", "div", at_de, 0, 0, 0, true);

    RAISE(at_ud, "", "ud2", "i"(0));
    report("#UD ud2", "ud2", at_ud, 6, 0, 0, true);

    RAISE(at_bp, "", "int3", "i"(0));
    report("#BP int3", "int3", at_bp, 3, 0, 1, true);

    /* INTO raises #OF only if OF = 1, so overflow first: 0x7fffffff + 1. */
    RAISE(at_of, "addl $1, %%eax", "into", "a"(0x7fffffff));
    report("#OF into", "into", at_of, 4, 0, 1, true);

    /* BOUND: #BR if the index is outside [lower, upper] (SDM BOUND). */
    RAISE(at_br, "", "boundl %%eax, %0", "m"(bounds), "a"(21));
    report("#BR bound", "bound", at_br, 5, 0, 0, true);
}

/* Segment loads: the error code is the selector with its RPL bits
 * replaced by EXT and IDT (= 0 here), SDM 6.13. */
static void segment_exceptions(void)
{
    RAISE(at_gp_limit, "", "movw %%ax, %%ds", "a"(0x1000));
    report("#GP selector beyond the GDT limit", "mov-ds", at_gp_limit, 13, 0x1000, 0, true);

    RAISE(at_gp_system, "", "movw %%ax, %%ds", "a"(SEL_TSS));
    report("#GP TSS selector into DS", "mov-ds", at_gp_system, 13, SEL_TSS, 0, true);

    RAISE(at_gp_null_ss, "", "movw %%ax, %%ss", "a"(0));
    report("#GP null selector into SS", "mov-ss", at_gp_null_ss, 13, 0, 0, true);

    RAISE(at_np, "", "movw %%ax, %%ds", "a"(SEL_NOT_PRESENT_DATA));
    report("#NP not-present segment into DS", "mov-ds", at_np, 11, SEL_NOT_PRESENT_DATA, 0, true);

    RAISE(at_ss, "", "movw %%ax, %%ss", "a"(SEL_NOT_PRESENT_STACK));
    report("#SS not-present segment into SS", "mov-ss", at_ss, 12, SEL_NOT_PRESENT_STACK, 0, true);
}

/*
 * Limit and type checks on every access (SDM 5.3 "Limit checking", 5.5
 * "Type checking"): beyond the limit or a write to a read-only segment is a
 * #GP(0), or a #SS(0) when the segment is SS (an EBP-based address uses SS).
 * The segment is loaded fine; the access faults.
 *
 * QEMU's TCG does not check segment limits or types on data accesses (for
 * speed), so these run only with limits=1 on the command line: under vmlab
 * or on hardware, not as part of the transcript compared with QEMU.
 */
static void limit_exceptions(void)
{
    RAISE(at_gp_es_limit, "movw %%ax, %%es", "movl %%es:0x1000, %%eax",
          "a"(SEL_SMALL_DATA));
    asm volatile("movw %w0, %%es" : : "r"(SEL_KDATA));
    report("#GP read beyond the ES limit", "mov", at_gp_es_limit, 13, 0, 0, true);

    RAISE(at_gp_es_readonly, "movw %%ax, %%es", "movl %%eax, %%es:0x1000",
          "a"(SEL_READ_ONLY));
    asm volatile("movw %w0, %%es" : : "r"(SEL_KDATA));
    report("#GP write to a read-only ES", "mov", at_gp_es_readonly, 13, 0, 0, true);

    /* The stack itself stays inside the short limit, so the CPU can still
     * push the exception frame; only the EBP-based access is outside. */
    RAISE(at_ss_limit, "pushl %%ebp\n\tmovl $0x00300000, %%ebp\n\tmovw %%ax, %%ss",
          "movl (%%ebp), %%eax", "a"(SEL_SHORT_STACK));
    asm volatile("popl %%ebp\n\tmovw %w0, %%ss" : : "r"(SEL_KDATA));
    report("#SS read beyond the SS limit", "mov", at_ss_limit, 12, 0, 0, true);
}

/*
 * #DF (SDM 6.15, interrupt 8, table 6-5): a contributory exception while
 * delivering a contributory exception or a page fault. Here the second
 * exception is the #NP raised because the first one's IDT gate is not
 * present. The #DF error code is always 0.
 */
static void double_faults(void)
{
    idt_set_present(0, false);
    RAISE(at_df_de, "", "divl %%ecx", "a"(1), "d"(0), "c"(0));
    idt_set_present(0, true);
    report("#DF from #DE with its gate not present", "div", at_df_de, 8, 0, 0, false);

    paging_identity_map(8);             /* page 0 stays unmapped */
    paging_enable();
    idt_set_present(14, false);
    RAISE(at_df_pf, "", "movl (%%eax), %%eax", "a"(0));
    idt_set_present(14, true);
    paging_disable();
    report("#DF from #PF with its gate not present", "load", at_df_pf, 8, 0, 0, false);
}

int guest_main(void)
{
    gdt_init();
    idt_init();
    /* Two data segments marked not present (access byte 0x12: P = 0,
     * S = 1, read/write data), SDM 3.4.5. */
    gdt_set_segment(GDT_FREE + 1, 0, 0xfffff, 0x12, 0xc);
    gdt_set_segment(GDT_FREE + 2, 0, 0xfffff, 0x12, 0xc);
    gdt_set_segment(GDT_FREE + 3, 0, 0xfff, 0x92, 0x4);     /* byte granular */
    gdt_set_segment(GDT_FREE + 4, 0, 0xfffff, 0x90, 0xc);   /* type 0: read-only */
    gdt_set_segment(GDT_FREE + 5, 0, 0x1ff, 0x92, 0xc);     /* 0x200 pages of 4 KiB */
    printf("exceptions: raising each on purpose\n");
    simple_exceptions();
    segment_exceptions();
    if (cmdline_uint("limits", 0))
        limit_exceptions();
    double_faults();
    printf("exceptions: %d caught; %s\n", last_trap.count,
           checks_failed ? "FAILED" : "all checks passed");
    return checks_failed ? 1 : 0;
}
