/*
 * bus.h - the port-I/O bus and the MMIO map that PC devices register on.
 *
 * As in kvmtool, a device is a small module that claims a range of ports (or
 * of physical addresses) with a read and a write callback and an opaque
 * pointer to its own state. Techniques never talk to a device directly: the
 * interpreter calls bus_port_read/write for IN/OUT, hvm on an I/O exit, the
 * direct-execution substrate on a trap. One bus, every technique.
 */
#ifndef VMLAB_BUS_H
#define VMLAB_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* size is 1, 2 or 4 bytes. */
typedef uint32_t (*port_read_fn)(void *device, uint16_t port, unsigned size);
typedef void (*port_write_fn)(void *device, uint16_t port, unsigned size, uint32_t value);
typedef uint32_t (*mmio_read_fn)(void *device, uint32_t offset, unsigned size);
typedef void (*mmio_write_fn)(void *device, uint32_t offset, unsigned size, uint32_t value);

#define BUS_MAX_PORT_RANGES 32
#define BUS_MAX_MMIO_RANGES 8

struct port_range {
    uint16_t first, count;
    const char *name;
    void *device;
    port_read_fn read;
    port_write_fn write;
};

struct mmio_range {
    uint32_t base, size;
    const char *name;
    void *device;
    mmio_read_fn read;
    mmio_write_fn write;
};

struct bus {
    struct port_range ports[BUS_MAX_PORT_RANGES];
    int port_count;
    struct mmio_range mmio[BUS_MAX_MMIO_RANGES];
    int mmio_count;
    /* Called for every port access that no device claims (may be NULL);
     * the core uses it to count such accesses in the statistics. */
    void (*unclaimed)(void *context, uint16_t port, bool is_write);
    void *unclaimed_context;
};

/* Returns 0, or -1 if the range overlaps another or the table is full. */
int bus_register_ports(struct bus *bus, uint16_t first, uint16_t count, const char *name,
                       void *device, port_read_fn read, port_write_fn write);
int bus_register_mmio(struct bus *bus, uint32_t base, uint32_t size, const char *name,
                      void *device, mmio_read_fn read, mmio_write_fn write);

/* An unclaimed port reads as all ones, like an open ISA bus. */
uint32_t bus_port_read(struct bus *bus, uint16_t port, unsigned size);
void bus_port_write(struct bus *bus, uint16_t port, unsigned size, uint32_t value);

/* The device owning a port, or NULL: used for naming ports in statistics. */
const struct port_range *bus_find_port(const struct bus *bus, uint16_t port);
const struct mmio_range *bus_find_mmio(const struct bus *bus, uint32_t address);

#endif
