/*
 * exec.c - load a user program (an ELF32 executable linked into the kernel
 * image, see programs.S) into a fresh address space.
 *
 * Each PT_LOAD segment gets its pages copied in; only the bytes in the file
 * are copied, and the rest of the segment (.bss) is left to demand paging:
 * the page-fault handler fills those pages with zeros on first touch. Text
 * is mapped read-only, so a stray write to code kills the process.
 */
#include "proc.h"

#define ELF_MAGIC 0x464c457fu   /* "\x7fELF" */
#define PT_LOAD 1
#define PF_W 2

struct elf_header {
    uint32_t magic;
    uint8_t ident[12];
    uint16_t type, machine;
    uint32_t version, entry, phoff, shoff, flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct program_header {
    uint32_t type, offset, vaddr, paddr, filesz, memsz, flags, align;
};

static int load_segment(pte_t *directory, const uint8_t *elf, const struct program_header *ph)
{
    if (ph->vaddr < USER_BASE || ph->vaddr + ph->memsz > USER_STACK_TOP - USER_STACK_MAX ||
        ph->vaddr % PAGE_SIZE || ph->filesz > ph->memsz)
        return -1;
    uint32_t flags = PTE_USER | ((ph->flags & PF_W) ? PTE_WRITE : 0);
    for (uint32_t off = 0; off < ph->filesz; off += PAGE_SIZE) {
        uint8_t *page = page_alloc();
        if (!page || vm_map(directory, ph->vaddr + off, (uint32_t)page, flags) < 0)
            return -1;
        uint32_t n = ph->filesz - off < PAGE_SIZE ? ph->filesz - off : PAGE_SIZE;
        memcpy(page, elf + ph->offset + off, n);
    }
    return 0;
}

int exec_load(pte_t *directory, const uint8_t *elf, uint32_t size,
              uint32_t *entry, uint32_t *image_end)
{
    const struct elf_header *eh = (const struct elf_header *)elf;
    if (size < sizeof(*eh) || eh->magic != ELF_MAGIC ||
        eh->phoff + (uint32_t)eh->phnum * eh->phentsize > size)
        return -1;
    *image_end = USER_BASE;
    for (int i = 0; i < eh->phnum; i++) {
        const struct program_header *ph =
            (const struct program_header *)(elf + eh->phoff + i * eh->phentsize);
        if (ph->type != PT_LOAD || ph->memsz == 0)   /* the linker may leave empty ones */
            continue;
        if (ph->offset + ph->filesz > size || load_segment(directory, elf, ph) < 0)
            return -1;
        if (ph->vaddr + ph->memsz > *image_end)
            *image_end = PAGE_ROUND_UP(ph->vaddr + ph->memsz);
    }
    *entry = eh->entry;
    return 0;
}
