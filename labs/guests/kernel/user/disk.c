/*
 * disk.c - the disk scenario: read sector 0 (written by the host), write
 * a text pattern to sectors 1-3, read it back and compare. The host then
 * finds the pattern in its image file (tests/kernel/run.sh checks).
 */
#include "user.h"

#define SECTOR 512
#define FIRST 1
#define LAST 3

/* "vmlab disk test sector N\n" repeated, cut at 512 bytes. */
static void fill_pattern(char *buffer, int sector)
{
    char line[32];
    int n = format_string(line, sizeof(line), "vmlab disk test sector %d\n", sector);
    for (int i = 0; i < SECTOR; i++)
        buffer[i] = line[i % n];
}

static int first_line(const char *buffer, char *line, int size)
{
    int n = 0;
    while (n < size - 1 && n < SECTOR && buffer[n] && buffer[n] != '\n') {
        line[n] = buffer[n];
        n++;
    }
    line[n] = '\0';
    return n;
}

int main(uint32_t unused0, uint32_t unused1)
{
    (void)unused0;
    (void)unused1;
    static char expected[SECTOR], buffer[SECTOR];
    char line[64];
    if (block_read(0, buffer) < 0) {
        printf("disk: cannot read sector 0: is there a disk?\n");
        return 1;
    }
    first_line(buffer, line, sizeof(line));
    printf("disk: sector 0 says \"%s\"\n", line);
    int failures = 0;
    for (int s = FIRST; s <= LAST; s++) {
        fill_pattern(expected, s);
        memset(buffer, 0, SECTOR);
        int w = block_write((uint32_t)s, expected);
        int r = block_read((uint32_t)s, buffer);
        int same = w == 0 && r == 0 && memcmp(buffer, expected, SECTOR) == 0;
        printf("disk: sector %d written and read back: %s\n", s, same ? "same" : "DIFFERENT");
        failures += !same;
    }
    printf("disk: reading sector 100000000 fails: %s\n",
           block_read(100000000, buffer) < 0 ? "yes" : "no");
    return failures;
}
