/*
 * ata.h - an ATA hard disk in PIO mode: the master device of the primary
 * channel (command block 0x1f0-0x1f7, control block 0x3f6, IRQ 14), backed by
 * an image file of 512-byte sectors.
 *
 * Implemented (ATA/ATAPI-6, T13/1410D): IDENTIFY DEVICE, READ SECTORS,
 * WRITE SECTORS (multi-sector, count 0 = 256), FLUSH CACHE, SET FEATURES
 * (accepted, no effect), EXECUTE DEVICE DIAGNOSTIC, INITIALIZE DEVICE
 * PARAMETERS (the default geometry only), RECALIBRATE; LBA28 and CHS
 * addressing; nIEN and SRST in the device control register. Commands run to
 * completion at once, so BSY is only seen during a software reset.
 * Not implemented (the command aborts): LBA48, READ/WRITE MULTIPLE, DMA,
 * ATAPI.
 *
 * A channel (struct ata_channel) holds a master and, optionally, a slave:
 * the DEV bit of the device register selects the drive that answers, as on
 * real hardware; an absent drive's registers read 0. ata_register puts one
 * drive alone on the ports (the unit tests use it).
 */
#ifndef VMLAB_ATA_H
#define VMLAB_ATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "irq.h"

#define ATA_SECTOR_SIZE 512
#define ATA_PRIMARY_COMMAND_PORT 0x1f0
#define ATA_PRIMARY_CONTROL_PORT 0x3f6
#define ATA_PRIMARY_IRQ 14

enum ata_transfer {
    ATA_TRANSFER_NONE,
    ATA_TRANSFER_TO_HOST,      /* PIO data-in: READ SECTORS, IDENTIFY */
    ATA_TRANSFER_FROM_HOST,    /* PIO data-out: WRITE SECTORS */
};

struct ata_disk {
    int fd;                    /* the image, -1 when closed */
    uint64_t sector_count;     /* size of the image in sectors */
    struct irq_line irq;

    /* The task file (command block registers) and device control. */
    uint8_t features;
    uint8_t sector_count_register;
    uint8_t lba_low, lba_mid, lba_high;
    uint8_t device;            /* device/head register */
    uint8_t status;
    uint8_t error;
    uint8_t control;
    bool in_reset;             /* SRST set */

    /* The PIO transfer in progress. */
    enum ata_transfer transfer;
    uint8_t command;
    uint8_t buffer[ATA_SECTOR_SIZE];
    unsigned buffer_position;  /* bytes of buffer already moved */
    uint32_t sectors_left;     /* including the one in buffer */
    uint64_t current_lba;

    bool interrupt_pending;    /* INTRQ, before nIEN */
    bool irq_level;            /* what we drive on the IRQ line */

    uint32_t warned_commands[8];  /* opcodes already reported as not implemented */
    unsigned unit;             /* 0: master, 1: slave */
};

struct ata_channel {
    struct ata_disk *drives[2];   /* master, slave; NULL if absent */
    struct irq_line irq;          /* IRQ 14 */
    bool levels[2];               /* what each drive drives on it */
};

/* Opens the image read-write. On error returns -1 with a one-line message
 * in error and leaves the image as it was. */
int ata_open(struct ata_disk *disk, const char *path, struct irq_line irq, char *error,
             size_t error_len);
/* Claims 0x1f0-0x1f7 and 0x3f6. Returns 0 or -1. */
int ata_register(struct ata_disk *disk, struct bus *bus);
/* Puts an opened disk on the channel as master (0) or slave (1); the
 * channel's IRQ line replaces the one given to ata_open. */
void ata_channel_attach(struct ata_channel *channel, struct ata_disk *disk, unsigned unit);
/* Claims 0x1f0-0x1f7 and 0x3f6 for the channel. Returns 0 or -1. */
int ata_channel_register(struct ata_channel *channel, struct bus *bus);
/* The image itself, in whole sectors: [lba, lba + count) must lie in it.
 * 0, or -1 (out of range, or the host's read or write fell short). A write
 * that returned 0 is in the host's page cache; ata_image_flush (fsync) makes
 * it durable, as FLUSH CACHE does. The ATA registers above and the pv block
 * ring (core/pv/block.c) both go through these: one image, two interfaces. */
int ata_image_read(struct ata_disk *disk, uint64_t lba, uint32_t count, void *buffer);
int ata_image_write(struct ata_disk *disk, uint64_t lba, uint32_t count, const void *buffer);
int ata_image_flush(struct ata_disk *disk);
/* Syncs and closes the image. Safe to call twice. */
void ata_close(struct ata_disk *disk);

#endif
