/*
 * bus.c - the port-I/O bus and the MMIO map.
 *
 * Port ranges are kept in a small table searched linearly: a PC has a dozen
 * devices, so a table scan is both simple and fast enough.
 *
 * Wide accesses: an x86 IN/OUT of 2 or 4 bytes at port p touches ports
 * p .. p+size-1 (Intel SDM vol. 1, 16.3 "I/O address space": "... any two
 * consecutive 8-bit ports can be treated as a 16-bit port"). When the whole
 * access falls inside one device's range, the device gets it in one call with
 * its size and decides what a wide access means (the ATA data port moves a
 * word per 16-bit access). When it straddles ranges, the bus splits it into
 * byte accesses, as the ISA bus cycle splitter of a PC chipset does.
 */
#include "bus.h"

static uint32_t all_ones(unsigned size)
{
    return size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

static bool valid_size(unsigned size)
{
    return size == 1 || size == 2 || size == 4;
}

static bool ranges_overlap(uint32_t first_a, uint32_t count_a, uint32_t first_b, uint32_t count_b)
{
    return first_a < first_b + count_b && first_b < first_a + count_a;
}

int bus_register_ports(struct bus *bus, uint16_t first, uint16_t count, const char *name,
                       void *device, port_read_fn read, port_write_fn write)
{
    if (count == 0 || (uint32_t)first + count > 0x10000)
        return -1;
    if (bus->port_count >= BUS_MAX_PORT_RANGES)
        return -1;
    for (int i = 0; i < bus->port_count; i++) {
        const struct port_range *other = &bus->ports[i];
        if (ranges_overlap(first, count, other->first, other->count))
            return -1;
    }
    bus->ports[bus->port_count++] = (struct port_range){
        .first = first, .count = count, .name = name,
        .device = device, .read = read, .write = write,
    };
    return 0;
}

int bus_register_mmio(struct bus *bus, uint32_t base, uint32_t size, const char *name,
                      void *device, mmio_read_fn read, mmio_write_fn write)
{
    /* The range must not wrap past 4 GiB: the guest's physical space is 32-bit. */
    if (size == 0 || (uint64_t)base + size > 0x100000000ull)
        return -1;
    if (bus->mmio_count >= BUS_MAX_MMIO_RANGES)
        return -1;
    for (int i = 0; i < bus->mmio_count; i++) {
        const struct mmio_range *other = &bus->mmio[i];
        if ((uint64_t)base < (uint64_t)other->base + other->size &&
            (uint64_t)other->base < (uint64_t)base + size)
            return -1;
    }
    bus->mmio[bus->mmio_count++] = (struct mmio_range){
        .base = base, .size = size, .name = name,
        .device = device, .read = read, .write = write,
    };
    return 0;
}

const struct port_range *bus_find_port(const struct bus *bus, uint16_t port)
{
    for (int i = 0; i < bus->port_count; i++) {
        const struct port_range *range = &bus->ports[i];
        if (port >= range->first && (uint32_t)port < (uint32_t)range->first + range->count)
            return range;
    }
    return NULL;
}

const struct mmio_range *bus_find_mmio(const struct bus *bus, uint32_t address)
{
    for (int i = 0; i < bus->mmio_count; i++) {
        const struct mmio_range *range = &bus->mmio[i];
        if (address >= range->base && (uint64_t)address < (uint64_t)range->base + range->size)
            return range;
    }
    return NULL;
}

/* The range holding every port of the access, or NULL if none does. */
static const struct port_range *range_for_access(const struct bus *bus, uint16_t port,
                                                 unsigned size)
{
    const struct port_range *range = bus_find_port(bus, port);
    if (range && (uint32_t)port + size <= (uint32_t)range->first + range->count)
        return range;
    return NULL;
}

static uint8_t read_byte(struct bus *bus, uint16_t port)
{
    const struct port_range *range = bus_find_port(bus, port);
    if (range && range->read)
        return (uint8_t)range->read(range->device, port, 1);
    if (!range && bus->unclaimed)
        bus->unclaimed(bus->unclaimed_context, port, false);
    return 0xff;
}

static void write_byte(struct bus *bus, uint16_t port, uint8_t value)
{
    const struct port_range *range = bus_find_port(bus, port);
    if (range && range->write)
        range->write(range->device, port, 1, value);
    else if (!range && bus->unclaimed)
        bus->unclaimed(bus->unclaimed_context, port, true);
}

uint32_t bus_port_read(struct bus *bus, uint16_t port, unsigned size)
{
    if (!valid_size(size))
        return 0xffffffffu;   /* no such x86 access; answer like an open bus */
    const struct port_range *range = range_for_access(bus, port, size);
    if (range) {
        /* A write-only device reads as the open bus. */
        if (!range->read)
            return all_ones(size);
        return range->read(range->device, port, size) & all_ones(size);
    }
    if (size == 1)
        return read_byte(bus, port);
    /* Straddles devices or the end of the port space: byte by byte, little
     * endian. Port numbers wrap at 64 KiB like the 16-bit DX they come from. */
    uint32_t value = 0;
    for (unsigned i = 0; i < size; i++)
        value |= (uint32_t)read_byte(bus, (uint16_t)(port + i)) << (8 * i);
    return value;
}

void bus_port_write(struct bus *bus, uint16_t port, unsigned size, uint32_t value)
{
    if (!valid_size(size))
        return;
    value &= all_ones(size);
    const struct port_range *range = range_for_access(bus, port, size);
    if (range) {
        if (range->write)
            range->write(range->device, port, size, value);
        return;
    }
    for (unsigned i = 0; i < size; i++)
        write_byte(bus, (uint16_t)(port + i), (uint8_t)(value >> (8 * i)));
}
