/*
 * disk - writes a pattern to sectors 1-8 of the ATA disk, flushes, reads it
 * back and compares; reports the size IDENTIFY DEVICE gives. The test runner
 * then checks the image file on the host, so the data must really reach it.
 *
 * Sector s holds the line "vmlab disk sector s\n" repeated and cut at 512
 * bytes: the same bytes as `yes "vmlab disk sector s" | head -c 512`.
 */
#include "ata.h"

#define FIRST 1
#define COUNT 8

static uint8_t pattern[COUNT * SECTOR_SIZE], readback[COUNT * SECTOR_SIZE];
static uint8_t sector0[SECTOR_SIZE];
static uint16_t identify[256];

static void make_pattern(void)
{
    char line[32] = "vmlab disk sector ?\n";
    int len = str_len(line);
    for (int s = 0; s < COUNT; s++) {
        line[len - 2] = (char)('0' + FIRST + s);
        for (int i = 0; i < SECTOR_SIZE; i++)
            pattern[s * SECTOR_SIZE + i] = (uint8_t)line[i % len];
    }
}

static int fail(const char *what)
{
    printf("FAIL: %s (status %02x)\n", what, ata_last_status);
    return 1;
}

int guest_main(void)
{
    printf("disk: primary ATA master, PIO\n");
    if (!ata_identify(identify))
        return fail("IDENTIFY DEVICE");
    /* ATA-6, IDENTIFY DEVICE words 60-61: sectors addressable with LBA28. */
    uint32_t sectors = identify[60] | (uint32_t)identify[61] << 16;
    printf("IDENTIFY: %u sectors (%u KiB)\n", sectors, sectors / 2);

    make_pattern();
    if (!ata_write(FIRST, COUNT, pattern))
        return fail("WRITE SECTORS");
    if (!ata_flush())
        return fail("FLUSH CACHE");
    printf("wrote sectors %u-%u and flushed\n", FIRST, FIRST + COUNT - 1);

    if (!ata_read(FIRST, COUNT, readback))
        return fail("READ SECTORS");
    int first_bad = -1;
    for (int i = 0; i < COUNT * SECTOR_SIZE && first_bad < 0; i++)
        if (readback[i] != pattern[i])
            first_bad = i;
    if (first_bad >= 0)
        printf("read back: byte %d differs: %02x, want %02x\n", first_bad,
               readback[first_bad], pattern[first_bad]);
    else
        printf("read back: all %u bytes match\n", COUNT * SECTOR_SIZE);
    CHECK(first_bad < 0, "read-back mismatch");

    if (!ata_read(0, 1, sector0))
        return fail("READ SECTORS (sector 0)");
    bool zero = true;
    for (int i = 0; i < SECTOR_SIZE; i++)
        zero = zero && sector0[i] == 0;
    printf("sector 0: %s\n", zero ? "still zero" : "changed");
    CHECK(zero, "sector 0 was written");
    printf("disk: %s\n", checks_failed ? "FAILED" : "all checks passed");
    return checks_failed ? 1 : 0;
}
