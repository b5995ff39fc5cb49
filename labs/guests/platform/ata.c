/*
 * ata.c - two drives on the primary ATA channel (ATA-6, T13/1410D): the DEV
 * bit of the device register picks the drive that answers, as xv6's ide.c
 * uses it (its file system is on the slave). The test script gives both
 * drives a 1 MiB image whose sector 0 starts with "master" or "slave".
 *
 * Printed: each drive's IDENTIFY capacity (the model strings differ
 * between QEMU and vmlab, so they are not printed), sector 0 of each, a
 * sector written to the slave and read back, and the signature both
 * drives show after a software reset.
 */
#include "platform.h"

#define DATA 0x1f0
#define COUNT 0x1f2
#define LBA0 0x1f3
#define LBA1 0x1f4
#define LBA2 0x1f5
#define DEVICE 0x1f6
#define STATUS 0x1f7
#define CONTROL 0x3f6
#define BSY 0x80
#define DRQ 0x08
#define ERR 0x01

static uint8_t wait_ready(void)
{
    uint8_t status;
    for (int i = 0; i < 1000000; i++)
        if (!((status = inb(STATUS)) & BSY))
            return status;
    return 0xff;
}

static void select_drive(int slave, uint32_t lba)
{
    outb(DEVICE, (uint8_t)(0xe0 | slave << 4 | (lba >> 24 & 0x0f)));
    wait_ready();
}

static bool command(int slave, uint8_t cmd, uint32_t lba)
{
    select_drive(slave, lba);
    outb(COUNT, 1);
    outb(LBA0, (uint8_t)lba);
    outb(LBA1, (uint8_t)(lba >> 8));
    outb(LBA2, (uint8_t)(lba >> 16));
    outb(STATUS, cmd);
    uint8_t status = wait_ready();
    return (status & (DRQ | ERR)) == DRQ;
}

static uint16_t buffer[256];

static bool read_sector(int slave, uint32_t lba)
{
    if (!command(slave, 0x20, lba))
        return false;
    for (int i = 0; i < 256; i++)
        buffer[i] = inw(DATA);
    return true;
}

static void print_start(const char *what)
{
    const char *bytes = (const char *)buffer;
    printf("%s: \"", what);
    for (int i = 0; i < 16 && bytes[i] >= ' ' && bytes[i] < 127; i++)
        printf("%c", bytes[i]);
    printf("\"\n");
}

int probe_ata(void)
{
    outb(CONTROL, 0x02);   /* nIEN: polled, no interrupts */
    for (int slave = 0; slave < 2; slave++) {
        if (!command(slave, 0xec, 0)) {
            printf("FAIL: IDENTIFY on drive %d\n", slave);
            return 1;
        }
        for (int i = 0; i < 256; i++)
            buffer[i] = inw(DATA);
        printf("drive %d: IDENTIFY: %u sectors (LBA28)\n", slave,
               buffer[60] | (uint32_t)buffer[61] << 16);
    }
    for (int slave = 0; slave < 2; slave++) {
        if (!read_sector(slave, 0))
            printf("FAIL: read of drive %d\n", slave);
        print_start(slave ? "slave sector 0" : "master sector 0");
    }
    if (!command(1, 0x30, 1)) {
        printf("FAIL: write to the slave\n");
        return 1;
    }
    const char *text = "written to the slave's sector 1";
    memset(buffer, 0, sizeof buffer);
    memcpy(buffer, text, (size_t)str_len(text));
    for (int i = 0; i < 256; i++)
        outw(DATA, buffer[i]);
    wait_ready();
    read_sector(0, 1);
    print_start("master sector 1");
    read_sector(1, 1);
    print_start("slave sector 1");

    outb(CONTROL, 0x06);   /* SRST */
    outb(CONTROL, 0x02);
    wait_ready();
    for (int slave = 0; slave < 2; slave++) {
        outb(DEVICE, (uint8_t)(slave << 4));
        printf("after reset, drive %d: count %x LBA %x %x %x\n", slave, inb(COUNT), inb(LBA0),
               inb(LBA1), inb(LBA2));
    }
    return 0;
}
