/*
 * ata.c - the disk: the master drive on the primary ATA channel, in PIO
 * mode with 28-bit sector numbers (ATA/ATAPI-6, "PIO data-in / data-out
 * command protocol").
 *
 * The driver polls the status register instead of waiting for IRQ 14 (it
 * sets nIEN so the drive stays quiet): a request is one sector and the
 * kernel has nothing else to do meanwhile, so the interrupt would only tell
 * us what the status register already says.
 */
#include "kernel.h"
#include "arch.h"

#define ATA_DATA     0x1f0
#define ATA_COUNT    0x1f2
#define ATA_LBA0     0x1f3
#define ATA_LBA1     0x1f4
#define ATA_LBA2     0x1f5
#define ATA_DRIVE    0x1f6
#define ATA_STATUS   0x1f7     /* reads: status; writes: command */
#define ATA_CONTROL  0x3f6     /* writes: device control; reads: alternate status */

#define STATUS_ERR   0x01
#define STATUS_DRQ   0x08      /* the drive wants data, or has data for us */
#define STATUS_DF    0x20      /* drive fault */
#define STATUS_BSY   0x80
#define CONTROL_NIEN 0x02      /* no interrupts */
#define DRIVE_MASTER_LBA 0xe0
#define CMD_READ     0x20
#define CMD_WRITE    0x30
#define CMD_FLUSH    0xe7
#define CMD_IDENTIFY 0xec
#define POLL_LIMIT   1000000   /* a missing drive must not hang us */

static bool present;
static uint32_t sector_count;

/* Wait for BSY to clear; then, if want_data, for DRQ. 0 or -1 on error. */
static int wait_ready(bool want_data)
{
    for (int i = 0; i < POLL_LIMIT; i++) {
        uint8_t s = arch_inb(ATA_STATUS);
        if (s & STATUS_BSY)
            continue;
        if (s & (STATUS_ERR | STATUS_DF))
            return -1;
        if (!want_data || (s & STATUS_DRQ))
            return 0;
    }
    return -1;
}

/* After selecting a drive the status is valid only after 400 ns; four
 * reads of the alternate status take at least that long. */
static void select_delay(void)
{
    for (int i = 0; i < 4; i++)
        arch_inb(ATA_CONTROL);
}

static void issue(uint8_t command, uint32_t lba)
{
    arch_outb(ATA_DRIVE, DRIVE_MASTER_LBA | ((lba >> 24) & 0x0f));
    select_delay();
    arch_outb(ATA_COUNT, 1);
    arch_outb(ATA_LBA0, (uint8_t)lba);
    arch_outb(ATA_LBA1, (uint8_t)(lba >> 8));
    arch_outb(ATA_LBA2, (uint8_t)(lba >> 16));
    arch_outb(ATA_STATUS, command);
}

/* Is there a drive? IDENTIFY DEVICE answers with 256 words; words 60-61
 * hold the number of sectors addressable with LBA28. */
bool ata_init(void)
{
    arch_outb(ATA_CONTROL, CONTROL_NIEN);
    arch_outb(ATA_DRIVE, DRIVE_MASTER_LBA);
    select_delay();
    uint8_t status = arch_inb(ATA_STATUS);
    if (status == 0 || status == 0xff)        /* nothing on the bus */
        return false;
    arch_outb(ATA_STATUS, CMD_IDENTIFY);
    if (arch_inb(ATA_STATUS) == 0 || wait_ready(true) < 0)
        return false;
    uint16_t identify[256];
    for (int i = 0; i < 256; i++)
        identify[i] = arch_inw(ATA_DATA);
    sector_count = identify[60] | ((uint32_t)identify[61] << 16);
    present = true;
    return true;
}

int ata_read(uint32_t lba, void *buffer)
{
    if (!present || lba >= sector_count)
        return -1;
    issue(CMD_READ, lba);
    if (wait_ready(true) < 0)
        return -1;
    uint16_t *words = buffer;
    for (int i = 0; i < SECTOR_SIZE / 2; i++)
        words[i] = arch_inw(ATA_DATA);
    return 0;
}

/* Write one sector and flush the drive's cache, so the sector is in the
 * image file when the call returns. */
int ata_write(uint32_t lba, const void *buffer)
{
    if (!present || lba >= sector_count)
        return -1;
    issue(CMD_WRITE, lba);
    if (wait_ready(true) < 0)
        return -1;
    const uint16_t *words = buffer;
    for (int i = 0; i < SECTOR_SIZE / 2; i++)
        arch_outw(ATA_DATA, words[i]);
    if (wait_ready(false) < 0)
        return -1;
    arch_outb(ATA_STATUS, CMD_FLUSH);
    return wait_ready(false);
}
