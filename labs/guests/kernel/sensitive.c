/*
 * sensitive.c - the sensitive scenario: x86 instructions that read or
 * change privileged state but do not fault outside ring 0 (Robin and
 * Irvine, "Analysis of the Intel Pentium's ability to support a secure
 * virtual machine monitor", 2000; Popek and Goldberg's theorem fails).
 *
 * The kernel runs each at ring 0 and compares what it saw with what it
 * knows bare hardware would show, since it set that state up itself. On a
 * real CPU, QEMU, or any monitor that interprets, translates or uses
 * VT-x, every line reads "as hardware". Under plain trap-and-emulate the
 * kernel really runs in ring 3, these instructions do not trap, and they
 * show the host's state instead: that is the lesson.
 *
 * This is the one file that uses these instructions directly rather than
 * through arch.h: using them is the point.
 */
#include "kernel.h"

#ifdef PV
/* The pv kernel is built without them: the test that disassembles
 * kernel-pv.elf checks that not one is left. Paravirtualization's answer
 * to Popek and Goldberg is to remove them from the guest. */
int scenario_sensitive(void)
{
    kprintf("sensitive: the pv kernel has no sensitive instruction left to run\n");
    return EXIT_OK;
}
#else

static int differences, lines;

static void report(const char *instruction, const char *seen, const char *hardware)
{
    bool same = strcmp(seen, hardware) == 0;
    kprintf("sensitive: %-6s saw %-24s hardware %-24s %s\n", instruction, seen, hardware,
            same ? "as hardware" : "DIFFERS");
    differences += !same;
    lines++;
}

static void report_value(const char *instruction, const char *fmt, uint32_t seen, uint32_t hardware)
{
    char a[32], b[32];
    format_string(a, sizeof(a), fmt, seen);
    format_string(b, sizeof(b), fmt, hardware);
    report(instruction, a, b);
}

/* pushf with interrupts on: IF must read 1 (SDM vol. 2, PUSHF). */
static void pushf_sees_if(void)
{
    uint32_t flags;
    asm volatile("sti; pushfl; popl %0; cli" : "=r"(flags) : : "memory");
    report_value("pushf", "IF=%u", (flags >> 9) & 1, 1);
}

/* popf of a value with IF = 0 at ring 0 clears IF; at ring 3 with IOPL 0
 * it leaves IF alone without a fault (SDM vol. 2, POPF, "Operation"). */
static void popf_clears_if(void)
{
    uint32_t flags;
    asm volatile("sti\n\t"
                 "pushfl\n\t"
                 "andl $0xfffffdff, (%%esp)\n\t"
                 "popfl\n\t"
                 "pushfl\n\t"
                 "popl %0\n\t"
                 "cli"
                 : "=r"(flags) : : "memory", "cc");
    report_value("popf", "IF=%u", (flags >> 9) & 1, 0);
}

/* The RPL of CS is the current privilege level (SDM vol. 3, 5.5). */
static void push_cs_shows_cpl(void)
{
    uint32_t cs;
    asm volatile("pushl %%cs; popl %0" : "=r"(cs));
    report_value("push", "cs=0x%02x", cs & 0xffff, SEL_KERNEL_CODE);
}

static void mov_from_ss(void)
{
    uint32_t ss;
    asm volatile("movl %%ss, %0" : "=r"(ss));
    report_value("mov", "ss=0x%02x", ss & 0xffff, SEL_KERNEL_DATA);
}

/* smsw reads CR0's low 16 bits without CPL check (unless CR4.UMIP). */
static void smsw_reads_cr0(void)
{
    uint16_t msw;
    asm volatile("smsw %0" : "=r"(msw));
    report_value("smsw", "0x%04x", msw, KERNEL_CR0 & 0xffff);
}

/* A table register as "NAME+LIMIT" when its base is the kernel's own
 * table (addresses move whenever the kernel changes; names do not). */
static void describe_table(char *out, size_t size, uint32_t base, uint16_t limit,
                           const void *table, const char *name)
{
    if (base == (uint32_t)table)
        format_string(out, size, "%s+0x%x", name, limit);
    else
        format_string(out, size, "0x%08x+0x%x", base, limit);
}

/* sgdt and sidt read GDTR and IDTR at any privilege level (SDM vol. 2,
 * SGDT: no CPL check, unless CR4.UMIP). */
static void sgdt_sidt(void)
{
    struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gdtr, idtr;
    asm volatile("sgdt %0" : "=m"(gdtr));
    asm volatile("sidt %0" : "=m"(idtr));
    char seen[32], hardware[32];
    describe_table(seen, sizeof(seen), gdtr.base, gdtr.limit, gdt, "gdt");
    describe_table(hardware, sizeof(hardware), (uint32_t)gdt, gdt_limit, gdt, "gdt");
    report("sgdt", seen, hardware);
    describe_table(seen, sizeof(seen), idtr.base, idtr.limit, idt, "idt");
    describe_table(hardware, sizeof(hardware), (uint32_t)idt, idt_limit, idt, "idt");
    report("sidt", seen, hardware);
}

static void str_reads_tr(void)
{
    uint32_t tr = 0;
    asm volatile("str %0" : "=r"(tr));
    report_value("str", "tr=0x%02x", tr & 0xffff, SEL_TSS);
}

/* lar: the access rights of a descriptor, masked to 0x00f0ff00 (SDM vol.
 * 2, LAR); ZF says whether the selector was visible at this CPL. */
static void lar_kernel_code(void)
{
    uint32_t rights = 0;
    uint8_t valid;
    asm volatile("larl %2, %0; setz %1" : "+r"(rights), "=q"(valid) : "r"((uint32_t)SEL_KERNEL_CODE) : "cc");
    char seen[32], hardware[32];
    format_string(seen, sizeof(seen), valid ? "0x%08x" : "invalid", rights & 0x00f0ff00);
    format_string(hardware, sizeof(hardware), "0x%08x", (uint32_t)(gdt[1] >> 32) & 0x00f0ff00);
    report("lar", seen, hardware);
}

static void lsl_kernel_data(void)
{
    uint32_t limit = 0;
    uint8_t valid;
    asm volatile("lsll %2, %0; setz %1" : "+r"(limit), "=q"(valid) : "r"((uint32_t)SEL_KERNEL_DATA) : "cc");
    char seen[32];
    format_string(seen, sizeof(seen), valid ? "0x%08x" : "invalid", limit);
    report("lsl", seen, "0xffffffff");
}

static void verr_kernel_code(void)
{
    uint8_t readable;
    asm volatile("verr %w1; setz %0" : "=q"(readable) : "r"((uint32_t)SEL_KERNEL_CODE) : "cc");
    report("verr", readable ? "readable" : "not readable", "readable");
}

int scenario_sensitive(void)
{
    differences = lines = 0;
    pushf_sees_if();
    popf_clears_if();
    push_cs_shows_cpl();
    mov_from_ss();
    smsw_reads_cr0();
    sgdt_sidt();
    str_reads_tr();
    lar_kernel_code();
    lsl_kernel_data();
    verr_kernel_code();
    if (differences) {
        kprintf("sensitive: %d of %d instructions showed something bare hardware would not\n",
                differences, lines);
        return EXIT_FAILED;
    }
    kprintf("sensitive: all %d instructions behave as on bare hardware\n", lines);
    return EXIT_OK;
}
#endif /* PV */
