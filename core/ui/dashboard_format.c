/*
 * dashboard_format.c - short fixed-width numbers for the dashboard.
 */
#include "core/ui/dashboard_format.h"

#include <stdio.h>

void format_count(char *out, size_t len, double value)
{
    /* Three significant digits are what the eye compares in a table. */
    static const char suffixes[] = " kMGTP";
    int scale = 0;
    if (value < 1000) {
        snprintf(out, len, "%.0f", value);
        return;
    }
    while (value >= 999.5 && scale < 5) {
        value /= 1000;
        scale++;
    }
    snprintf(out, len, value >= 99.95 ? "%.0f%c" : value >= 9.995 ? "%.1f%c" : "%.2f%c",
             value, suffixes[scale]);
}

void format_rate(char *out, size_t len, double per_second)
{
    if (per_second <= 0)
        snprintf(out, len, "0");
    else if (per_second < 0.1)
        snprintf(out, len, "<0.1");
    else if (per_second < 10)
        snprintf(out, len, "%.1f", per_second);
    else
        format_count(out, len, per_second);
}

void format_duration_ns(char *out, size_t len, double ns)
{
    if (ns <= 0)
        snprintf(out, len, "-");
    else if (ns < 1e3)
        snprintf(out, len, "%.0fns", ns);
    else if (ns < 1e6)
        snprintf(out, len, ns < 1e4 ? "%.2fus" : ns < 1e5 ? "%.1fus" : "%.0fus", ns / 1e3);
    else if (ns < 1e9)
        snprintf(out, len, ns < 1e7 ? "%.2fms" : ns < 1e8 ? "%.1fms" : "%.0fms", ns / 1e6);
    else
        snprintf(out, len, "%.2fs", ns / 1e9);
}

void format_uptime(char *out, size_t len, uint64_t ns)
{
    uint64_t seconds = ns / 1000000000ull;
    if (seconds < 60)
        snprintf(out, len, "%.1fs", (double)ns / 1e9);
    else if (seconds < 3600)
        snprintf(out, len, "%llu:%02llu", (unsigned long long)(seconds / 60),
                 (unsigned long long)(seconds % 60));
    else
        snprintf(out, len, "%llu:%02llu:%02llu", (unsigned long long)(seconds / 3600),
                 (unsigned long long)(seconds / 60 % 60), (unsigned long long)(seconds % 60));
}
