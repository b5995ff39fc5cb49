/*
 * bare_kvm.c - the smallest KVM_RUN loop that can run tests/hvm/guests/in_loop:
 * the yardstick for vmlab's hvm exit cost (tests/hvm/bench.sh).
 *
 *   bare_kvm GUEST.elf [--sync-regs]
 *
 * It loads the ELF32 guest's PT_LOAD segments into one memory slot, starts
 * it in flat 32-bit protected mode at its entry point (the state Multiboot
 * promises), answers every `in` with all ones, and stops at the first write
 * to isa-debug-exit (port 0xf4). No devices, no statistics, no timers: what
 * is left is the price of the exit itself. --sync-regs asks KVM to copy the
 * general registers into kvm_run on every exit (KVM API 5, "kvm_valid_regs"),
 * to measure what that would cost vmlab.
 *
 * Prints: "bare: EXITS exits in NS ns: PER ns per exit".
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RAM_SIZE (16u << 20)
#define DEBUG_EXIT_PORT 0xf4

static void die(const char *what)
{
    fprintf(stderr, "bare_kvm: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(2);
}

static uint64_t now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* Copies the PT_LOAD segments of an ELF32 file into ram; returns the entry. */
static uint32_t load_elf32(const char *path, uint8_t *ram)
{
    int fd = open(path, O_RDONLY);
    struct stat info;
    if (fd < 0 || fstat(fd, &info) < 0)
        die(path);
    uint8_t *file = mmap(NULL, (size_t)info.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file == MAP_FAILED)
        die(path);
    const Elf32_Ehdr *header = (const void *)file;
    errno = 0;
    if ((size_t)info.st_size < sizeof *header || memcmp(header->e_ident, ELFMAG, SELFMAG) ||
        header->e_ident[EI_CLASS] != ELFCLASS32 ||
        header->e_phoff + (uint64_t)header->e_phnum * sizeof(Elf32_Phdr) > (uint64_t)info.st_size)
        die("not an ELF32 file");
    const Elf32_Phdr *segments = (const void *)(file + header->e_phoff);
    for (int i = 0; i < header->e_phnum; i++) {
        const Elf32_Phdr *segment = &segments[i];
        if (segment->p_type != PT_LOAD)
            continue;
        if ((uint64_t)segment->p_paddr + segment->p_memsz > RAM_SIZE ||
            segment->p_filesz > segment->p_memsz ||
            (uint64_t)segment->p_offset + segment->p_filesz > (uint64_t)info.st_size)
            die("a segment does not fit");
        memcpy(ram + segment->p_paddr, file + segment->p_offset, segment->p_filesz);
    }
    uint32_t entry = header->e_entry;
    munmap(file, (size_t)info.st_size);
    close(fd);
    return entry;
}

/* Flat 4 GiB code and data segments, CR0.PE: Multiboot spec 3.2. */
static void enter_protected_mode(int vcpu, uint32_t entry)
{
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        die("KVM_GET_SREGS");
    struct kvm_segment code = {.base = 0, .limit = 0xffffffff, .selector = 0x08, .type = 11,
                               .present = 1, .db = 1, .s = 1, .g = 1};
    struct kvm_segment data = code;
    data.selector = 0x10;
    data.type = 3;
    sregs.cs = code;
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    sregs.cr0 = 0x11;   /* PE | ET */
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
        die("KVM_SET_SREGS");
    struct kvm_regs regs = {.rip = entry, .rflags = 2};
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        die("KVM_SET_REGS");
}

int main(int argc, char **argv)
{
    if (argc < 2 || (argc == 3 && strcmp(argv[2], "--sync-regs")) || argc > 3) {
        fprintf(stderr, "usage: bare_kvm GUEST.elf [--sync-regs]\n");
        return 2;
    }
    bool sync_regs = argc == 3;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        die("/dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        die("KVM_CREATE_VM");
    uint8_t *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ram == MAP_FAILED)
        die("mmap");
    struct kvm_userspace_memory_region slot = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = RAM_SIZE, .userspace_addr = (uintptr_t)ram};
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
        die("KVM_SET_USER_MEMORY_REGION");
    uint32_t entry = load_elf32(argv[1], ram);
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vcpu < 0 || run_size <= 0)
        die("KVM_CREATE_VCPU");
    struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        die("mmap kvm_run");
    enter_protected_mode(vcpu, entry);
    if (sync_regs)
        run->kvm_valid_regs = KVM_SYNC_X86_REGS;

    uint64_t exits = 0, start = now_ns();
    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            die("KVM_RUN");
        }
        exits++;
        if (run->exit_reason != KVM_EXIT_IO) {
            fprintf(stderr, "bare_kvm: unexpected exit reason %u\n", run->exit_reason);
            return 2;
        }
        uint8_t *data = (uint8_t *)run + run->io.data_offset;
        if (run->io.direction == KVM_EXIT_IO_IN)
            memset(data, 0xff, (size_t)run->io.size * run->io.count);
        else if (run->io.port == DEBUG_EXIT_PORT)
            break;
    }
    uint64_t elapsed = now_ns() - start;
    printf("bare: %llu exits in %llu ns: %.1f ns per exit\n", (unsigned long long)exits,
           (unsigned long long)elapsed, (double)elapsed / (double)exits);
    return 0;
}
