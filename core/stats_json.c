/*
 * stats_json.c - serialise the event table with cJSON.
 */
#include "stats_json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm.h"

static cJSON *counters_to_json(const struct stats *stats)
{
    cJSON *rows = cJSON_CreateArray();
    for (int i = 0; i < stats->counter_count; i++) {
        const struct stats_counter *counter = &stats->counters[i];
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "category", counter->category);
        cJSON_AddStringToObject(row, "reason", counter->reason);
        cJSON_AddNumberToObject(row, "count", (double)counter->count);
        cJSON_AddNumberToObject(row, "total_ns", (double)counter->total_ns);
        cJSON_AddNumberToObject(row, "max_ns", (double)counter->max_ns);
        cJSON_AddNumberToObject(row, "average_ns",
                                counter->count ? (double)counter->total_ns / (double)counter->count : 0);
        cJSON_AddItemToArray(rows, row);
    }
    return rows;
}

/* The ring's events, oldest first. */
static cJSON *events_to_json(const struct stats *stats)
{
    cJSON *events = cJSON_CreateArray();
    uint64_t first = stats->ring_next > STATS_RING_SIZE ? stats->ring_next - STATS_RING_SIZE : 0;
    for (uint64_t n = first; n < stats->ring_next; n++) {
        const struct stats_event *event = &stats->ring[n % STATS_RING_SIZE];
        const struct stats_counter *counter = &stats->counters[event->counter];
        cJSON *item = cJSON_CreateObject();
        char eip[16];
        snprintf(eip, sizeof eip, "0x%08x", event->eip);
        cJSON_AddNumberToObject(item, "time_ns", (double)event->time_ns);
        cJSON_AddStringToObject(item, "eip", eip);
        cJSON_AddStringToObject(item, "category", counter->category);
        cJSON_AddStringToObject(item, "reason", counter->reason);
        cJSON_AddStringToObject(item, "detail", event->detail);
        cJSON_AddItemToArray(events, item);
    }
    return events;
}

static cJSON *cpu_to_json(const struct cpu *cpu)
{
    static const char *const names[8] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"};
    cJSON *object = cJSON_CreateObject();
    char text[16];
    for (int i = 0; i < 8; i++) {
        snprintf(text, sizeof text, "0x%08x", cpu->regs[i]);
        cJSON_AddStringToObject(object, names[i], text);
    }
    snprintf(text, sizeof text, "0x%08x", cpu->eip);
    cJSON_AddStringToObject(object, "eip", text);
    snprintf(text, sizeof text, "0x%08x", cpu->eflags);
    cJSON_AddStringToObject(object, "eflags", text);
    snprintf(text, sizeof text, "0x%08x", cpu->cr0);
    cJSON_AddStringToObject(object, "cr0", text);
    snprintf(text, sizeof text, "0x%08x", cpu->cr3);
    cJSON_AddStringToObject(object, "cr3", text);
    cJSON_AddNumberToObject(object, "cpl", cpu_cpl(cpu));
    return object;
}

/* The numbers both documents share: what ran, for how long, and the table. */
static cJSON *summary_to_json(const struct vm *vm, double seconds)
{
    cJSON *root = cJSON_CreateObject();
    uint64_t instructions = vm->stats.guest_instructions;
    cJSON_AddStringToObject(root, "vmlab_stats_version", "1");
    cJSON_AddStringToObject(root, "technique", vm->technique ? vm->technique->name : "none");
    cJSON_AddStringToObject(root, "guest", vm->config.guest_path);
    cJSON_AddNumberToObject(root, "run_seconds", seconds);
    cJSON_AddNumberToObject(root, "guest_instructions", (double)instructions);
    cJSON_AddNumberToObject(root, "guest_mips",
                            seconds > 0 ? (double)instructions / seconds / 1e6 : 0);
    cJSON_AddNumberToObject(root, "pit_ticks_lost", (double)vm->pit.ticks_lost);
    cJSON_AddNumberToObject(root, "switch_count", (double)vm->switch_count);
    cJSON_AddNumberToObject(root, "console_bytes", (double)vm->console.bytes_written);
    return root;
}

char *stats_to_json(const struct vm *vm)
{
    cJSON *root = summary_to_json(vm, (double)vm->run_ns / 1e9);
    cJSON_AddNumberToObject(root, "exit_status", vm->exit_status);
    cJSON_AddStringToObject(root, "stop_reason", vm->stop_reason);
    cJSON_AddItemToObject(root, "cpu", cpu_to_json(&vm->cpu));
    cJSON_AddItemToObject(root, "counters", counters_to_json(&vm->stats));
    cJSON_AddItemToObject(root, "recent_events", events_to_json(&vm->stats));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

char *stats_to_json_line(const struct vm *vm, uint64_t elapsed_ns, bool final)
{
    cJSON *root = summary_to_json(vm, (double)elapsed_ns / 1e9);
    cJSON_AddBoolToObject(root, "final", final);
    if (final) {
        cJSON_AddNumberToObject(root, "exit_status", vm->exit_status);
        cJSON_AddStringToObject(root, "stop_reason", vm->stop_reason);
    }
    cJSON_AddItemToObject(root, "counters", counters_to_json(&vm->stats));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

int stats_write_json(const struct vm *vm, const char *path, char *error, size_t error_len)
{
    char *text = stats_to_json(vm);
    char temporary[4096];
    snprintf(temporary, sizeof temporary, "%s.tmp.%d", path, (int)getpid());
    FILE *file = fopen(temporary, "w");
    if (!file) {
        snprintf(error, error_len, "--stats-json %s: %s", path, strerror(errno));
        free(text);
        return -1;
    }
    bool ok = fputs(text, file) >= 0 && fputc('\n', file) != EOF;
    ok = (fclose(file) == 0) && ok;
    free(text);
    if (!ok || rename(temporary, path) < 0) {
        snprintf(error, error_len, "--stats-json %s: %s", path, strerror(errno));
        unlink(temporary);
        return -1;
    }
    return 0;
}
