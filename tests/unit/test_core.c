/*
 * test_core.c - the Multiboot loader, guest RAM, sizes, configuration and the
 * statistics table.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <string.h>

#include "core/boot/multiboot.h"
#include "core/config.h"
#include "core/stats.h"

static struct guest_ram ram;
static struct cpu cpu;
static char error[512];

static void make_ram(void)
{
    cr_assert_eq(guest_ram_create(&ram, 16u << 20, error, sizeof error), 0, "%s", error);
}

static void free_ram(void)
{
    guest_ram_destroy(&ram);
}

/* A minimal Multiboot ELF32: header, one PT_LOAD segment of code + bss. */
struct tiny_kernel {
    Elf32_Ehdr header;
    Elf32_Phdr segment;
    uint32_t multiboot[3];
    uint8_t code[4];
};

static struct tiny_kernel make_kernel(uint32_t load_address)
{
    struct tiny_kernel k;
    memset(&k, 0, sizeof k);
    memcpy(k.header.e_ident, ELFMAG, SELFMAG);
    k.header.e_ident[EI_CLASS] = ELFCLASS32;
    k.header.e_ident[EI_DATA] = ELFDATA2LSB;
    k.header.e_type = ET_EXEC;
    k.header.e_machine = EM_386;
    k.header.e_phoff = offsetof(struct tiny_kernel, segment);
    k.header.e_phentsize = sizeof(Elf32_Phdr);
    k.header.e_phnum = 1;
    k.header.e_entry = load_address + offsetof(struct tiny_kernel, code);
    k.segment.p_type = PT_LOAD;
    k.segment.p_offset = 0;
    k.segment.p_paddr = k.segment.p_vaddr = load_address;
    k.segment.p_filesz = sizeof k;
    k.segment.p_memsz = sizeof k + 4096;   /* a page of bss */
    k.multiboot[0] = MULTIBOOT_HEADER_MAGIC;
    k.multiboot[1] = 0x3;
    k.multiboot[2] = -(MULTIBOOT_HEADER_MAGIC + 0x3);
    k.code[0] = 0xf4;   /* hlt */
    return k;
}

static uint32_t ram_read32(uint32_t address)
{
    uint32_t value;
    memcpy(&value, ram.host + address, 4);
    return value;
}

TestSuite(loader, .init = make_ram, .fini = free_ram);

Test(loader, loads_segments_and_promises_the_multiboot_state)
{
    struct tiny_kernel k = make_kernel(0x100000);
    memset(ram.host + 0x100000 + sizeof k, 0xaa, 4096);   /* bss must be zeroed */
    struct multiboot_image image;
    cr_assert_eq(multiboot_load_buffer((uint8_t *)&k, sizeof k, "k.elf a=1", &ram, &cpu, &image,
                                       error, sizeof error), 0, "%s", error);
    cr_assert_eq(memcmp(ram.host + 0x100000, &k, sizeof k), 0);
    cr_assert_eq(ram.host[0x100000 + sizeof k + 100], 0, "bss not zeroed");
    cr_assert_eq(cpu.eip, k.header.e_entry);
    cr_assert_eq(cpu.regs[REG_EAX], MULTIBOOT_BOOTLOADER_MAGIC);
    cr_assert_eq(cpu.regs[REG_EBX], MULTIBOOT_INFO_ADDRESS);
    cr_assert(cpu.cr0 & CR0_PE);
    cr_assert_not(cpu.cr0 & CR0_PG);
    cr_assert_not(cpu.eflags & EFLAGS_IF);
    cr_assert_eq(cpu.segments[SEG_CS].base, 0);
    cr_assert_eq(cpu.segments[SEG_CS].limit, 0xffffffffu);
    cr_assert_eq(cpu.segments[SEG_DS].limit, 0xffffffffu);
    /* Multiboot information (spec 3.3). */
    uint32_t info = MULTIBOOT_INFO_ADDRESS;
    cr_assert_eq(ram_read32(info) & 0x45, 0x45, "mem, cmdline and mmap flags");
    cr_assert_eq(ram_read32(info + 4), 639);
    cr_assert_eq(ram_read32(info + 8), (16u << 10) - 1024);
    cr_assert_str_eq((char *)ram.host + ram_read32(info + 16), "k.elf a=1");
    cr_assert_eq(ram_read32(info + 44), 4 * 24, "four memory map entries");
}

Test(loader, rejects_bad_images)
{
    struct multiboot_image image;
    struct tiny_kernel k = make_kernel(0x100000);
    k.multiboot[2] = 0;   /* bad checksum */
    cr_assert_eq(multiboot_load_buffer((uint8_t *)&k, sizeof k, "", &ram, &cpu, &image, error,
                                       sizeof error), -1);
    cr_assert(strstr(error, "no Multiboot header"), "%s", error);

    k = make_kernel(0x2000000);   /* 32 MiB: beyond 16 MiB of RAM */
    cr_assert_eq(multiboot_load_buffer((uint8_t *)&k, sizeof k, "", &ram, &cpu, &image, error,
                                       sizeof error), -1);
    cr_assert(strstr(error, "beyond guest RAM"), "%s", error);

    k = make_kernel(0xB0000);     /* inside the VGA/BIOS hole */
    cr_assert_eq(multiboot_load_buffer((uint8_t *)&k, sizeof k, "", &ram, &cpu, &image, error,
                                       sizeof error), -1);

    k = make_kernel(0x100000);
    k.segment.p_filesz = 1u << 20;   /* data beyond the end of the file */
    cr_assert_eq(multiboot_load_buffer((uint8_t *)&k, sizeof k, "", &ram, &cpu, &image, error,
                                       sizeof error), -1);
    cr_assert(strstr(error, "beyond the end of the file"), "%s", error);

    k = make_kernel(0x100000);
    k.header.e_ident[EI_CLASS] = ELFCLASS64;
    cr_assert_eq(multiboot_load_buffer((uint8_t *)&k, sizeof k, "", &ram, &cpu, &image, error,
                                       sizeof error), -1);
    cr_assert(strstr(error, "ELF64"), "%s", error);

    k = make_kernel(0x100000);
    k.header.e_phnum = 1000;      /* program headers beyond the file */
    cr_assert_eq(multiboot_load_buffer((uint8_t *)&k, sizeof k, "", &ram, &cpu, &image, error,
                                       sizeof error), -1);

    k = make_kernel(0x100000);
    k.multiboot[1] = 0x10003;     /* flag 16: the a.out kludge wins over ELF, as in QEMU... */
    k.multiboot[2] = -(MULTIBOOT_HEADER_MAGIC + 0x10003);
    cr_assert_eq(multiboot_load_buffer((uint8_t *)&k, sizeof k, "", &ram, &cpu, &image, error,
                                       sizeof error), -1);
    cr_assert(strstr(error, "a.out kludge"), "%s", error);   /* ...and needs its address fields */
    k.multiboot[1] = 0x8;         /* ... but an unknown requirement bit is refused */
    k.multiboot[2] = -(MULTIBOOT_HEADER_MAGIC + 0x8);
    cr_assert_eq(multiboot_load_buffer((uint8_t *)&k, sizeof k, "", &ram, &cpu, &image, error,
                                       sizeof error), -1);
}

Test(memory, parse_size)
{
    cr_assert_eq(parse_size("64M"), 64ll << 20);
    cr_assert_eq(parse_size("1G"), 1ll << 30);
    cr_assert_eq(parse_size("65536K"), 64ll << 20);
    cr_assert_eq(parse_size("4096"), 4096);
    cr_assert_eq(parse_size("64MiB"), 64ll << 20);
    cr_assert_eq(parse_size("lots"), -1);
    cr_assert_eq(parse_size("-1M"), -1);
    cr_assert_eq(parse_size("12Q"), -1);
    cr_assert_eq(parse_size("99999999999999999999999"), -1);
}

Test(memory, ram_bounds)
{
    struct guest_ram r;
    cr_assert_eq(guest_ram_create(&r, 1u << 20, error, sizeof error), -1, "1 MiB is too small");
    cr_assert_eq(guest_ram_create(&r, 8u << 20, error, sizeof error), 0, "%s", error);
    cr_assert_not_null(guest_ram_pointer(&r, 0));
    cr_assert_null(guest_ram_pointer(&r, 0xA0000), "the VGA hole is not RAM");
    cr_assert_null(guest_ram_pointer(&r, 8u << 20), "beyond the end");
    cr_assert(guest_ram_contains(&r, 0x100000, 4096));
    cr_assert_not(guest_ram_contains(&r, (8u << 20) - 2, 4));
    guest_ram_destroy(&r);
}

Test(config, flags_win_over_json)
{
    struct run_options options;
    char *argv[] = {"run", "--technique", "interp", "--mem", "128M", "g.elf", "--", "a=1", "b=2", NULL};
    cr_assert_eq(config_parse_run(9, argv, &options, error, sizeof error), 0, "%s", error);
    cr_assert_eq(options.vm.memory_bytes, 128ull << 20);
    cr_assert_str_eq(options.vm.guest_command_line, "g.elf a=1 b=2");
    cr_assert_eq(config_apply_json(&options, "{\"mem\": \"32M\", \"timeout\": 2.5}", "t.json", error,
                                   sizeof error), 0, "%s", error);
    cr_assert_eq(options.vm.memory_bytes, 32ull << 20);
    cr_assert_float_eq(options.vm.timeout_seconds, 2.5, 1e-9);
    config_free(&options);
}

Test(config, malformed_json_reports_line_and_column)
{
    struct run_options options;
    memset(&options, 0, sizeof options);
    cr_assert_eq(config_apply_json(&options, "{\n  \"mem\": \"64M\"\n  \"disk\": 1\n}", "vm.json",
                                   error, sizeof error), -1);
    cr_assert_str_eq(error, "vm.json:3:3: malformed JSON");
    cr_assert_eq(config_apply_json(&options, "{\"timeout\": \"soon\"}", "vm.json", error,
                                   sizeof error), -1);
    cr_assert(strstr(error, "\"timeout\" must be a number"), "%s", error);
    config_free(&options);
}

Test(stats, counters_and_ring)
{
    static struct stats stats;
    stats_init(&stats, 1000);
    struct stats_counter *out = stats_counter(&stats, "io", "port-0x3f8");
    cr_assert_eq(stats_counter(&stats, "io", "port-0x3f8"), out, "the same row twice");
    stats_log(&stats, out, 50, 2000, 0x101000, "out al");
    stats_log(&stats, out, 150, 3000, 0x101004, NULL);
    cr_assert_eq(out->count, 2);
    cr_assert_eq(out->total_ns, 200);
    cr_assert_eq(out->max_ns, 150);
    cr_assert_eq(stats.ring[0].time_ns, 1000);
    cr_assert_eq(stats.ring[1].eip, 0x101004);
    cr_assert_str_eq(stats.ring[0].detail, "out al");
    /* A full table keeps counting in the overflow row. */
    char reason[32];
    for (int i = 0; i < STATS_MAX_COUNTERS + 10; i++) {
        snprintf(reason, sizeof reason, "r%d", i);
        stats_count(stats_counter(&stats, "many", reason), 1);
    }
    cr_assert_eq(stats.counter_count, STATS_MAX_COUNTERS);
    struct stats_counter *overflow = &stats.counters[STATS_MAX_COUNTERS - 1];
    cr_assert_str_eq(overflow->category, "stats");
    cr_assert_eq(overflow->count, 12);
}
