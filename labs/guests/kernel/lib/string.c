/*
 * string.c - memory and string helpers. gcc may emit calls to memset and
 * memcpy on its own (for struct copies), so they must exist even in a
 * freestanding image.
 */
#include "lib.h"

void *memset(void *dst, int byte, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)byte;
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n && *a && *a == *b; n--, a++, b++)
        ;
    return n ? (unsigned char)*a - (unsigned char)*b : 0;
}

int strcmp(const char *a, const char *b)
{
    return strncmp(a, b, (size_t)-1);
}

int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Decimal digits at s; *end (if given) points after them. */
uint32_t parse_uint(const char *s, const char **end)
{
    uint32_t value = 0;
    while (*s >= '0' && *s <= '9')
        value = value * 10 + (uint32_t)(*s++ - '0');
    if (end)
        *end = s;
    return value;
}

/* Long division one bit at a time: slow, but only benchmarks use it,
 * once per run, outside the timed loop. */
uint64_t divide_u64(uint64_t dividend, uint32_t divisor)
{
    uint64_t quotient = 0, remainder = 0;
    for (int bit = 63; bit >= 0; bit--) {
        remainder = (remainder << 1) | ((dividend >> bit) & 1);
        if (remainder >= divisor) {
            remainder -= divisor;
            quotient |= (uint64_t)1 << bit;
        }
    }
    return quotient;
}
