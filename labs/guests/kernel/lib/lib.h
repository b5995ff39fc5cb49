/*
 * lib.h - the few C library functions both the kernel and the user
 * programs need. The same object files are linked into both: the code is
 * position-dependent, but the linker fixes each copy up for its own image.
 */
#ifndef LIB_H
#define LIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void *memset(void *dst, int byte, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
int starts_with(const char *s, const char *prefix);
uint32_t parse_uint(const char *s, const char **end);

/* 64-by-32-bit division: gcc would call libgcc's __udivdi3, which a
 * freestanding -m32 build does not have. */
uint64_t divide_u64(uint64_t dividend, uint32_t divisor);

/* The sched scenario's work: a deterministic hash of a seed, computed by
 * three processes under preemption and checked again by the kernel. */
uint32_t checksum(uint32_t seed, uint32_t rounds);
#define CHECKSUM_ROUNDS 200000

/* printf-style formatting: %d %u %x %s %c, with a width and a 0 flag
 * (%08x, %-10s). Each character goes to `put`. */
typedef void (*put_char_fn)(char c, void *context);
void format(put_char_fn put, void *context, const char *fmt, va_list args);
int format_string_va(char *buffer, size_t size, const char *fmt, va_list args);
int format_string(char *buffer, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
