/*
 * echo.c - the console scenario: read lines from the console and echo
 * them until the line "quit".
 */
#include "user.h"

int main(uint32_t unused0, uint32_t unused1)
{
    (void)unused0;
    (void)unused1;
    char line[128];
    for (;;) {
        int n = read_line(line, sizeof(line));
        if (n < 0) {
            printf("echo: read failed\n");
            return 1;
        }
        if (strcmp(line, "quit") == 0)
            break;
        printf("echo: %s (%d bytes)\n", line, n);
    }
    printf("echo: quit\n");
    return 0;
}
