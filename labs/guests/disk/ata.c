/*
 * ata.c - PIO access to the master drive of the primary ATA channel
 * (ATA/ATAPI-6, "PIO data-in/data-out command protocol"; the task-file
 * registers at 0x1f0-0x1f7, the alternate status at 0x3f6).
 */
#include "ata.h"

#define ATA_DATA     0x1f0
#define ATA_ERROR    0x1f1
#define ATA_COUNT    0x1f2
#define ATA_LBA_LOW  0x1f3
#define ATA_LBA_MID  0x1f4
#define ATA_LBA_HIGH 0x1f5
#define ATA_DEVICE   0x1f6
#define ATA_STATUS   0x1f7      /* reading it acknowledges the interrupt */
#define ATA_COMMAND  0x1f7
#define ATA_ALT_STATUS 0x3f6    /* the same status, with no side effect */

#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_DF  0x20
#define ST_BSY 0x80

#define DEVICE_LBA_MASTER 0xe0  /* bit 6 LBA, bits 7 and 5 obsolete-but-set */
#define SPIN_LIMIT 10000000

uint8_t ata_last_status;

/* Wait until BSY is clear, then require the bits in `want`. The four
 * alternate-status reads (each ISA I/O read takes at least 100 ns) give the
 * drive the 400 ns it may take to raise BSY after a command is written. */
static bool wait_ready(uint8_t want)
{
    for (int i = 0; i < 4; i++)
        inb(ATA_ALT_STATUS);
    for (int i = 0; i < SPIN_LIMIT; i++) {
        uint8_t st = inb(ATA_STATUS);
        ata_last_status = st;
        if (st == 0xff)
            return false;               /* floating bus: no drive */
        if (st & ST_BSY)
            continue;
        if (st & (ST_ERR | ST_DF))
            return false;
        return (st & want) == want;
    }
    return false;
}

static void select_lba(uint32_t lba, uint8_t count)
{
    outb(ATA_DEVICE, DEVICE_LBA_MASTER | ((lba >> 24) & 0x0f));
    outb(ATA_COUNT, count);
    outb(ATA_LBA_LOW, lba & 0xff);
    outb(ATA_LBA_MID, (lba >> 8) & 0xff);
    outb(ATA_LBA_HIGH, (lba >> 16) & 0xff);
}

bool ata_identify(uint16_t words[256])
{
    outb(ATA_DEVICE, DEVICE_LBA_MASTER);
    outb(ATA_COMMAND, 0xec);            /* IDENTIFY DEVICE */
    if (!wait_ready(ST_DRQ))
        return false;
    for (int i = 0; i < 256; i++)
        words[i] = inw(ATA_DATA);
    return true;
}

bool ata_read(uint32_t lba, uint8_t count, void *buf)
{
    uint16_t *w = buf;
    select_lba(lba, count);
    outb(ATA_COMMAND, 0x20);            /* READ SECTORS */
    for (int s = 0; s < count; s++) {
        if (!wait_ready(ST_DRQ))        /* one DRQ block per sector */
            return false;
        for (int i = 0; i < 256; i++)
            *w++ = inw(ATA_DATA);
    }
    return true;
}

bool ata_write(uint32_t lba, uint8_t count, const void *buf)
{
    const uint16_t *w = buf;
    select_lba(lba, count);
    outb(ATA_COMMAND, 0x30);            /* WRITE SECTORS */
    for (int s = 0; s < count; s++) {
        if (!wait_ready(ST_DRQ))
            return false;
        for (int i = 0; i < 256; i++)
            outw(ATA_DATA, *w++);
    }
    return wait_ready(0);               /* BSY clears when the last sector is taken */
}

bool ata_flush(void)
{
    outb(ATA_DEVICE, DEVICE_LBA_MASTER);
    outb(ATA_COMMAND, 0xe7);            /* FLUSH CACHE */
    return wait_ready(0);
}
