/*
 * mmu.c - guest memory access: segmentation checks, then paging through the
 * software TLB (tlb.h), then guest-physical RAM or the MMIO bus.
 *
 * The order follows the hardware (SDM vol. 3, 3.1 and 5.3): a segmented
 * access is first checked against the segment's type and limit (#GP, or #SS
 * for SS), then the linear address is translated (#PF). An access that
 * crosses a page boundary is translated on both pages before any byte is
 * written, so a #PF on the second page leaves memory untouched.
 */
#include <string.h>

#include "descriptor.h"
#include "decode.h"
#include "paging.h"

/* ---- physical memory --------------------------------------------------- */

static uint32_t all_ones(unsigned size)
{
    return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static const struct mmio_range *mmio_at(const struct emulator *e, uint32_t physical)
{
    return e->bus ? bus_find_mmio(e->bus, physical) : NULL;
}

uint32_t physical_read(struct emulator *e, uint32_t physical, unsigned size)
{
    uint8_t *host = guest_ram_pointer(e->ram, physical);
    uint32_t value = 0;

    if (host) {
        memcpy(&value, host, size);     /* x86 guests on a little-endian host */
        return value;
    }
    const struct mmio_range *mmio = mmio_at(e, physical);
    if (mmio && mmio->read)
        return mmio->read(mmio->device, physical - mmio->base, size) & all_ones(size);
    return all_ones(size);               /* nothing answers: the bus floats high */
}

static void note_code_write(struct emulator *e, uint32_t physical)
{
    const uint8_t *flags = e->ram->page_flags;

    if (e->code_written && flags && (flags[physical >> PAGE_SHIFT] & PAGE_FLAG_CODE))
        e->code_written(e, physical & ~(PAGE_SIZE - 1));
}

void physical_write(struct emulator *e, uint32_t physical, unsigned size, uint32_t value)
{
    uint8_t *host = guest_ram_pointer(e->ram, physical);

    if (host) {
        memcpy(host, &value, size);
        note_code_write(e, physical);
        return;
    }
    const struct mmio_range *mmio = mmio_at(e, physical);
    if (mmio && mmio->write)
        mmio->write(mmio->device, physical - mmio->base, size, value);
    /* else: no memory there, the write is lost as on real hardware */
}

/* ---- the software TLB ---------------------------------------------------- */

void x86_tlb_flush_all(struct emulator *e)
{
    for (size_t i = 0; i < TLB_ENTRIES; i++) {
        e->tlb.supervisor[i].read_tag = e->tlb.supervisor[i].write_tag = TLB_INVALID;
        e->tlb.user[i].read_tag = e->tlb.user[i].write_tag = TLB_INVALID;
    }
    e->tlb.large_pages_cached = false;
}

static void forget_page(struct tlb_entry *entry, uint32_t page)
{
    if (entry->read_tag == page || entry->write_tag == page)
        entry->read_tag = entry->write_tag = TLB_INVALID;
}

/* INVLPG (SDM vol. 3, 4.10.4.1). If the page may be part of a 4 MiB
 * translation, every 4 KiB entry derived from it must go: flush all. */
void x86_tlb_flush_page(struct emulator *e, uint32_t linear)
{
    uint32_t page = linear >> PAGE_SHIFT;

    if (e->tlb.large_pages_cached) {
        x86_tlb_flush_all(e);
        return;
    }
    forget_page(tlb_entry_for(&e->tlb, false, linear), page);
    forget_page(tlb_entry_for(&e->tlb, true, linear), page);
}

/* Caches a successful walk (contract in tlb.h). A write walk also permits
 * reads: in 32-bit paging every writable page is readable in the same mode. */
static void tlb_fill(struct emulator *e, uint32_t linear, const struct page_walk *walk, bool write,
                     bool user)
{
    uint32_t physical_page = walk->physical & ~(PAGE_SIZE - 1);
    uint8_t *host = guest_ram_pointer(e->ram, physical_page);
    const uint8_t *flags = e->ram->page_flags;
    uint32_t page = linear >> PAGE_SHIFT;

    if (!host)
        return;                          /* MMIO or nothing: never cached */
    if (write && flags && (flags[physical_page >> PAGE_SHIFT] & PAGE_FLAG_CODE))
        return;                          /* writes there must reach code_written */

    struct tlb_entry *entry = tlb_entry_for(&e->tlb, user, linear);
    if (entry->physical_page != physical_page ||
        (entry->read_tag != page && entry->write_tag != page))
        entry->read_tag = entry->write_tag = TLB_INVALID;
    entry->physical_page = physical_page;
    entry->host = host;
    entry->read_tag = page;
    if (write)
        entry->write_tag = page;
    if (walk->large)
        e->tlb.large_pages_cached = true;
}

/* SDM vol. 3, 6.15 "Interrupt 14": CR2 holds the linear address. A page
 * fault also invalidates the TLB entries for that address (SDM vol. 3,
 * 4.10.4.1), so a handler that fixes the PTE needs no INVLPG. */
static _Noreturn void page_fault(struct emulator *e, uint32_t linear, uint32_t error_code)
{
    x86_tlb_flush_page(e, linear);
    e->cpu->cr2 = linear;
    x86_raise(e, EXC_PF, error_code);
}

static uint32_t translate_or_fault(struct emulator *e, uint32_t linear, bool write, bool user)
{
    struct page_walk walk;

    if (!paging_walk(e, linear, write ? ACCESS_WRITE : ACCESS_READ, user, true, &walk))
        page_fault(e, linear, walk.error_code);
    tlb_fill(e, linear, &walk, write, user);
    return walk.physical;
}

/* ---- linear access ------------------------------------------------------- */

static unsigned bytes_left_in_page(uint32_t linear)
{
    return PAGE_SIZE - (linear & (PAGE_SIZE - 1));
}

static uint32_t read_linear(struct emulator *e, uint32_t linear, unsigned size, bool user)
{
    unsigned in_page = bytes_left_in_page(linear);

    if (size <= in_page) {
        uint8_t *host = tlb_lookup(&e->tlb, user, false, linear);
        uint32_t value = 0;
        if (host) {
            memcpy(&value, host, size);
            return value;
        }
        return physical_read(e, translate_or_fault(e, linear, false, user), size);
    }
    uint32_t first = translate_or_fault(e, linear, false, user);
    uint32_t second = translate_or_fault(e, linear + in_page, false, user);
    uint32_t low = physical_read(e, first, in_page);
    uint32_t high = physical_read(e, second, size - in_page);
    return low | (high << (8 * in_page));
}

static void write_linear(struct emulator *e, uint32_t linear, unsigned size, uint32_t value,
                         bool user)
{
    unsigned in_page = bytes_left_in_page(linear);

    if (size <= in_page) {
        uint8_t *host = tlb_lookup(&e->tlb, user, true, linear);
        if (host) {
            memcpy(host, &value, size);
            return;
        }
        physical_write(e, translate_or_fault(e, linear, true, user), size, value);
        return;
    }
    /* Both pages are checked before either is written (SDM vol. 3, 6.5:
     * a fault leaves the instruction without effect). */
    uint32_t first = translate_or_fault(e, linear, true, user);
    uint32_t second = translate_or_fault(e, linear + in_page, true, user);
    physical_write(e, first, in_page, value);
    physical_write(e, second, size - in_page, value >> (8 * in_page));
}

static bool current_access_is_user(const struct emulator *e)
{
    return cpu_cpl(e->cpu) == 3;
}

uint32_t x86_read_linear(struct emulator *e, uint32_t linear, unsigned size, bool supervisor)
{
    return read_linear(e, linear, size, !supervisor && current_access_is_user(e));
}

void x86_write_linear(struct emulator *e, uint32_t linear, unsigned size, uint32_t value,
                      bool supervisor)
{
    write_linear(e, linear, size, value, !supervisor && current_access_is_user(e));
}

/* ---- segmented access ------------------------------------------------------ */

/*
 * SDM vol. 3, 5.3 (limit) and 5.4-5.6 / 3.4.5.1 (type): writes need a
 * writable data segment, reads a data or readable code segment; accesses
 * through an unusable (null) segment are #GP(0). Faults through SS are
 * #SS(0) instead (SDM vol. 3, 6.15 "Interrupt 12"). In real mode only the
 * limit is checked. Returns the linear address.
 */
static uint32_t segment_check(struct emulator *e, int segment, uint32_t offset, unsigned size,
                              enum access_kind access)
{
    const struct cpu *cpu = e->cpu;
    const struct segment *s = &cpu->segments[segment];
    int vector = segment == SEG_SS ? EXC_SS : EXC_GP;

    if (s->attributes & SEG_ATTR_UNUSABLE)
        x86_raise(e, vector, 0);
    if ((cpu->cr0 & CR0_PE) && !(cpu->eflags & EFLAGS_VM)) {
        if (access == ACCESS_WRITE && !attributes_is_writable_data(s->attributes))
            x86_raise(e, vector, 0);
        if (access == ACCESS_READ && !attributes_is_readable(s->attributes))
            x86_raise(e, vector, 0);
    }
    if (!segment_offset_within_limit(s, offset, size))
        x86_raise(e, vector, 0);
    return s->base + offset;
}

uint8_t x86_read8(struct emulator *e, int segment, uint32_t offset)
{
    uint32_t linear = segment_check(e, segment, offset, 1, ACCESS_READ);
    return (uint8_t)read_linear(e, linear, 1, current_access_is_user(e));
}

uint16_t x86_read16(struct emulator *e, int segment, uint32_t offset)
{
    uint32_t linear = segment_check(e, segment, offset, 2, ACCESS_READ);
    return (uint16_t)read_linear(e, linear, 2, current_access_is_user(e));
}

uint32_t x86_read32(struct emulator *e, int segment, uint32_t offset)
{
    uint32_t linear = segment_check(e, segment, offset, 4, ACCESS_READ);
    return read_linear(e, linear, 4, current_access_is_user(e));
}

void x86_write8(struct emulator *e, int segment, uint32_t offset, uint8_t value)
{
    uint32_t linear = segment_check(e, segment, offset, 1, ACCESS_WRITE);
    write_linear(e, linear, 1, value, current_access_is_user(e));
}

void x86_write16(struct emulator *e, int segment, uint32_t offset, uint16_t value)
{
    uint32_t linear = segment_check(e, segment, offset, 2, ACCESS_WRITE);
    write_linear(e, linear, 2, value, current_access_is_user(e));
}

void x86_write32(struct emulator *e, int segment, uint32_t offset, uint32_t value)
{
    uint32_t linear = segment_check(e, segment, offset, 4, ACCESS_WRITE);
    write_linear(e, linear, 4, value, current_access_is_user(e));
}

/* One page of x86_check_write: a TLB write hit already proves the write
 * would succeed; otherwise walk without setting accessed/dirty bits (the
 * write that follows sets them). */
static void check_page_writable(struct emulator *e, uint32_t linear, bool user)
{
    struct page_walk walk;

    if (tlb_lookup(&e->tlb, user, true, linear))
        return;
    if (!paging_walk(e, linear, ACCESS_WRITE, user, false, &walk))
        page_fault(e, linear, walk.error_code);
}

void x86_check_write(struct emulator *e, int segment, uint32_t offset, unsigned size)
{
    uint32_t linear = segment_check(e, segment, offset, size, ACCESS_WRITE);
    bool user = current_access_is_user(e);
    uint32_t last = linear + size - 1;

    check_page_writable(e, linear, user);
    if ((last >> PAGE_SHIFT) != (linear >> PAGE_SHIFT))
        check_page_writable(e, last & ~(PAGE_SIZE - 1), user);
}

/* ---- instruction fetch ----------------------------------------------------- */

static void copy_from_physical(struct emulator *e, uint32_t physical, uint8_t *buf, unsigned count)
{
    uint8_t *host = guest_ram_pointer(e->ram, physical);

    if (host) {
        memcpy(buf, host, count);
        return;
    }
    for (unsigned i = 0; i < count; i++)
        buf[i] = (uint8_t)physical_read(e, physical + i, 1);
}

/*
 * SDM vol. 3, 5.3: every instruction byte must lie within the CS limit
 * (#GP(0)). Bytes beyond `needed` are a prefetch: if they are past the
 * limit or on a page that does not translate, we stop early instead of
 * faulting, since the instruction may not need them.
 */
unsigned x86_fetch_code(struct emulator *e, uint32_t eip, uint8_t *buf, unsigned needed,
                        unsigned max)
{
    const struct segment *cs = &e->cpu->segments[SEG_CS];
    uint64_t available = eip <= cs->limit ? (uint64_t)cs->limit - eip + 1 : 0;
    unsigned count = available < max ? (unsigned)available : max;
    bool user = current_access_is_user(e);
    unsigned copied = 0;

    if (count < needed)
        x86_raise(e, EXC_GP, 0);
    while (copied < count) {
        uint32_t linear = cs->base + eip + copied;
        unsigned chunk = count - copied;
        if (chunk > bytes_left_in_page(linear))
            chunk = bytes_left_in_page(linear);

        uint8_t *host = tlb_lookup(&e->tlb, user, false, linear);
        if (host) {
            memcpy(buf + copied, host, chunk);
        } else {
            struct page_walk walk;
            if (!paging_walk(e, linear, ACCESS_EXECUTE, user, true, &walk)) {
                if (copied >= needed)
                    break;
                page_fault(e, linear, walk.error_code);
            }
            tlb_fill(e, linear, &walk, false, user);
            copy_from_physical(e, walk.physical, buf + copied, chunk);
        }
        copied += chunk;
    }
    return copied;
}

/* ---- port I/O permission ----------------------------------------------------- */

/*
 * SDM vol. 1, 18.5.2: with CPL > IOPL (or in virtual-8086 mode) each port
 * of the access needs its bit clear in the I/O permission bitmap of the
 * 32-bit TSS, whose offset is the 16-bit field at TSS offset 0x66. The
 * processor always reads two bytes of the bitmap; any byte beyond the TSS
 * limit counts as all ones, i.e. denied.
 */
void x86_check_io_permission(struct emulator *e, uint16_t port, unsigned size)
{
    const struct cpu *cpu = e->cpu;
    const struct segment *tr = &cpu->tr;
    unsigned iopl = (cpu->eflags & EFLAGS_IOPL) >> 12;

    if (!(cpu->cr0 & CR0_PE))
        return;                          /* real mode: every port is allowed */
    if (!(cpu->eflags & EFLAGS_VM) && cpu_cpl(cpu) <= iopl)
        return;
    if ((tr->attributes & SEG_ATTR_UNUSABLE) || !attributes_is_32bit_tss(tr->attributes) ||
        tr->limit < 0x67)
        x86_raise(e, EXC_GP, 0);

    uint32_t bitmap = x86_read_linear(e, tr->base + 0x66, 2, true);
    uint32_t byte = bitmap + port / 8u;
    if ((uint64_t)byte + 1 > tr->limit)
        x86_raise(e, EXC_GP, 0);
    uint32_t bits = x86_read_linear(e, tr->base + byte, 2, true);
    uint32_t wanted = ((1u << size) - 1) << (port & 7u);
    if (bits & wanted)
        x86_raise(e, EXC_GP, 0);
}

uint32_t x86_operand_linear_address(const struct cpu *cpu, const struct x86_instruction *insn)
{
    uint32_t address = insn->displacement;
    if (insn->base != X86_NO_REGISTER)
        address += cpu->regs[insn->base];
    if (insn->index != X86_NO_REGISTER)
        address += cpu->regs[insn->index] << insn->scale;
    if (insn->address_size == 2)
        address &= 0xffff;     /* 16-bit addressing wraps at 64 KiB (SDM vol. 1, 3.7.5) */
    return address + cpu->segments[insn->segment].base;
}
