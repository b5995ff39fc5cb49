/*
 * cmdline.c - the kernel command line from the Multiboot information, and
 * key=value arguments in it.
 */
#include "guest.h"

#define MBI_FLAG_CMDLINE (1u << 2)   /* Multiboot spec 3.3: cmdline field valid */

/*
 * The arguments proper. Boot loaders put the kernel's own file name first
 * (QEMU -kernel passes "FILE ARGS", GRUB passes "/boot/FILE ARGS"); that word
 * differs between hosts, so skip a first word that is not a key=value pair.
 */
const char *cmdline_args(void)
{
    if (!boot_info || !(boot_info->flags & MBI_FLAG_CMDLINE) || !boot_info->cmdline)
        return "";
    const char *s = (const char *)boot_info->cmdline;
    const char *p = s;
    while (*p && *p != ' ' && *p != '=')
        p++;
    if (*p == '=')
        return s;
    while (*p == ' ')
        p++;
    return p;
}

/* Find "key=value" as a whole word; copy value (NUL-terminated) out. */
bool cmdline_get(const char *key, char *value, size_t size)
{
    const char *p = cmdline_args();
    int keylen = str_len(key);
    while (*p) {
        while (*p == ' ')
            p++;
        int i = 0;
        while (i < keylen && p[i] == key[i])
            i++;
        if (i == keylen && p[i] == '=') {
            p += keylen + 1;
            size_t n = 0;
            while (p[n] && p[n] != ' ' && n + 1 < size) {
                value[n] = p[n];
                n++;
            }
            value[n] = '\0';
            return true;
        }
        while (*p && *p != ' ')
            p++;
    }
    return false;
}

/* A decimal (or 0x-prefixed hexadecimal) argument, or fallback. */
uint32_t cmdline_uint(const char *key, uint32_t fallback)
{
    char buf[16];
    if (!cmdline_get(key, buf, sizeof buf))
        return fallback;
    const char *p = buf;
    unsigned base = 10;
    if (p[0] == '0' && p[1] == 'x') {
        base = 16;
        p += 2;
    }
    uint32_t v = 0;
    for (; *p; p++) {
        unsigned d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else
            return fallback;
        v = v * base + d;
    }
    return v;
}
