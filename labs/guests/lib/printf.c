/*
 * printf.c - just enough printf for transcripts: %d %u %x %s %c %%,
 * with an optional '0' flag and field width (%08x).
 */
#include "guest.h"

static void put_padded(const char *digits, int len, int width, char pad)
{
    for (; width > len; width--)
        uart_putc(pad);
    while (len > 0)
        uart_putc(digits[--len]);   /* digits are stored least significant first */
}

static void put_unsigned(uint32_t v, unsigned base, int width, char pad, bool negative)
{
    char digits[12];
    int len = 0;
    do {
        digits[len++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (negative) {
        if (pad == '0') {           /* the sign goes before the zeros */
            uart_putc('-');
            width--;
        } else {
            digits[len++] = '-';
        }
    }
    put_padded(digits, len, width, pad);
}

int vprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            uart_putc(*fmt);
            continue;
        }
        char pad = ' ';
        int width = 0;
        if (*++fmt == '0')
            pad = '0';
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        switch (*fmt) {
        case 'd': {
            int32_t v = va_arg(ap, int32_t);
            put_unsigned(v < 0 ? -(uint32_t)v : (uint32_t)v, 10, width, pad, v < 0);
            break;
        }
        case 'u': put_unsigned(va_arg(ap, uint32_t), 10, width, pad, false); break;
        case 'x': put_unsigned(va_arg(ap, uint32_t), 16, width, pad, false); break;
        case 'c': uart_putc((char)va_arg(ap, int)); break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            for (width -= str_len(s); width > 0; width--)
                uart_putc(' ');
            putstr(s);
            break;
        }
        case '%': uart_putc('%'); break;
        case '\0': return 0;
        default: uart_putc('%'); uart_putc(*fmt); break;
        }
    }
    return 0;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    return 0;
}
