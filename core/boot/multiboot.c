/*
 * multiboot.c - load a Multiboot v1 kernel (Multiboot spec 0.6.96): an ELF32
 * image by its program headers, or any image by the header's a.out-kludge
 * addresses (flag bit 16).
 */
#include "multiboot.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Multiboot info flags (spec 3.3). */
#define INFO_MEMORY      (1u << 0)
#define INFO_CMDLINE     (1u << 2)
#define INFO_MEMORY_MAP  (1u << 6)
#define INFO_LOADER_NAME (1u << 9)

/* Layout of our information area inside [MULTIBOOT_INFO_ADDRESS, END). */
#define INFO_STRUCT_SIZE  120u
#define MEMORY_MAP_OFFSET 0x100u
#define LOADER_NAME_OFFSET 0x200u
#define CMDLINE_OFFSET    0x400u
#define CMDLINE_MAX       (MULTIBOOT_INFO_END - MULTIBOOT_INFO_ADDRESS - CMDLINE_OFFSET)

/* Header flag bits 0-15 are requirements the loader must meet or refuse the
 * kernel (spec 3.1.2). We meet bit 0 (page-align modules: there are none),
 * bit 1 (memory information) and bit 2 (video mode: we have no framebuffer,
 * which the spec allows us to say by not setting the info's video flag). */
#define HEADER_REQUIREMENTS_WE_MEET 0x0007u

static int fail(char *error, size_t error_len, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(error, error_len, format, args);
    va_end(args);
    return -1;
}

static uint32_t read32(const uint8_t *p)
{
    uint32_t value;
    memcpy(&value, p, 4);
    return value;
}

static void write32(struct guest_ram *ram, uint32_t address, uint32_t value)
{
    memcpy(ram->host + address, &value, 4);
}

/* Spec 3.1.1: the header is 32-bit aligned within the first 8192 bytes and
 * magic + flags + checksum is zero modulo 2^32. */
static int find_header(const uint8_t *file, size_t size, uint32_t *flags, size_t *at)
{
    size_t limit = size < MULTIBOOT_SEARCH_BYTES ? size : MULTIBOOT_SEARCH_BYTES;
    for (size_t offset = 0; offset + 12 <= limit; offset += 4) {
        if (read32(file + offset) != MULTIBOOT_HEADER_MAGIC)
            continue;
        uint32_t header_flags = read32(file + offset + 4);
        if (MULTIBOOT_HEADER_MAGIC + header_flags + read32(file + offset + 8) == 0) {
            *flags = header_flags;
            *at = offset;
            return 0;
        }
    }
    return -1;
}

static int check_elf_header(const uint8_t *file, size_t size, char *error, size_t error_len)
{
    if (size < EI_NIDENT || memcmp(file, ELFMAG, SELFMAG) != 0)
        return fail(error, error_len, "not an ELF file (vmlab boots Multiboot ELF32 kernels)");
    if (file[EI_CLASS] == ELFCLASS64)
        return fail(error, error_len,
                    "an ELF64 image: vmlab boots 32-bit (ELF32, i386) Multiboot kernels");
    if (file[EI_CLASS] != ELFCLASS32 || file[EI_DATA] != ELFDATA2LSB || size < sizeof(Elf32_Ehdr))
        return fail(error, error_len, "not a little-endian ELF32 file");
    const Elf32_Ehdr *header = (const Elf32_Ehdr *)file;
    if (header->e_machine != EM_386)
        return fail(error, error_len, "ELF machine %u is not i386", header->e_machine);
    if (header->e_type != ET_EXEC)
        return fail(error, error_len, "not an executable ELF (type %u)", header->e_type);
    if (header->e_phentsize != sizeof(Elf32_Phdr) || header->e_phnum == 0 ||
        (uint64_t)header->e_phoff + (uint64_t)header->e_phnum * sizeof(Elf32_Phdr) > size)
        return fail(error, error_len, "malformed ELF: program headers outside the file");
    return 0;
}

/* [start, start + size) must lie in RAM, outside the legacy hole and the
 * boot information area. */
static int check_range(uint32_t start, uint32_t size, const struct guest_ram *ram, char *error,
                       size_t error_len)
{
    uint64_t end = (uint64_t)start + size;
    if (end > ram->size || !guest_ram_contains(ram, start, size))
        return fail(error, error_len,
                    "segment at 0x%08x-0x%08llx is beyond guest RAM (%u MiB) or in the "
                    "0xA0000-0xFFFFF hole",
                    start, (unsigned long long)end, ram->size >> 20);
    if (start < MULTIBOOT_INFO_END && end > MULTIBOOT_INFO_ADDRESS)
        return fail(error, error_len,
                    "segment at 0x%08x overlaps the boot information at 0x%x-0x%x", start,
                    MULTIBOOT_INFO_ADDRESS, MULTIBOOT_INFO_END);
    return 0;
}

/* A segment must fit in RAM, outside the legacy hole and the info area. */
static int check_segment(const Elf32_Phdr *segment, size_t file_size, const struct guest_ram *ram,
                         char *error, size_t error_len)
{
    if ((uint64_t)segment->p_offset + segment->p_filesz > file_size)
        return fail(error, error_len, "malformed ELF: segment data beyond the end of the file");
    if (segment->p_filesz > segment->p_memsz)
        return fail(error, error_len, "malformed ELF: segment file size exceeds its memory size");
    return check_range(segment->p_paddr, segment->p_memsz, ram, error, error_len);
}

static int load_segments(const uint8_t *file, size_t size, struct guest_ram *ram,
                         struct multiboot_image *image, char *error, size_t error_len)
{
    const Elf32_Ehdr *header = (const Elf32_Ehdr *)file;
    const Elf32_Phdr *segments = (const Elf32_Phdr *)(file + header->e_phoff);
    bool loaded_any = false;
    image->lowest_address = UINT32_MAX;
    image->highest_address = 0;
    for (unsigned i = 0; i < header->e_phnum; i++) {
        const Elf32_Phdr *segment = &segments[i];
        if (segment->p_type != PT_LOAD || segment->p_memsz == 0)
            continue;
        if (check_segment(segment, size, ram, error, error_len) < 0)
            return -1;
        /* Multiboot loads to physical addresses: p_paddr, not p_vaddr. */
        memcpy(ram->host + segment->p_paddr, file + segment->p_offset, segment->p_filesz);
        memset(ram->host + segment->p_paddr + segment->p_filesz, 0,
               segment->p_memsz - segment->p_filesz);
        if (segment->p_paddr < image->lowest_address)
            image->lowest_address = segment->p_paddr;
        if (segment->p_paddr + segment->p_memsz > image->highest_address)
            image->highest_address = segment->p_paddr + segment->p_memsz;
        loaded_any = true;
    }
    if (!loaded_any)
        return fail(error, error_len, "the ELF file has no loadable segment");
    image->entry = header->e_entry;
    if (!guest_ram_contains(ram, image->entry, 1))
        return fail(error, error_len, "entry point 0x%08x is outside guest RAM", image->entry);
    return 0;
}

/*
 * The "a.out kludge" (spec 3.1.3): header flag bit 16 says the header
 * itself gives the load addresses, for images the loader need not
 * understand (a flat binary, an a.out). GRUB and QEMU then ignore any ELF
 * headers, and so do we. The fields follow magic, flags and checksum:
 *
 *   header_addr    the physical address the header's magic is loaded to:
 *                  ties file offsets to addresses (offset of the header
 *                  in the file  <->  header_addr)
 *   load_addr      where loading starts (file offset: header offset -
 *                  (header_addr - load_addr))
 *   load_end_addr  where the loaded data ends; 0: the end of the file
 *   bss_end_addr   zero-filled up to here; 0: no bss
 *   entry_addr     where the kernel starts
 */
struct aout_kludge {
    uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

static int load_aout_kludge(const uint8_t *file, size_t size, size_t header_at,
                            struct guest_ram *ram, struct multiboot_image *image, char *error,
                            size_t error_len)
{
    if (header_at + 32 > size)
        return fail(error, error_len, "Multiboot header flag 16 (a.out kludge) is set but the "
                    "address fields are beyond the end of the file");
    struct aout_kludge k = {read32(file + header_at + 12), read32(file + header_at + 16),
                            read32(file + header_at + 20), read32(file + header_at + 24),
                            read32(file + header_at + 28)};
    if (k.load_addr > k.header_addr || k.header_addr - k.load_addr > header_at)
        return fail(error, error_len, "a.out kludge: load_addr 0x%08x is above header_addr "
                    "0x%08x or before the start of the file (header at file offset %zu)",
                    k.load_addr, k.header_addr, header_at);
    size_t load_offset = header_at - (k.header_addr - k.load_addr);
    uint64_t load_end = k.load_end_addr ? k.load_end_addr
                                        : (uint64_t)k.load_addr + (size - load_offset);
    if (load_end < k.load_addr || load_offset + (load_end - k.load_addr) > size)
        return fail(error, error_len, "a.out kludge: load_end_addr 0x%08x is before load_addr "
                    "0x%08x or beyond the end of the file", k.load_end_addr, k.load_addr);
    uint64_t bss_end = k.bss_end_addr ? k.bss_end_addr : load_end;
    if (bss_end < load_end)
        return fail(error, error_len, "a.out kludge: bss_end_addr 0x%08x is before the end of "
                    "the loaded data 0x%08llx", k.bss_end_addr, (unsigned long long)load_end);
    if (bss_end - k.load_addr > UINT32_MAX)
        return fail(error, error_len, "a.out kludge: the image spans more than 4 GiB");
    if (check_range(k.load_addr, (uint32_t)(bss_end - k.load_addr), ram, error, error_len) < 0)
        return -1;
    memcpy(ram->host + k.load_addr, file + load_offset, (size_t)(load_end - k.load_addr));
    memset(ram->host + load_end, 0, (size_t)(bss_end - load_end));
    image->lowest_address = k.load_addr;
    image->highest_address = (uint32_t)bss_end;
    image->entry = k.entry_addr;
    if (!guest_ram_contains(ram, image->entry, 1))
        return fail(error, error_len, "entry point 0x%08x is outside guest RAM", image->entry);
    return 0;
}

/* Bits 0-15 are requirements (refused if unmet), bit 16 chooses the
 * loader; the other bits are optional and may be ignored (spec 3.1.2). */
#define HEADER_AOUT_KLUDGE (1u << 16)

static int load_image(const uint8_t *file, size_t file_size, struct guest_ram *ram,
                      struct multiboot_image *image, char *error, size_t error_len)
{
    uint32_t flags = 0;
    size_t header_at = 0;
    bool has_header = find_header(file, file_size, &flags, &header_at) == 0;
    if (!(has_header && (flags & HEADER_AOUT_KLUDGE)) &&
        check_elf_header(file, file_size, error, error_len) < 0)
        return -1;
    if (!has_header)
        return fail(error, error_len, "no Multiboot header in the first %d bytes",
                    MULTIBOOT_SEARCH_BYTES);
    if ((flags & 0xffffu) & ~HEADER_REQUIREMENTS_WE_MEET)
        return fail(error, error_len, "the Multiboot header requires features 0x%04x that vmlab "
                    "does not provide", (flags & 0xffffu) & ~HEADER_REQUIREMENTS_WE_MEET);
    if (flags & HEADER_AOUT_KLUDGE)
        return load_aout_kludge(file, file_size, header_at, ram, image, error, error_len);
    return load_segments(file, file_size, ram, image, error, error_len);
}

/* The BIOS-style memory map (spec 3.3, "mmap_*"): conventional memory, the
 * reserved EBDA/VGA/BIOS area, then RAM from 1 MiB up. */
static uint32_t write_memory_map(struct guest_ram *ram, uint32_t at)
{
    static const struct { uint64_t base, length; uint32_t type; } fixed[] = {
        {0x00000, 0x9FC00, 1},
        {0x9FC00, 0x00400, 2},
        {0xF0000, 0x10000, 2},
    };
    uint32_t cursor = at;
    for (unsigned i = 0; i < 4; i++) {
        uint64_t base = i < 3 ? fixed[i].base : 0x100000;
        uint64_t length = i < 3 ? fixed[i].length : ram->size - 0x100000u;
        uint32_t type = i < 3 ? fixed[i].type : 1;
        write32(ram, cursor, 20);      /* size of the entry, not counting this field */
        memcpy(ram->host + cursor + 4, &base, 8);
        memcpy(ram->host + cursor + 12, &length, 8);
        write32(ram, cursor + 20, type);
        cursor += 24;
    }
    return cursor - at;
}

static int write_info(struct guest_ram *ram, const char *command_line, char *error,
                      size_t error_len)
{
    size_t command_length = strlen(command_line);
    if (command_length >= CMDLINE_MAX)
        return fail(error, error_len, "guest command line is longer than %u bytes", CMDLINE_MAX - 1);
    uint32_t info = MULTIBOOT_INFO_ADDRESS;
    memset(ram->host + info, 0, MULTIBOOT_INFO_END - info);
    write32(ram, info + 0, INFO_MEMORY | INFO_CMDLINE | INFO_MEMORY_MAP | INFO_LOADER_NAME);
    write32(ram, info + 4, 639);                                 /* mem_lower, KiB */
    write32(ram, info + 8, (ram->size - 0x100000u) >> 10);       /* mem_upper, KiB */
    memcpy(ram->host + info + CMDLINE_OFFSET, command_line, command_length + 1);
    write32(ram, info + 16, info + CMDLINE_OFFSET);
    uint32_t map_length = write_memory_map(ram, info + MEMORY_MAP_OFFSET);
    write32(ram, info + 44, map_length);
    write32(ram, info + 48, info + MEMORY_MAP_OFFSET);
    memcpy(ram->host + info + LOADER_NAME_OFFSET, "vmlab", 6);
    write32(ram, info + 64, info + LOADER_NAME_OFFSET);
    return 0;
}

int multiboot_load_buffer(const uint8_t *file, size_t file_size, const char *command_line,
                          struct guest_ram *ram, struct cpu *cpu, struct multiboot_image *image,
                          char *error, size_t error_len)
{
    if (load_image(file, file_size, ram, image, error, error_len) < 0)
        return -1;
    if (write_info(ram, command_line, error, error_len) < 0)
        return -1;
    image->info_address = MULTIBOOT_INFO_ADDRESS;
    /* Spec 3.2: EAX holds the magic, EBX the info address, the rest is the
     * flat protected-mode state with paging and interrupts off. */
    cpu_reset_to_flat_protected_mode(cpu);
    cpu->regs[REG_EAX] = MULTIBOOT_BOOTLOADER_MAGIC;
    cpu->regs[REG_EBX] = image->info_address;
    cpu->eip = image->entry;
    return 0;
}

int multiboot_load(const char *path, const char *command_line, struct guest_ram *ram,
                   struct cpu *cpu, struct multiboot_image *image, char *error, size_t error_len)
{
    /* O_NONBLOCK: a FIFO given by mistake is refused below, not waited on. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return fail(error, error_len, "%s: %s", path, strerror(errno));
    struct stat info;
    if (fstat(fd, &info) < 0 || !S_ISREG(info.st_mode)) {
        close(fd);
        return fail(error, error_len, "%s: not a regular file", path);
    }
    if ((uint64_t)info.st_size > ram->size) {
        close(fd);
        return fail(error, error_len, "%s: %lld bytes is larger than guest RAM", path,
                    (long long)info.st_size);
    }
    uint8_t *file = malloc(info.st_size ? (size_t)info.st_size : 1);
    ssize_t got = file ? pread(fd, file, (size_t)info.st_size, 0) : -1;
    close(fd);
    if (got != info.st_size) {
        free(file);
        return fail(error, error_len, "%s: cannot read the file", path);
    }
    char reason[400];
    int result = multiboot_load_buffer(file, (size_t)got, command_line, ram, cpu, image, reason,
                                       sizeof reason);
    free(file);
    if (result < 0)
        return fail(error, error_len, "%s: %s", path, reason);
    return 0;
}
