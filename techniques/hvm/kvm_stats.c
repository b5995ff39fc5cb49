/*
 * kvm_stats.c - KVM's own counters, read through its binary statistics.
 *
 * Most VM exits never reach user space: KVM handles a guest page fault under
 * shadow or nested paging, a halt poll, an interrupt window, in the kernel.
 * vmlab sees only what KVM_RUN returns; these counters show the rest. Each
 * statistic becomes a row ("kvm", name) of vmlab's table, with count = the
 * value as of the last return of run().
 *
 * The file behind KVM_GET_STATS_FD is self-describing (KVM API:
 * KVM_GET_STATS_FD): a header, an array of descriptors (type, unit, size,
 * offset, name), then the data. We read the descriptors once and then only
 * the data block, with a single pread per refresh.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "techniques/hvm/hvm_internal.h"

static void reader_reset(struct kvm_stats_reader *reader)
{
    memset(reader, 0, sizeof *reader);
    reader->fd = -1;
}

/* Histograms (size > 1) do not fit a counter row; every other kind does:
 * cumulative, instant and peak values (KVM_STATS_TYPE_*). */
static bool is_scalar(const struct kvm_stats_desc *descriptor)
{
    unsigned type = descriptor->flags & KVM_STATS_TYPE_MASK;
    return descriptor->size == 1 && (type == KVM_STATS_TYPE_CUMULATIVE ||
                                     type == KVM_STATS_TYPE_INSTANT ||
                                     type == KVM_STATS_TYPE_PEAK);
}

static void add_value(struct kvm_stats_reader *reader, const struct kvm_stats_desc *descriptor,
                      const char *prefix, struct stats *stats)
{
    char name[STATS_NAME_LEN];
    snprintf(name, sizeof name, "%s%s", prefix, descriptor->name);
    struct kvm_stats_value *value = &reader->values[reader->value_count++];
    value->index = descriptor->offset / sizeof(uint64_t);
    value->row = stats_counter(stats, "kvm", name);
    /* The KVM VM is kept across switches (hvm.c), so its counters go on;
     * but if it ever had to be replaced, the new one's start at zero
     * again: keep counting from where we were. */
    value->base = value->row->count;
}

static int read_descriptors(struct kvm_stats_reader *reader, const struct kvm_stats_header *header,
                            const char *prefix, struct stats *stats)
{
    size_t descriptor_size = sizeof(struct kvm_stats_desc) + header->name_size;
    uint8_t *descriptors = malloc(descriptor_size * header->num_desc);
    reader->values = calloc(header->num_desc, sizeof *reader->values);
    ssize_t wanted = (ssize_t)(descriptor_size * header->num_desc);
    if (!descriptors || !reader->values ||
        pread(reader->fd, descriptors, (size_t)wanted, header->desc_offset) != wanted) {
        free(descriptors);
        return -1;
    }
    uint32_t data_end = 0;
    for (uint32_t i = 0; i < header->num_desc; i++) {
        struct kvm_stats_desc *descriptor = (void *)(descriptors + i * descriptor_size);
        descriptor->name[header->name_size - 1] = '\0';   /* never trust a length */
        uint32_t end = descriptor->offset + descriptor->size * (uint32_t)sizeof(uint64_t);
        if (end > data_end)
            data_end = end;
        if (is_scalar(descriptor) && descriptor->offset % sizeof(uint64_t) == 0)
            add_value(reader, descriptor, prefix, stats);
    }
    free(descriptors);
    reader->data_offset = header->data_offset;
    reader->data_size = data_end;
    reader->data = calloc(1, data_end ? data_end : 1);
    return reader->data ? 0 : -1;
}

void kvm_stats_open(struct kvm_stats_reader *reader, int kvm_object_fd, const char *prefix,
                    struct stats *stats)
{
    reader_reset(reader);
    /* Older kernels (before 5.14) have no binary statistics: then there are
     * simply no "kvm" rows, and vmlab still runs. */
    reader->fd = ioctl(kvm_object_fd, KVM_GET_STATS_FD, NULL);
    if (reader->fd < 0) {
        reader->fd = -1;
        return;
    }
    struct kvm_stats_header header;
    if (pread(reader->fd, &header, sizeof header, 0) != (ssize_t)sizeof header ||
        header.name_size == 0 || header.num_desc > 4096 ||
        read_descriptors(reader, &header, prefix, stats) < 0) {
        kvm_stats_close(reader);
        reader_reset(reader);
    }
}

void kvm_stats_refresh(struct kvm_stats_reader *reader)
{
    if (reader->fd < 0 ||
        pread(reader->fd, reader->data, reader->data_size, reader->data_offset) !=
            (ssize_t)reader->data_size)
        return;
    for (int i = 0; i < reader->value_count; i++) {
        struct kvm_stats_value *value = &reader->values[i];
        value->row->count = value->base + reader->data[value->index];
    }
}

void kvm_stats_close(struct kvm_stats_reader *reader)
{
    if (reader->fd >= 0)
        close(reader->fd);
    free(reader->data);
    free(reader->values);
    reader_reset(reader);
}
