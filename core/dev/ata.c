/*
 * ata.c - an ATA PIO hard disk backed by an image file.
 *
 * Protocols are those of ATA/ATAPI-6 (T13/1410D), clause 9 "Protocol":
 *  - PIO data-in (READ SECTORS, IDENTIFY): for every sector the device fills
 *    its buffer, sets DRQ and asserts INTRQ; the host reads 256 words.
 *  - PIO data-out (WRITE SECTORS): the device sets DRQ without an interrupt
 *    for the first sector; after each sector the host wrote it asserts
 *    INTRQ, with DRQ set again if more sectors follow.
 *  - Non-data (FLUSH CACHE, SET FEATURES ...): INTRQ at completion.
 * Reading the status register clears INTRQ; the alternate status register
 * (0x3f6) does not. nIEN in device control keeps INTRQ off the IRQ line.
 */
#include "ata.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Task file registers, offsets from 0x1f0. */
enum ata_register {
    ATA_DATA = 0,
    ATA_ERROR_FEATURES = 1,
    ATA_SECTOR_COUNT = 2,
    ATA_LBA_LOW = 3,        /* CHS: sector number */
    ATA_LBA_MID = 4,        /* CHS: cylinder low */
    ATA_LBA_HIGH = 5,       /* CHS: cylinder high */
    ATA_DEVICE = 6,
    ATA_STATUS_COMMAND = 7,
};

#define STATUS_ERR 0x01
#define STATUS_DRQ 0x08
#define STATUS_DSC 0x10     /* seek complete (obsolete, but old drivers wait for it) */
#define STATUS_DRDY 0x40
#define STATUS_BSY 0x80
#define STATUS_READY (STATUS_DRDY | STATUS_DSC)

#define ERROR_ABRT 0x04
#define ERROR_IDNF 0x10
#define ERROR_UNC 0x40
#define DIAGNOSTIC_PASSED 0x01  /* error register after reset or diagnostics */

#define DEVICE_DEV 0x10     /* 0: master, 1: slave */
#define DEVICE_LBA 0x40

#define CONTROL_NIEN 0x02
#define CONTROL_SRST 0x04

#define COMMAND_RECALIBRATE 0x10    /* 0x10-0x1f */
#define COMMAND_READ_SECTORS 0x20
#define COMMAND_READ_SECTORS_NO_RETRY 0x21
#define COMMAND_WRITE_SECTORS 0x30
#define COMMAND_WRITE_SECTORS_NO_RETRY 0x31
#define COMMAND_EXECUTE_DIAGNOSTIC 0x90
#define COMMAND_INITIALIZE_PARAMETERS 0x91
#define COMMAND_FLUSH_CACHE 0xe7
#define COMMAND_IDENTIFY 0xec
#define COMMAND_SET_FEATURES 0xef

/* The CHS geometry we report: the usual translation of large disks. */
#define GEOMETRY_HEADS 16
#define GEOMETRY_SECTORS_PER_TRACK 63
#define GEOMETRY_MAX_CYLINDERS 16383
#define LBA28_LIMIT (1u << 28)

/* The DEV bit of the device register picks the drive that answers; both
 * drives of a channel latch every register write (ATA-6, 5.2.8). */
static bool other_selected(const struct ata_disk *disk)
{
    return ((disk->device & DEVICE_DEV) ? 1u : 0u) != disk->unit;
}

/* Sectors addressable with LBA28 commands. */
static uint64_t addressable_sectors(const struct ata_disk *disk)
{
    return disk->sector_count < LBA28_LIMIT ? disk->sector_count : LBA28_LIMIT;
}

static uint32_t geometry_cylinders(const struct ata_disk *disk)
{
    uint64_t cylinders = disk->sector_count / (GEOMETRY_HEADS * GEOMETRY_SECTORS_PER_TRACK);
    if (cylinders > GEOMETRY_MAX_CYLINDERS)
        cylinders = GEOMETRY_MAX_CYLINDERS;
    return cylinders ? (uint32_t)cylinders : 1;
}

/* ATA-2, signal INTRQ: asserted only while an interrupt is pending, the
 * device is selected and nIEN is clear; otherwise high impedance. With an
 * absent drive selected nobody drives the line, which the PC sees as low. */
static void update_irq(struct ata_disk *disk)
{
    bool level = disk->interrupt_pending && !(disk->control & CONTROL_NIEN) &&
                 !other_selected(disk);
    if (level != disk->irq_level) {
        disk->irq_level = level;
        irq_set(&disk->irq, level);
    }
}

static void raise_interrupt(struct ata_disk *disk)
{
    disk->interrupt_pending = true;
    update_irq(disk);
}

/* The registers as after a reset: the ATA signature (count 1, LBA 0:0:1)
 * and "device 0 passed, device 1 absent" in the error register. */
static void set_signature(struct ata_disk *disk)
{
    disk->sector_count_register = 1;
    disk->lba_low = 1;
    disk->lba_mid = 0;
    disk->lba_high = 0;
    disk->device = 0;
    disk->error = DIAGNOSTIC_PASSED;
    disk->status = STATUS_READY;
    disk->transfer = ATA_TRANSFER_NONE;
}

/* The sector the task file names, or UINT64_MAX if it names none (CHS
 * sector numbers start at 1). */
static uint64_t task_file_address(const struct ata_disk *disk)
{
    if (disk->device & DEVICE_LBA)
        return (uint64_t)(disk->device & 0x0f) << 24 | (uint32_t)disk->lba_high << 16 |
               (uint32_t)disk->lba_mid << 8 | disk->lba_low;
    uint32_t cylinder = (uint32_t)disk->lba_high << 8 | disk->lba_mid;
    uint32_t head = disk->device & 0x0f;
    if (disk->lba_low == 0 || disk->lba_low > GEOMETRY_SECTORS_PER_TRACK)
        return UINT64_MAX;
    return ((uint64_t)cylinder * GEOMETRY_HEADS + head) * GEOMETRY_SECTORS_PER_TRACK +
           disk->lba_low - 1;
}

/* After a transfer (or an error) the task file holds the address of the
 * last sector transferred (or of the sector in error). */
static void set_task_file_address(struct ata_disk *disk, uint64_t lba)
{
    if (disk->device & DEVICE_LBA) {
        disk->lba_low = (uint8_t)lba;
        disk->lba_mid = (uint8_t)(lba >> 8);
        disk->lba_high = (uint8_t)(lba >> 16);
        disk->device = (uint8_t)((disk->device & 0xf0) | ((lba >> 24) & 0x0f));
        return;
    }
    uint64_t track = lba / GEOMETRY_SECTORS_PER_TRACK;
    uint64_t cylinder = track / GEOMETRY_HEADS;
    disk->lba_low = (uint8_t)(lba % GEOMETRY_SECTORS_PER_TRACK + 1);
    disk->lba_mid = (uint8_t)cylinder;
    disk->lba_high = (uint8_t)(cylinder >> 8);
    disk->device = (uint8_t)((disk->device & 0xf0) | (track % GEOMETRY_HEADS));
}

static void command_done(struct ata_disk *disk)
{
    disk->transfer = ATA_TRANSFER_NONE;
    disk->status = STATUS_READY;
    raise_interrupt(disk);
}

static void command_failed(struct ata_disk *disk, uint8_t error)
{
    disk->transfer = ATA_TRANSFER_NONE;
    disk->error = error;
    disk->status = STATUS_READY | STATUS_ERR;
    raise_interrupt(disk);
}

static bool sector_in_range(const struct ata_disk *disk, uint64_t lba)
{
    return lba < addressable_sectors(disk);
}

/* ---- IDENTIFY DEVICE --------------------------------------------------- */

/* ATA strings: two characters per word, the first in the high byte, padded
 * with spaces (ATA-6, 3.2.9 "Byte ordering for ATA strings"). */
static void put_string(uint16_t *words, int first_word, int word_count, const char *text)
{
    size_t length = strlen(text);
    for (int i = 0; i < word_count * 2; i++) {
        uint8_t c = (size_t)i < length ? (uint8_t)text[i] : ' ';
        if (i % 2 == 0)
            words[first_word + i / 2] = (uint16_t)(c << 8);
        else
            words[first_word + i / 2] |= c;
    }
}

static void build_identify(const struct ata_disk *disk, uint16_t words[256])
{
    uint32_t cylinders = geometry_cylinders(disk);
    uint32_t chs_sectors = cylinders * GEOMETRY_HEADS * GEOMETRY_SECTORS_PER_TRACK;
    uint32_t lba_sectors = (uint32_t)addressable_sectors(disk);

    memset(words, 0, 256 * sizeof words[0]);
    words[0] = 0x0040;                      /* fixed (non-removable) ATA device */
    words[1] = (uint16_t)cylinders;
    words[3] = GEOMETRY_HEADS;
    words[6] = GEOMETRY_SECTORS_PER_TRACK;
    put_string(words, 10, 10, disk->unit ? "VMLAB00000002" : "VMLAB00000001");   /* serial */
    put_string(words, 23, 4, "1.0");                  /* firmware revision */
    put_string(words, 27, 20, "VMLAB ATA DISK");      /* model number */
    words[47] = 0x8000;                     /* READ/WRITE MULTIPLE: not supported */
    words[49] = 0x0200;                     /* LBA supported (no DMA) */
    words[50] = 0x4000;
    words[53] = 0x0001;                     /* words 54-58 are valid */
    words[54] = (uint16_t)cylinders;
    words[55] = GEOMETRY_HEADS;
    words[56] = GEOMETRY_SECTORS_PER_TRACK;
    words[57] = (uint16_t)chs_sectors;
    words[58] = (uint16_t)(chs_sectors >> 16);
    words[60] = (uint16_t)lba_sectors;      /* LBA28 capacity, low word first */
    words[61] = (uint16_t)(lba_sectors >> 16);
    words[80] = 0x007e;                     /* ATA-1 to ATA-6 */
    words[82] = 0x0000;
    words[83] = 0x5000;                     /* FLUSH CACHE supported; bit 14 must be one */
    words[84] = 0x4000;
    words[85] = 0x0000;
    words[86] = 0x1000;                     /* FLUSH CACHE enabled */
    words[87] = 0x4000;
}

static void start_identify(struct ata_disk *disk)
{
    uint16_t words[256];
    build_identify(disk, words);
    for (int i = 0; i < 256; i++) {
        disk->buffer[2 * i] = (uint8_t)words[i];
        disk->buffer[2 * i + 1] = (uint8_t)(words[i] >> 8);
    }
    disk->buffer_position = 0;
    disk->sectors_left = 1;
    disk->transfer = ATA_TRANSFER_TO_HOST;
    disk->status = STATUS_READY | STATUS_DRQ;
    raise_interrupt(disk);
}

/* ---- READ SECTORS / WRITE SECTORS -------------------------------------- */

static uint32_t requested_sectors(const struct ata_disk *disk)
{
    return disk->sector_count_register ? disk->sector_count_register : 256;
}

/* PIO data-in, one sector: fill the buffer, DRQ, interrupt. */
static void read_next_sector(struct ata_disk *disk)
{
    if (!sector_in_range(disk, disk->current_lba)) {
        command_failed(disk, ERROR_IDNF);
        return;
    }
    set_task_file_address(disk, disk->current_lba);
    if (ata_image_read(disk, disk->current_lba, 1, disk->buffer) < 0) {
        command_failed(disk, ERROR_UNC);
        return;
    }
    disk->buffer_position = 0;
    disk->transfer = ATA_TRANSFER_TO_HOST;
    disk->status = STATUS_READY | STATUS_DRQ;
    raise_interrupt(disk);
}

static void start_read(struct ata_disk *disk)
{
    disk->current_lba = task_file_address(disk);
    disk->sectors_left = requested_sectors(disk);
    read_next_sector(disk);
}

/* PIO data-out: ask for the next sector's data (DRQ). */
static void request_write_data(struct ata_disk *disk)
{
    if (!sector_in_range(disk, disk->current_lba)) {
        command_failed(disk, ERROR_IDNF);
        return;
    }
    disk->buffer_position = 0;
    disk->transfer = ATA_TRANSFER_FROM_HOST;
    disk->status = STATUS_READY | STATUS_DRQ;
}

static void start_write(struct ata_disk *disk)
{
    disk->current_lba = task_file_address(disk);
    disk->sectors_left = requested_sectors(disk);
    request_write_data(disk);   /* no interrupt before the first sector */
}

/* The host has read a whole sector: the next one, or the end. */
static void finish_sector_to_host(struct ata_disk *disk)
{
    if (--disk->sectors_left == 0 || disk->command == COMMAND_IDENTIFY) {
        disk->transfer = ATA_TRANSFER_NONE;
        disk->status = STATUS_READY;    /* no interrupt after the last data-in sector */
        return;
    }
    disk->current_lba++;
    read_next_sector(disk);
}

/* The host has written a whole sector: it goes to the file now, so an
 * acknowledged sector is at least in the host's page cache. */
static void finish_sector_from_host(struct ata_disk *disk)
{
    set_task_file_address(disk, disk->current_lba);
    if (ata_image_write(disk, disk->current_lba, 1, disk->buffer) < 0) {
        command_failed(disk, ERROR_ABRT);
        return;
    }
    if (--disk->sectors_left == 0) {
        command_done(disk);
        return;
    }
    disk->current_lba++;
    request_write_data(disk);
    if (disk->transfer == ATA_TRANSFER_FROM_HOST)
        raise_interrupt(disk);
}

static uint16_t data_read_word(struct ata_disk *disk)
{
    if (disk->transfer != ATA_TRANSFER_TO_HOST)
        return 0;   /* no DRQ: the data register holds nothing */
    unsigned at = disk->buffer_position;
    uint16_t word = (uint16_t)(disk->buffer[at] | disk->buffer[at + 1] << 8);
    disk->buffer_position += 2;
    if (disk->buffer_position == ATA_SECTOR_SIZE)
        finish_sector_to_host(disk);
    return word;
}

static void data_write_word(struct ata_disk *disk, uint16_t word)
{
    if (disk->transfer != ATA_TRANSFER_FROM_HOST)
        return;
    unsigned at = disk->buffer_position;
    disk->buffer[at] = (uint8_t)word;
    disk->buffer[at + 1] = (uint8_t)(word >> 8);
    disk->buffer_position += 2;
    if (disk->buffer_position == ATA_SECTOR_SIZE)
        finish_sector_from_host(disk);
}

/* ---- commands ---------------------------------------------------------- */

static void flush_cache(struct ata_disk *disk)
{
    if (ata_image_flush(disk) < 0)
        command_failed(disk, ERROR_ABRT);
    else
        command_done(disk);
}

/* SET FEATURES (ATA-6, command EFh): the write cache switches (02h, 82h) and the
 * other subcommands have nothing to change here and are accepted, except
 * those we would only pretend to honour: 8-bit PIO (01h) and a DMA transfer
 * mode (03h with count >= 20h), which IDENTIFY does not advertise. */
static void set_features(struct ata_disk *disk)
{
    bool eight_bit_pio = disk->features == 0x01;
    bool dma_mode = disk->features == 0x03 && disk->sector_count_register >= 0x20;
    if (eight_bit_pio || dma_mode)
        command_failed(disk, ERROR_ABRT);
    else
        command_done(disk);
}

/* Only the geometry we report can be selected: CHS translation uses it. */
static void initialize_parameters(struct ata_disk *disk)
{
    if (disk->sector_count_register == GEOMETRY_SECTORS_PER_TRACK &&
        (disk->device & 0x0f) == GEOMETRY_HEADS - 1)
        command_done(disk);
    else
        command_failed(disk, ERROR_ABRT);
}

static void execute_diagnostic(struct ata_disk *disk)
{
    set_signature(disk);
    raise_interrupt(disk);
}

/* Aborting is what a real drive does with a command it lacks; the user is
 * told too, once per opcode, so a guest driver's failure has a visible cause. */
static void abort_unimplemented(struct ata_disk *disk, uint8_t command)
{
    uint32_t bit = 1u << (command % 32);
    if (!(disk->warned_commands[command / 32] & bit)) {
        disk->warned_commands[command / 32] |= bit;
        fprintf(stderr, "ata: command 0x%02x not implemented; the disk aborts it\n", command);
    }
    command_failed(disk, ERROR_ABRT);
}

static void execute_command(struct ata_disk *disk, uint8_t command)
{
    /* The other drive's commands are not ours (EXECUTE DEVICE DIAGNOSTIC
     * is for both); a resetting device ignores all of them. */
    if (disk->in_reset || (other_selected(disk) && command != COMMAND_EXECUTE_DIAGNOSTIC))
        return;
    disk->command = command;
    disk->interrupt_pending = false;    /* writing the command register clears INTRQ */
    disk->error = 0;
    disk->transfer = ATA_TRANSFER_NONE;
    update_irq(disk);
    switch (command) {
    case COMMAND_IDENTIFY:
        start_identify(disk);
        break;
    case COMMAND_READ_SECTORS:
    case COMMAND_READ_SECTORS_NO_RETRY:
        start_read(disk);
        break;
    case COMMAND_WRITE_SECTORS:
    case COMMAND_WRITE_SECTORS_NO_RETRY:
        start_write(disk);
        break;
    case COMMAND_FLUSH_CACHE:
        flush_cache(disk);
        break;
    case COMMAND_SET_FEATURES:
        set_features(disk);
        break;
    case COMMAND_INITIALIZE_PARAMETERS:
        initialize_parameters(disk);
        break;
    case COMMAND_EXECUTE_DIAGNOSTIC:
        execute_diagnostic(disk);
        break;
    default:
        if ((command & 0xf0) == COMMAND_RECALIBRATE)
            command_done(disk);
        else
            abort_unimplemented(disk, command);
        break;
    }
}

/* Device control: SRST held high resets the device (BSY); its falling edge
 * ends the reset with the signature. No interrupt follows a soft reset. */
static void write_control(struct ata_disk *disk, uint8_t value)
{
    bool reset = value & CONTROL_SRST;
    disk->control = value;
    if (reset && !disk->in_reset) {
        disk->in_reset = true;
        disk->transfer = ATA_TRANSFER_NONE;
        disk->interrupt_pending = false;
        disk->status = STATUS_BSY;
    } else if (!reset && disk->in_reset) {
        disk->in_reset = false;
        set_signature(disk);
    }
    update_irq(disk);
}

/* ---- port access ------------------------------------------------------- */

static uint8_t read_register(struct ata_disk *disk, unsigned reg)
{
    if (reg == ATA_DEVICE)
        return disk->device;
    if (other_selected(disk))
        return 0;   /* not ours to answer; with no other drive the bus floats to 0 */
    switch (reg) {
    case ATA_ERROR_FEATURES:
        return disk->error;
    case ATA_SECTOR_COUNT:
        return disk->sector_count_register;
    case ATA_LBA_LOW:
        return disk->lba_low;
    case ATA_LBA_MID:
        return disk->lba_mid;
    case ATA_LBA_HIGH:
        return disk->lba_high;
    case ATA_STATUS_COMMAND:
        disk->interrupt_pending = false;  /* reading status acknowledges INTRQ */
        update_irq(disk);
        return disk->status;
    default:
        return (uint8_t)data_read_word(disk);
    }
}

/* Both devices on a channel latch every task-file write. */
static void write_register(struct ata_disk *disk, unsigned reg, uint8_t value)
{
    switch (reg) {
    case ATA_ERROR_FEATURES:
        disk->features = value;
        break;
    case ATA_SECTOR_COUNT:
        disk->sector_count_register = value;
        break;
    case ATA_LBA_LOW:
        disk->lba_low = value;
        break;
    case ATA_LBA_MID:
        disk->lba_mid = value;
        break;
    case ATA_LBA_HIGH:
        disk->lba_high = value;
        break;
    case ATA_DEVICE:
        disk->device = value;
        update_irq(disk);
        break;
    case ATA_STATUS_COMMAND:
        execute_command(disk, value);
        break;
    default:
        data_write_word(disk, value);
        break;
    }
}

/*
 * The data register is 16 bits wide: a 16-bit access moves one word, a
 * 32-bit access two (as a PC's bus splits it). An 8-bit access moves a whole
 * word and keeps its low byte (a write supplies a zero high byte): 8-bit
 * PIO (SET FEATURES 01h) is not modelled.
 * Wide accesses to the 8-bit registers are split into byte cycles.
 */
static uint32_t ata_command_read(void *device, uint16_t port, unsigned size)
{
    struct ata_disk *disk = device;
    unsigned reg = port - ATA_PRIMARY_COMMAND_PORT;
    if (reg == ATA_DATA) {
        if (other_selected(disk))
            return 0;
        uint32_t value = data_read_word(disk);
        if (size == 4)
            value |= (uint32_t)data_read_word(disk) << 16;
        return value;
    }
    uint32_t value = 0;
    for (unsigned i = 0; i < size; i++)
        value |= (uint32_t)read_register(disk, reg + i) << (8 * i);
    return value;
}

static void ata_command_write(void *device, uint16_t port, unsigned size, uint32_t value)
{
    struct ata_disk *disk = device;
    unsigned reg = port - ATA_PRIMARY_COMMAND_PORT;
    if (reg == ATA_DATA) {
        if (other_selected(disk))
            return;
        data_write_word(disk, (uint16_t)value);
        if (size == 4)
            data_write_word(disk, (uint16_t)(value >> 16));
        return;
    }
    for (unsigned i = 0; i < size; i++)
        write_register(disk, reg + i, (uint8_t)(value >> (8 * i)));
}

/* 0x3f6: alternate status on read (does not clear INTRQ), device control
 * on write. */
static uint32_t ata_control_read(void *device, uint16_t port, unsigned size)
{
    const struct ata_disk *disk = device;
    (void)port, (void)size;
    return other_selected(disk) ? 0 : disk->status;
}

static void ata_control_write(void *device, uint16_t port, unsigned size, uint32_t value)
{
    (void)port, (void)size;
    write_control(device, (uint8_t)value);
}

int ata_register(struct ata_disk *disk, struct bus *bus)
{
    if (bus_register_ports(bus, ATA_PRIMARY_COMMAND_PORT, 8, "ata-primary", disk,
                           ata_command_read, ata_command_write) < 0)
        return -1;
    return bus_register_ports(bus, ATA_PRIMARY_CONTROL_PORT, 1, "ata-primary-control", disk,
                              ata_control_read, ata_control_write);
}

/* ---- a channel with two drives ----------------------------------------- */

/* Writes reach both drives (each latches the task file and decides by DEV
 * whether a command is its own); reads come from the selected drive, and
 * with that drive absent nothing drives the bus: 0, as with one drive. */
static struct ata_disk *selected_drive(const struct ata_channel *channel)
{
    const struct ata_disk *any = channel->drives[0] ? channel->drives[0] : channel->drives[1];
    if (!any)
        return NULL;
    return channel->drives[(any->device & DEVICE_DEV) ? 1 : 0];
}

static uint32_t channel_command_read(void *device, uint16_t port, unsigned size)
{
    struct ata_disk *drive = selected_drive(device);
    return drive ? ata_command_read(drive, port, size) : 0;
}

static void channel_command_write(void *device, uint16_t port, unsigned size, uint32_t value)
{
    struct ata_channel *channel = device;
    for (int unit = 0; unit < 2; unit++)
        if (channel->drives[unit])
            ata_command_write(channel->drives[unit], port, size, value);
}

static uint32_t channel_control_read(void *device, uint16_t port, unsigned size)
{
    struct ata_disk *drive = selected_drive(device);
    return drive ? ata_control_read(drive, port, size) : 0;
}

static void channel_control_write(void *device, uint16_t port, unsigned size, uint32_t value)
{
    struct ata_channel *channel = device;
    for (int unit = 0; unit < 2; unit++)
        if (channel->drives[unit])
            ata_control_write(channel->drives[unit], port, size, value);
}

/* INTRQ is one wire: only the selected drive drives it (update_irq). */
static void channel_drive_irq(void *controller, int unit, int level)
{
    struct ata_channel *channel = controller;
    channel->levels[unit & 1] = level != 0;
    irq_set(&channel->irq, channel->levels[0] || channel->levels[1]);
}

void ata_channel_attach(struct ata_channel *channel, struct ata_disk *disk, unsigned unit)
{
    disk->unit = unit & 1;
    disk->irq = (struct irq_line){.set_level = channel_drive_irq, .controller = channel,
                                  .irq = (int)(unit & 1)};
    channel->drives[unit & 1] = disk;
}

int ata_channel_register(struct ata_channel *channel, struct bus *bus)
{
    if (bus_register_ports(bus, ATA_PRIMARY_COMMAND_PORT, 8, "ata-primary", channel,
                           channel_command_read, channel_command_write) < 0)
        return -1;
    return bus_register_ports(bus, ATA_PRIMARY_CONTROL_PORT, 1, "ata-primary-control", channel,
                              channel_control_read, channel_control_write);
}

/* ---- the image file ---------------------------------------------------- */

/* Sector access to the image, shared by the ATA state machine above and the
 * pv block ring (core/pv/block.c): both devices are views of one image. */
static bool image_range_ok(const struct ata_disk *disk, uint64_t lba, uint32_t count)
{
    return disk->fd >= 0 && count > 0 && lba < disk->sector_count &&
           count <= disk->sector_count - lba;
}

int ata_image_read(struct ata_disk *disk, uint64_t lba, uint32_t count, void *buffer)
{
    if (!image_range_ok(disk, lba, count))
        return -1;
    size_t length = (size_t)count * ATA_SECTOR_SIZE;
    ssize_t got = pread(disk->fd, buffer, length, (off_t)(lba * ATA_SECTOR_SIZE));
    return got == (ssize_t)length ? 0 : -1;
}

/* A short write is a failure: the caller must not acknowledge it. */
int ata_image_write(struct ata_disk *disk, uint64_t lba, uint32_t count, const void *buffer)
{
    if (!image_range_ok(disk, lba, count))
        return -1;
    size_t length = (size_t)count * ATA_SECTOR_SIZE;
    ssize_t put = pwrite(disk->fd, buffer, length, (off_t)(lba * ATA_SECTOR_SIZE));
    return put == (ssize_t)length ? 0 : -1;
}

int ata_image_flush(struct ata_disk *disk)
{
    return disk->fd >= 0 && fsync(disk->fd) == 0 ? 0 : -1;
}

/*
 * Checks that the open file can be a disk. open(O_RDWR) succeeds for root
 * even on a file with no write permission bit, so the mode is checked
 * explicitly: a file nobody may write was marked read-only on purpose, and
 * vmlab refuses to write it whoever runs it.
 */
static int check_image(int fd, const char *path, uint64_t *sectors, char *error,
                       size_t error_len)
{
    struct stat info;
    if (fstat(fd, &info) < 0) {
        snprintf(error, error_len, "disk image '%s': %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(info.st_mode)) {
        snprintf(error, error_len, "disk image '%s' is not a regular file", path);
        return -1;
    }
    if (!(info.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH))) {
        snprintf(error, error_len,
                 "disk image '%s' is read-only (mode %04o); vmlab needs to write it",
                 path, (unsigned)(info.st_mode & 07777));
        return -1;
    }
    if (info.st_size == 0) {
        snprintf(error, error_len, "disk image '%s' is empty", path);
        return -1;
    }
    if (info.st_size % ATA_SECTOR_SIZE) {
        snprintf(error, error_len,
                 "disk image '%s' is %lld bytes, not a whole number of %d-byte sectors",
                 path, (long long)info.st_size, ATA_SECTOR_SIZE);
        return -1;
    }
    *sectors = (uint64_t)info.st_size / ATA_SECTOR_SIZE;
    return 0;
}

static int open_image(const char *path, char *error, size_t error_len)
{
    /* O_NONBLOCK: opening a FIFO by mistake must fail, not hang. It has no
     * effect on a regular file. */
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0)
        return fd;
    if (errno == EACCES || errno == EROFS || errno == ETXTBSY)
        snprintf(error, error_len, "disk image '%s' is read-only (%s); vmlab needs to write it",
                 path, strerror(errno));
    else
        snprintf(error, error_len, "cannot open disk image '%s': %s", path, strerror(errno));
    return -1;
}

int ata_open(struct ata_disk *disk, const char *path, struct irq_line irq, char *error,
             size_t error_len)
{
    *disk = (struct ata_disk){ .fd = -1, .irq = irq };
    if (!path || !*path) {
        snprintf(error, error_len, "no disk image path given");
        return -1;
    }
    int fd = open_image(path, error, error_len);
    if (fd < 0)
        return -1;
    uint64_t sectors;
    if (check_image(fd, path, &sectors, error, error_len) < 0) {
        close(fd);
        return -1;
    }
    /* Two VMs writing one image would corrupt it (QEMU locks images too). */
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(error, error_len, "disk image '%s' is in use by another process", path);
        close(fd);
        return -1;
    }
    disk->fd = fd;
    disk->sector_count = sectors;
    set_signature(disk);
    return 0;
}

void ata_close(struct ata_disk *disk)
{
    if (disk->fd < 0)
        return;
    fsync(disk->fd);   /* the guest may not have flushed; keep what it wrote */
    close(disk->fd);
    disk->fd = -1;
}
