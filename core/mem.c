/*
 * mem.c - guest-physical RAM as one memfd.
 *
 * A memfd (rather than anonymous memory) is what lets several views share
 * the same pages: KVM takes it as a memory slot, and the direct-execution
 * substrate maps it a second time at guest-virtual addresses.
 */
#include "mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int guest_ram_create(struct guest_ram *ram, uint64_t size, char *error, size_t error_len)
{
    memset(ram, 0, sizeof *ram);
    ram->memfd = -1;
    if (size < GUEST_RAM_MIN || size > GUEST_RAM_MAX || size % PAGE_SIZE != 0) {
        snprintf(error, error_len,
                 "--mem %llu bytes: guest RAM must be a multiple of 4 KiB between %u MiB and %u MiB",
                 (unsigned long long)size, GUEST_RAM_MIN >> 20, GUEST_RAM_MAX >> 20);
        return -1;
    }
    ram->memfd = memfd_create("vmlab-guest-ram", MFD_CLOEXEC);
    if (ram->memfd < 0 || ftruncate(ram->memfd, (off_t)size) < 0) {
        snprintf(error, error_len, "cannot create %llu bytes of guest RAM: %s",
                 (unsigned long long)size, strerror(errno));
        guest_ram_destroy(ram);
        return -1;
    }
    ram->host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ram->memfd, 0);
    if (ram->host == MAP_FAILED) {
        ram->host = NULL;
        snprintf(error, error_len, "cannot map guest RAM: %s", strerror(errno));
        guest_ram_destroy(ram);
        return -1;
    }
    ram->size = (uint32_t)size;
    ram->page_flags = calloc(size / PAGE_SIZE, 1);
    if (!ram->page_flags) {
        snprintf(error, error_len, "out of memory for the guest page table of %llu pages",
                 (unsigned long long)(size / PAGE_SIZE));
        guest_ram_destroy(ram);
        return -1;
    }
    return 0;
}

void guest_ram_destroy(struct guest_ram *ram)
{
    if (ram->host)
        munmap(ram->host, ram->size);
    if (ram->memfd >= 0)
        close(ram->memfd);
    free(ram->page_flags);
    memset(ram, 0, sizeof *ram);
    ram->memfd = -1;
}

bool guest_ram_contains(const struct guest_ram *ram, uint32_t address, uint32_t length)
{
    uint64_t end = (uint64_t)address + length;
    if (end > ram->size)
        return false;
    /* The legacy hole 0xA0000-0xFFFFF (VGA memory and BIOS ROM on a PC). */
    return end <= 0xA0000 || address >= 0x100000;
}

int64_t parse_size(const char *text)
{
    if (!text || !isdigit((unsigned char)*text))
        return -1;
    errno = 0;
    char *end;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno == ERANGE)
        return -1;
    unsigned shift = 0;
    switch (toupper((unsigned char)*end)) {
    case '\0': break;
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    default: return -1;
    }
    if (toupper((unsigned char)*end) == 'I' && toupper((unsigned char)end[1]) == 'B')
        end += 2;
    else if (toupper((unsigned char)*end) == 'B')
        end++;
    if (*end != '\0' || value > (1ull << 40) >> shift)
        return -1;
    return (int64_t)(value << shift);
}
