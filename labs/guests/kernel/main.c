/*
 * main.c - the kernel's entry from entry.S: set up the machine, then run
 * what the command line asks for and report the result.
 *
 *   test=NAME            a scenario (scenarios.c, sensitive.c)
 *   bench=NAME iters=N   a microbenchmark (bench.c)
 *   (nothing)            the interactive shell (shell.c)
 */
#include "kernel.h"
#include "arch.h"
#include "trapnum.h"

extern char kernel_end[];

void kernel_exit(int status)
{
    kprintf("exit %d\n", status);
    arch_exit(status);
}

void panic(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    kprintf("panic: ");
    kvprintf(fmt, args);
    kprintf("\n");
    va_end(args);
    kernel_exit(EXIT_PANIC);
}

/* The value of "key=value" on the command line, or NULL. The returned
 * string ends at the next space. */
const char *cmdline_value(const char *key)
{
    size_t key_len = strlen(key);
    const char *s = boot.cmdline;
    while (*s) {
        while (*s == ' ')
            s++;
        if (strncmp(s, key, key_len) == 0 && s[key_len] == '=')
            return s + key_len + 1;
        while (*s && *s != ' ')
            s++;
    }
    return NULL;
}

/* Copy one command-line word (up to a space) into a buffer. */
static void word_copy(char *dst, size_t size, const char *src)
{
    size_t n = 0;
    while (src[n] && src[n] != ' ' && n + 1 < size) {
        dst[n] = src[n];
        n++;
    }
    dst[n] = '\0';
}

static void machine_init(uint32_t magic, uint32_t info)
{
    arch_init();                     /* under -DPV: PV_INIT, before anything prints */
    console_init();                  /* first, so a panic can be seen */
    multiboot_read(magic, info);
    gdt_init();
    idt_init();
    pic_init();
    const char *apic = cmdline_value("apic");
    if (apic && apic[0] == '1') {
        apic_init();                 /* 8259s masked; tick and console via the APICs */
    } else {
        pic_unmask(IRQ_UART);        /* console input */
        pit_init();
    }
    uart_enable_receive_interrupt();
    kalloc_init((uint32_t)kernel_end, boot.ram_end);
    vm_init(boot.ram_end);
}

void kernel_main(uint32_t magic, uint32_t info)
{
    machine_init(magic, info);
    /* Not the command line itself: QEMU and vmlab put the kernel's file
     * name in front of it, which differs between runs, and transcripts
     * must not differ. */
    kprintf("vmlab teaching kernel\n");

    char name[32];
    const char *value;
    int status;
    if ((value = cmdline_value("test"))) {
        word_copy(name, sizeof(name), value);
        status = scenario_run(name);
    } else if ((value = cmdline_value("bench"))) {
        word_copy(name, sizeof(name), value);
        const char *iters = cmdline_value("iters");
        status = bench_run(name, iters ? parse_uint(iters, NULL) : 1000);
    } else {
        status = shell_run();
    }
    kernel_exit(status);
}
