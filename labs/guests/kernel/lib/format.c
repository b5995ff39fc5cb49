/*
 * format.c - a small printf: enough conversions for a kernel transcript.
 */
#include "lib.h"

struct spec {
    int width;
    char pad;          /* ' ' or '0' */
    int left;          /* '-' flag: pad on the right */
};

static void emit_padded(put_char_fn put, void *ctx, const char *text, int len,
                        struct spec spec)
{
    int fill = spec.width > len ? spec.width - len : 0;
    if (!spec.left)
        while (fill-- > 0)
            put(spec.pad, ctx);
    for (int i = 0; i < len; i++)
        put(text[i], ctx);
    if (spec.left)
        while (fill-- > 0)
            put(' ', ctx);
}

static void emit_number(put_char_fn put, void *ctx, uint32_t value, unsigned base,
                        int negative, struct spec spec)
{
    char digits[12];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[value % base];
        value /= base;
    } while (value);
    if (negative)
        digits[n++] = '-';
    char text[12];
    for (int i = 0; i < n; i++)
        text[i] = digits[n - 1 - i];
    emit_padded(put, ctx, text, n, spec);
}

static const char *parse_spec(const char *fmt, struct spec *spec)
{
    spec->width = 0;
    spec->pad = ' ';
    spec->left = 0;
    if (*fmt == '-') {
        spec->left = 1;
        fmt++;
    }
    if (*fmt == '0') {
        spec->pad = '0';
        fmt++;
    }
    while (*fmt >= '0' && *fmt <= '9')
        spec->width = spec->width * 10 + (*fmt++ - '0');
    return fmt;
}

void format(put_char_fn put, void *ctx, const char *fmt, va_list args)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(*fmt, ctx);
            continue;
        }
        struct spec spec;
        fmt = parse_spec(fmt + 1, &spec);
        switch (*fmt) {
        case 'd': {
            int v = va_arg(args, int);
            emit_number(put, ctx, v < 0 ? -(uint32_t)v : (uint32_t)v, 10, v < 0, spec);
            break;
        }
        case 'u': emit_number(put, ctx, va_arg(args, uint32_t), 10, 0, spec); break;
        case 'x': emit_number(put, ctx, va_arg(args, uint32_t), 16, 0, spec); break;
        case 'c': {
            char c = (char)va_arg(args, int);
            emit_padded(put, ctx, &c, 1, spec);
            break;
        }
        case 's': {
            const char *s = va_arg(args, const char *);
            if (!s)
                s = "(null)";
            emit_padded(put, ctx, s, (int)strlen(s), spec);
            break;
        }
        case '%': put('%', ctx); break;
        case '\0': return;
        default: put('%', ctx); put(*fmt, ctx); break;
        }
    }
}

struct buffer { char *at, *end; };

static void put_in_buffer(char c, void *ctx)
{
    struct buffer *b = ctx;
    if (b->at < b->end)
        *b->at++ = c;
}

/* Like vsnprintf, but returns the length actually written. */
int format_string_va(char *buffer, size_t size, const char *fmt, va_list args)
{
    struct buffer b = { buffer, buffer + size - 1 };
    format(put_in_buffer, &b, fmt, args);
    *b.at = '\0';
    return (int)(b.at - buffer);
}

int format_string(char *buffer, size_t size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int n = format_string_va(buffer, size, fmt, args);
    va_end(args);
    return n;
}
