/*
 * note.c - is this image a pv guest? It says so with an ELF note.
 *
 * A pv kernel is built for the hypercall interface and cannot boot on a
 * bare PC (it has no way to print or to take an interrupt), so it declares
 * itself, as Xen guests do with their __xen_guest / ELF notes: a PT_NOTE
 * segment holding a note with owner PV_NOTE_NAME and type PV_NOTE_TYPE.
 * vmlab opens the hypercall port only to such an image; for any other the
 * port is unclaimed, as on a PC.
 */
#include "pv.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTE_SEARCH_LIMIT (1u << 20)

static uint32_t align4(uint32_t n)
{
    return (n + 3) & ~3u;
}

/* Walk the notes in [notes, notes + size). */
static bool notes_have_pv(const uint8_t *notes, uint32_t size, uint32_t *hypercall_page)
{
    uint32_t at = 0;
    while (at + sizeof(Elf32_Nhdr) <= size) {
        Elf32_Nhdr header;
        memcpy(&header, notes + at, sizeof header);
        uint32_t name_at = at + (uint32_t)sizeof header;
        uint64_t next = (uint64_t)name_at + align4(header.n_namesz) + align4(header.n_descsz);
        if (header.n_namesz > size || header.n_descsz > size || next > size)
            return false;
        if (header.n_type == PV_NOTE_TYPE && header.n_namesz == sizeof PV_NOTE_NAME &&
            memcmp(notes + name_at, PV_NOTE_NAME, sizeof PV_NOTE_NAME) == 0) {
            if (header.n_descsz >= 8)
                memcpy(hypercall_page, notes + name_at + align4(header.n_namesz) + 4, 4);
            return true;
        }
        at = (uint32_t)next;
    }
    return false;
}

static bool image_has_note(const uint8_t *file, size_t size, uint32_t *hypercall_page)
{
    Elf32_Ehdr header;
    if (size < sizeof header)
        return false;
    memcpy(&header, file, sizeof header);
    if (memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS32)
        return false;
    for (uint32_t i = 0; i < header.e_phnum; i++) {
        Elf32_Phdr segment;
        uint64_t at = header.e_phoff + (uint64_t)i * header.e_phentsize;
        if (header.e_phentsize < sizeof segment || at + sizeof segment > size)
            return false;
        memcpy(&segment, file + at, sizeof segment);
        if (segment.p_type == PT_NOTE && (uint64_t)segment.p_offset + segment.p_filesz <= size &&
            notes_have_pv(file + segment.p_offset, segment.p_filesz, hypercall_page))
            return true;
    }
    return false;
}

bool pv_image_has_note(const char *path, uint32_t *hypercall_page)
{
    *hypercall_page = 0;
    FILE *file = fopen(path, "rb");
    if (!file)
        return false;
    uint8_t *bytes = malloc(NOTE_SEARCH_LIMIT);
    size_t size = bytes ? fread(bytes, 1, NOTE_SEARCH_LIMIT, file) : 0;
    fclose(file);
    bool found = bytes && image_has_note(bytes, size, hypercall_page);
    free(bytes);
    return found;
}
