/*
 * test_ata.c - the ATA PIO disk against temporary image files: opening,
 * IDENTIFY, reading, writing through to the file, FLUSH, errors, interrupts,
 * reset and the absent slave.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/dev/ata.h"
#include "core/dev/bus.h"

#define IMAGE_SECTORS 300

#define DATA 0x1f0
#define ERROR_REG 0x1f1
#define COUNT 0x1f2
#define LBA_LOW 0x1f3
#define LBA_MID 0x1f4
#define LBA_HIGH 0x1f5
#define DEVICE 0x1f6
#define STATUS 0x1f7
#define COMMAND 0x1f7
#define CONTROL 0x3f6

#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_DRDY 0x40
#define ST_BSY 0x80

struct irq_recorder {
    int level;
    int rising_edges;
};

static struct bus bus;
static struct ata_disk disk;
static struct irq_recorder irq14;
static char image_path[64];
static bool disk_open;

static void record_level(void *controller, int irq, int level)
{
    struct irq_recorder *recorder = controller;
    cr_assert_eq(irq, 14);
    if (level && !recorder->level)
        recorder->rising_edges++;
    recorder->level = level;
}

static struct irq_line irq_line(void) { return (struct irq_line){ record_level, &irq14, 14 }; }

static uint8_t pattern_byte(uint64_t sector, unsigned offset)
{
    return (uint8_t)(sector * 31 + offset * 7 + (offset >> 8));
}

/* A fresh temporary file of `bytes` bytes filled with the pattern. */
static void make_image(size_t bytes)
{
    strcpy(image_path, "/tmp/vmlab-ata-XXXXXX");
    int fd = mkstemp(image_path);
    cr_assert_geq(fd, 0);
    for (size_t i = 0; i < bytes; i++) {
        uint8_t b = pattern_byte(i / 512, (unsigned)(i % 512));
        cr_assert_eq(write(fd, &b, 1), 1);
    }
    close(fd);
}

static void outb(uint16_t port, uint8_t value) { bus_port_write(&bus, port, 1, value); }
static uint8_t inb(uint16_t port) { return (uint8_t)bus_port_read(&bus, port, 1); }
static uint16_t inw(uint16_t port) { return (uint16_t)bus_port_read(&bus, port, 2); }
static void outw(uint16_t port, uint16_t value) { bus_port_write(&bus, port, 2, value); }

static void open_disk(void)
{
    char error[256] = "";
    bus = (struct bus){0};
    irq14 = (struct irq_recorder){0};
    make_image(IMAGE_SECTORS * 512);
    cr_assert_eq(ata_open(&disk, image_path, irq_line(), error, sizeof error), 0, "%s", error);
    cr_assert_eq(ata_register(&disk, &bus), 0);
    disk_open = true;
}

static void cleanup(void)
{
    if (disk_open)
        ata_close(&disk);
    disk_open = false;
    if (image_path[0]) {
        chmod(image_path, 0600);
        unlink(image_path);
    }
    image_path[0] = 0;
}

/* Select the master in LBA mode and load address and count. */
static void set_lba(uint32_t lba, uint8_t count)
{
    outb(DEVICE, (uint8_t)(0xe0 | ((lba >> 24) & 0x0f)));
    outb(COUNT, count);
    outb(LBA_LOW, (uint8_t)lba);
    outb(LBA_MID, (uint8_t)(lba >> 8));
    outb(LBA_HIGH, (uint8_t)(lba >> 16));
}

static void read_sector_words(uint8_t *out)
{
    for (int i = 0; i < 256; i++) {
        uint16_t word = inw(DATA);
        out[2 * i] = (uint8_t)word;
        out[2 * i + 1] = (uint8_t)(word >> 8);
    }
}

static void assert_sector_is_pattern(const uint8_t *data, uint64_t sector)
{
    for (unsigned i = 0; i < 512; i++)
        cr_assert_eq(data[i], pattern_byte(sector, i), "sector %llu byte %u",
                     (unsigned long long)sector, i);
}

static void read_file_sector(uint64_t sector, uint8_t *out)
{
    int fd = open(image_path, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, out, 512, (off_t)(sector * 512)), 512);
    close(fd);
}

TestSuite(ata, .init = open_disk, .fini = cleanup);
TestSuite(ata_open, .fini = cleanup);

/* ---- opening images ---------------------------------------------------- */

static void assert_open_fails(const char *path, const char *expected_words)
{
    char error[256] = "";
    struct ata_disk d;
    cr_assert_eq(ata_open(&d, path, irq_line(), error, sizeof error), -1);
    cr_assert_neq(error[0], 0, "an error message");
    cr_assert_null(strchr(error, '\n'), "one line");
    cr_assert_not_null(strstr(error, expected_words), "'%s' should say '%s'", error,
                       expected_words);
    cr_assert_eq(d.fd, -1);
}

Test(ata_open, missing_file_is_an_error)
{
    assert_open_fails("/tmp/vmlab-no-such-image.img", "No such file");
}

Test(ata_open, directory_is_an_error)
{
    assert_open_fails("/tmp", "directory");
}

Test(ata_open, device_file_is_an_error)
{
    assert_open_fails("/dev/null", "not a regular file");
}

Test(ata_open, fifo_is_an_error_and_does_not_hang, .timeout = 10)
{
    strcpy(image_path, "/tmp/vmlab-ata-fifo-XXXXXX");
    int fd = mkstemp(image_path);
    cr_assert_geq(fd, 0);
    close(fd);
    unlink(image_path);
    cr_assert_eq(mkfifo(image_path, 0600), 0);
    assert_open_fails(image_path, "not a regular file");
}

Test(ata_open, empty_file_is_an_error)
{
    make_image(0);
    assert_open_fails(image_path, "empty");
}

Test(ata_open, partial_sector_is_an_error_and_the_file_is_untouched)
{
    make_image(1000);
    struct stat before, after;
    stat(image_path, &before);
    assert_open_fails(image_path, "not a whole number");
    stat(image_path, &after);
    cr_assert_eq(after.st_size, 1000);
    cr_assert_eq(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
    cr_assert_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
}

/* Root may open a 0444 file read-write, so ata_open checks the mode bits
 * explicitly: this test holds as root and as a normal user. */
Test(ata_open, read_only_file_is_an_error)
{
    make_image(4 * 512);
    cr_assert_eq(chmod(image_path, 0444), 0);
    assert_open_fails(image_path, "read-only");
}

/* The other way an image is read-only: open(O_RDWR) itself fails. As root
 * that needs another user, so a child process drops to "nobody" (uid
 * 65534) and tries a root-owned 0644 image. */
Test(ata_open, image_the_user_may_not_write_is_an_error)
{
    make_image(4 * 512);
    cr_assert_eq(chmod(image_path, 0644), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        if (geteuid() == 0 && setuid(65534) < 0)
            _exit(2);
        char error[256] = "";
        struct ata_disk d;
        int result = ata_open(&d, image_path, irq_line(), error, sizeof error);
        bool said_read_only = strstr(error, "read-only") != NULL;
        _exit(result == -1 && said_read_only && d.fd == -1 ? 0 : 1);
    }
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "open(O_RDWR) refused must read as read-only");
}

Test(ata_open, a_second_open_of_the_same_image_is_refused)
{
    char error[256];
    struct ata_disk first;
    make_image(4 * 512);
    cr_assert_eq(ata_open(&first, image_path, irq_line(), error, sizeof error), 0);
    assert_open_fails(image_path, "in use");
    ata_close(&first);
    cr_assert_eq(first.fd, -1);
    ata_close(&first);   /* twice is harmless */
}

Test(ata_open, good_image_reports_its_size)
{
    char error[256];
    struct ata_disk d;
    make_image(8 * 512);
    cr_assert_eq(ata_open(&d, image_path, irq_line(), error, sizeof error), 0);
    cr_assert_eq(d.sector_count, 8);
    ata_close(&d);
}

/* ---- commands ----------------------------------------------------------- */

Test(ata, reset_state_carries_the_ata_signature)
{
    cr_assert_eq(inb(STATUS) & (ST_BSY | ST_DRDY | ST_DRQ | ST_ERR), ST_DRDY);
    cr_assert_eq(inb(COUNT), 1);
    cr_assert_eq(inb(LBA_LOW), 1);
    cr_assert_eq(inb(LBA_MID), 0);
    cr_assert_eq(inb(LBA_HIGH), 0);
    cr_assert_eq(inb(ERROR_REG), 0x01);
}

Test(ata, identify_describes_the_disk)
{
    outb(DEVICE, 0xa0);
    outb(COMMAND, 0xec);
    cr_assert_eq(irq14.rising_edges, 1);
    uint8_t status = inb(STATUS);
    cr_assert_eq(status & (ST_DRQ | ST_ERR | ST_BSY), ST_DRQ);
    uint16_t words[256];
    for (int i = 0; i < 256; i++)
        words[i] = inw(DATA);
    cr_assert_eq(words[0], 0x0040);
    cr_assert_eq(words[49] & 0x0200, 0x0200, "LBA supported");
    cr_assert_eq(words[60] | (uint32_t)words[61] << 16, IMAGE_SECTORS);
    char model[41];
    for (int i = 0; i < 20; i++) {
        model[2 * i] = (char)(words[27 + i] >> 8);
        model[2 * i + 1] = (char)words[27 + i];
    }
    model[40] = 0;
    cr_assert_eq(strncmp(model, "VMLAB ATA DISK      ", 20), 0, "model '%s'", model);
    cr_assert_eq(words[83] & 0x1000, 0x1000, "FLUSH CACHE supported");
    cr_assert_eq(inb(STATUS) & ST_DRQ, 0, "all 256 words read: DRQ clear");
    cr_assert_eq(irq14.rising_edges, 1, "no interrupt after the last data-in word");
}

Test(ata, identify_through_32_bit_reads)
{
    outb(COMMAND, 0xec);
    uint32_t first = bus_port_read(&bus, DATA, 4);
    cr_assert_eq(first & 0xffff, 0x0040);
    for (int i = 1; i < 128; i++) {
        uint32_t pair = bus_port_read(&bus, DATA, 4);
        if (i == 30)
            cr_assert_eq(pair, IMAGE_SECTORS, "words 60-61 as one dword");
    }
    cr_assert_eq(inb(STATUS) & ST_DRQ, 0);
}

Test(ata, read_sectors_returns_the_image_with_an_interrupt_per_sector)
{
    set_lba(5, 2);
    outb(COMMAND, 0x20);
    uint8_t data[512];
    cr_assert_eq(irq14.rising_edges, 1);
    cr_assert_eq(inb(STATUS) & (ST_DRQ | ST_ERR), ST_DRQ);
    read_sector_words(data);
    assert_sector_is_pattern(data, 5);
    cr_assert_eq(irq14.rising_edges, 2, "the second sector interrupts again");
    cr_assert_eq(inb(STATUS) & (ST_DRQ | ST_ERR), ST_DRQ);
    read_sector_words(data);
    assert_sector_is_pattern(data, 6);
    cr_assert_eq(inb(STATUS) & (ST_DRQ | ST_ERR | ST_BSY), 0);
    cr_assert_eq(inb(LBA_LOW), 6, "the task file names the last sector");
}

Test(ata, chs_address_is_translated_with_the_reported_geometry)
{
    /* Cylinder 0, head 1, sector 3 = LBA (0 * 16 + 1) * 63 + 2 = 65. */
    outb(DEVICE, 0xa1);
    outb(COUNT, 1);
    outb(LBA_LOW, 3);
    outb(LBA_MID, 0);
    outb(LBA_HIGH, 0);
    outb(COMMAND, 0x20);
    uint8_t data[512];
    read_sector_words(data);
    assert_sector_is_pattern(data, 65);
}

Test(ata, write_sectors_reaches_the_file_sector_by_sector)
{
    set_lba(3, 2);
    outb(COMMAND, 0x30);
    cr_assert_eq(irq14.rising_edges, 0, "PIO data-out: no interrupt before the first sector");
    cr_assert_eq(inb(0x3f6) & ST_DRQ, ST_DRQ);
    for (int i = 0; i < 256; i++)
        outw(DATA, (uint16_t)(0xa000 + i));
    cr_assert_eq(irq14.rising_edges, 1);
    uint8_t file[512];
    read_file_sector(3, file);
    cr_assert_eq(file[0], 0x00);
    cr_assert_eq(file[1], 0xa0);
    cr_assert_eq(file[511], 0xa0);
    cr_assert_eq(file[510], 0xff);
    read_file_sector(4, file);
    assert_sector_is_pattern(file, 4);   /* not yet written */
    cr_assert_eq(inb(STATUS) & ST_DRQ, ST_DRQ, "the second sector is requested");
    for (int i = 0; i < 128; i++)
        bus_port_write(&bus, DATA, 4, 0x55aa0000u + (uint32_t)i);
    cr_assert_eq(irq14.rising_edges, 2, "completion interrupt");
    cr_assert_eq(inb(STATUS) & (ST_DRQ | ST_ERR | ST_BSY), 0);
    read_file_sector(4, file);
    cr_assert_eq(file[0], 0x00);
    cr_assert_eq(file[2], 0xaa);
    cr_assert_eq(file[3], 0x55);
    read_file_sector(5, file);
    assert_sector_is_pattern(file, 5);

    set_lba(3, 1);
    outb(COMMAND, 0x20);
    uint8_t data[512];
    read_sector_words(data);
    cr_assert_eq(data[2], 0x01, "read back what was written");
    cr_assert_eq(data[3], 0xa0);
}

Test(ata, sector_count_zero_means_256)
{
    set_lba(0, 0);
    outb(COMMAND, 0x30);
    for (int sector = 0; sector < 256; sector++) {
        cr_assert_eq(inb(STATUS) & ST_DRQ, ST_DRQ, "sector %d requested", sector);
        for (int i = 0; i < 256; i++)
            outw(DATA, (uint16_t)sector);
    }
    cr_assert_eq(inb(STATUS) & (ST_DRQ | ST_ERR), 0);
    uint8_t file[512];
    read_file_sector(255, file);
    cr_assert_eq(file[0], 255);
    read_file_sector(256, file);
    assert_sector_is_pattern(file, 256);
}

Test(ata, flush_cache_completes_with_an_interrupt)
{
    outb(DEVICE, 0xe0);
    outb(COMMAND, 0xe7);
    cr_assert_eq(irq14.rising_edges, 1);
    cr_assert_eq(inb(STATUS) & (ST_ERR | ST_DRQ | ST_BSY | ST_DRDY), ST_DRDY);
}

Test(ata, set_features_is_accepted)
{
    outb(0x1f1, 0x03);
    outb(COUNT, 0x0c);
    outb(COMMAND, 0xef);
    cr_assert_eq(inb(STATUS) & ST_ERR, 0);
    cr_assert_eq(irq14.rising_edges, 1);
}

Test(ata, set_features_refuses_what_the_disk_cannot_do)
{
    outb(0x1f1, 0x03);
    outb(COUNT, 0x45);     /* UDMA mode 5 */
    outb(COMMAND, 0xef);
    cr_assert_eq(inb(STATUS) & ST_ERR, ST_ERR);
    cr_assert_eq(inb(ERROR_REG), 0x04);
    outb(0x1f1, 0x01);     /* 8-bit PIO */
    outb(COMMAND, 0xef);
    cr_assert_eq(inb(STATUS) & ST_ERR, ST_ERR);
}

Test(ata, unknown_command_aborts)
{
    outb(COMMAND, 0xc8);   /* READ DMA: not implemented */
    cr_assert_eq(inb(STATUS) & (ST_ERR | ST_DRQ), ST_ERR);
    cr_assert_eq(inb(ERROR_REG), 0x04, "ABRT");
    cr_assert_eq(irq14.rising_edges, 1);
}

Test(ata, read_beyond_the_end_sets_idnf)
{
    set_lba(IMAGE_SECTORS, 1);
    outb(COMMAND, 0x20);
    cr_assert_eq(inb(STATUS) & (ST_ERR | ST_DRQ), ST_ERR);
    cr_assert_eq(inb(ERROR_REG), 0x10, "IDNF");
}

Test(ata, read_running_off_the_end_stops_at_the_first_missing_sector)
{
    set_lba(IMAGE_SECTORS - 1, 2);
    outb(COMMAND, 0x20);
    uint8_t data[512];
    cr_assert_eq(inb(STATUS) & ST_DRQ, ST_DRQ);
    read_sector_words(data);
    assert_sector_is_pattern(data, IMAGE_SECTORS - 1);
    cr_assert_eq(inb(STATUS) & (ST_ERR | ST_DRQ), ST_ERR);
    cr_assert_eq(inb(ERROR_REG), 0x10);
}

Test(ata, write_beyond_the_end_sets_idnf_and_leaves_the_file_alone)
{
    struct stat before;
    stat(image_path, &before);
    set_lba(IMAGE_SECTORS + 10, 1);
    outb(COMMAND, 0x30);
    cr_assert_eq(inb(STATUS) & (ST_ERR | ST_DRQ), ST_ERR);
    cr_assert_eq(inb(ERROR_REG), 0x10);
    for (int i = 0; i < 256; i++)
        outw(DATA, 0xffff);
    struct stat after;
    stat(image_path, &after);
    cr_assert_eq(after.st_size, before.st_size, "the image did not grow");
}

Test(ata, reading_status_clears_the_interrupt_but_alternate_status_does_not)
{
    outb(COMMAND, 0xe7);
    cr_assert_eq(irq14.level, 1);
    inb(CONTROL);
    cr_assert_eq(irq14.level, 1, "alternate status leaves INTRQ asserted");
    inb(STATUS);
    cr_assert_eq(irq14.level, 0);
}

Test(ata, nien_keeps_the_interrupt_off_the_line)
{
    outb(CONTROL, 0x02);
    outb(COMMAND, 0xe7);
    cr_assert_eq(irq14.rising_edges, 0);
    outb(CONTROL, 0x00);
    cr_assert_eq(irq14.level, 1, "the pending interrupt shows once nIEN clears");
}

Test(ata, software_reset_restores_the_signature)
{
    set_lba(7, 9);
    outb(COMMAND, 0x20);
    outb(CONTROL, 0x04);
    cr_assert_eq(inb(STATUS) & ST_BSY, ST_BSY);
    outb(CONTROL, 0x00);
    cr_assert_eq(inb(STATUS) & (ST_BSY | ST_DRQ | ST_DRDY), ST_DRDY, "transfer abandoned");
    cr_assert_eq(inb(COUNT), 1);
    cr_assert_eq(inb(LBA_LOW), 1);
    cr_assert_eq(inb(ERROR_REG), 0x01);
}

Test(ata, the_slave_is_absent)
{
    outb(DEVICE, 0xb0);
    cr_assert_eq(inb(STATUS), 0);
    cr_assert_eq(inb(CONTROL), 0);
    outb(COMMAND, 0xec);
    cr_assert_eq(irq14.rising_edges, 0, "nobody answers");
    cr_assert_eq(inb(STATUS), 0);
    outb(DEVICE, 0xa0);
    cr_assert_eq(inb(STATUS) & ST_DRQ, 0, "the master did not run the slave's command");
}

Test(ata, only_the_selected_device_drives_intrq)
{
    outb(COMMAND, 0xe7);
    cr_assert_eq(irq14.level, 1);
    outb(DEVICE, 0xb0);
    cr_assert_eq(irq14.level, 0, "the absent slave drives nothing");
    outb(DEVICE, 0xa0);
    cr_assert_eq(irq14.level, 1, "the master's interrupt is still pending");
}

Test(ata, data_port_without_a_transfer_is_quiet)
{
    cr_assert_eq(inw(DATA), 0);
    outw(DATA, 0x1234);
    uint8_t file[512];
    read_file_sector(0, file);
    assert_sector_is_pattern(file, 0);
}

/* ---- the image functions the pv block ring shares (ata_image_*) ---------- */

Test(ata, image_read_and_write_whole_sectors)
{
    uint8_t data[2 * 512], back[512];
    cr_assert_eq(ata_image_read(&disk, 2, 2, data), 0);
    assert_sector_is_pattern(data, 2);
    assert_sector_is_pattern(data + 512, 3);
    memset(data, 0x5a, 512);
    cr_assert_eq(ata_image_write(&disk, 4, 1, data), 0);
    cr_assert_eq(ata_image_flush(&disk), 0);
    read_file_sector(4, back);
    cr_assert_eq(memcmp(back, data, 512), 0, "the write is in the file");
}

Test(ata, image_refuses_ranges_outside_the_image)
{
    uint8_t data[2 * 512];
    cr_assert_eq(ata_image_read(&disk, IMAGE_SECTORS, 1, data), -1, "the sector after the image");
    cr_assert_eq(ata_image_read(&disk, IMAGE_SECTORS - 1, 2, data), -1, "a range across the end");
    cr_assert_eq(ata_image_write(&disk, UINT64_MAX, 2, data), -1, "a range that wraps");
    cr_assert_eq(ata_image_write(&disk, IMAGE_SECTORS - 1, 2, data), -1, "a write across the end");
    struct stat info;
    cr_assert_eq(stat(image_path, &info), 0);
    cr_assert_eq(info.st_size, IMAGE_SECTORS * 512, "the image did not grow");
    cr_assert_eq(ata_image_read(&disk, 0, 0, data), -1, "no sectors");
    cr_assert_eq(ata_image_read(&disk, IMAGE_SECTORS - 1, 1, data), 0, "the last sector");
}
