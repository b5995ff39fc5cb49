/*
 * dashboard_format.h - numbers as the dashboard shows them: short, fixed
 * width, with SI suffixes, so a column never jumps when a value grows.
 *
 * No ncurses here: the formats are unit-tested on their own.
 */
#ifndef VMLAB_DASHBOARD_FORMAT_H
#define VMLAB_DASHBOARD_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* 999 -> "999", 12345 -> "12.3k", 4.5e6 -> "4.50M", 7e9 -> "7.00G". */
void format_count(char *out, size_t len, double value);
/* Events per second: like format_count, "0" for none, "<0.1" below a tenth. */
void format_rate(char *out, size_t len, double per_second);
/* A handling time: "850ns", "12.3us", "4.56ms", "1.23s"; "-" for none. */
void format_duration_ns(char *out, size_t len, double ns);
/* Time since the start: "42.1s", "12:03", "1:02:03". */
void format_uptime(char *out, size_t len, uint64_t ns);

#endif
