/* ata.h - PIO access to the primary ATA master (ata.c). */
#ifndef ATA_H
#define ATA_H

#include "guest.h"

#define SECTOR_SIZE 512
extern uint8_t ata_last_status;
bool ata_identify(uint16_t words[256]);
bool ata_read(uint32_t lba, uint8_t count, void *buf);
bool ata_write(uint32_t lba, uint8_t count, const void *buf);
bool ata_flush(void);

#endif
