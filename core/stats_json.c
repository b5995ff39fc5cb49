/*
 * stats_json.c - serialise the event table with cJSON, and write the
 * --stats-json file through a temporary acquired at start-up (see
 * stats_json.h for why the open happens so early).
 */
#include "stats_json.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    double idle = (double)vm->idle_ns / 1e9;
    double running = seconds > idle ? seconds - idle : 0;   /* MIPS while running, not asleep */
    cJSON_AddStringToObject(root, "vmlab_stats_version", "1");
    cJSON_AddStringToObject(root, "technique", vm->technique ? vm->technique->name : "none");
    cJSON_AddStringToObject(root, "guest", vm->config.guest_path);
    cJSON_AddNumberToObject(root, "run_seconds", seconds);
    cJSON_AddNumberToObject(root, "guest_instructions", (double)instructions);
    cJSON_AddNumberToObject(root, "idle_seconds", idle);
    cJSON_AddNumberToObject(root, "guest_mips",
                            running > 0 ? (double)instructions / running / 1e6 : 0);
    cJSON_AddNumberToObject(root, "pit_ticks_lost", (double)vm->pit.ticks_lost);
    cJSON_AddNumberToObject(root, "switch_count", (double)vm->switch_count);
    cJSON_AddNumberToObject(root, "console_bytes", (double)vm->console.bytes_written);
    cJSON_AddNumberToObject(root, "console_bytes_dropped", (double)vm->console.bytes_dropped);
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

void stats_file_init(struct stats_file *file)
{
    file->path = NULL;
    file->temporary[0] = '\0';
    file->fd = -1;
    file->directory_fd = -1;
}

/* The directory that will hold path, opened so that the rename can be made
 * durable with fsync. Best effort: a directory we may write but not read
 * (mode -wx) cannot be opened, and then the rename is as durable as the
 * file system makes it on its own. */
static int open_directory_of(const char *path)
{
    char directory[4096];
    snprintf(directory, sizeof directory, "%s", path);
    char *slash = strrchr(directory, '/');
    if (!slash)
        snprintf(directory, sizeof directory, ".");
    else if (slash == directory)
        directory[1] = '\0';                  /* "/name": the root */
    else
        *slash = '\0';
    return open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* FILE is replaced by a rename at the end, so it must be a regular file or
 * not exist yet: a directory would be refused only after the guest ran,
 * and a device such as /dev/full would be replaced by our file. */
static int check_target(const char *path, char *error, size_t error_len)
{
    struct stat info;
    if (stat(path, &info) < 0 || S_ISREG(info.st_mode))
        return 0;   /* absent (created at the end) or a file we may replace */
    snprintf(error, error_len, "--stats-json %s: %s; give the path of a file (it is replaced "
             "when the run ends)", path, S_ISDIR(info.st_mode) ? "is a directory"
             : "is not a regular file");
    return -1;
}

int stats_file_open(struct stats_file *file, const char *path, char *error, size_t error_len)
{
    stats_file_init(file);
    if (check_target(path, error, error_len) < 0)
        return -1;
    file->path = path;
    int length = snprintf(file->temporary, sizeof file->temporary, "%s.tmp.%d", path,
                          (int)getpid());
    if (length < 0 || (size_t)length >= sizeof file->temporary) {
        file->temporary[0] = '\0';
        snprintf(error, error_len, "--stats-json %s: the path is too long", path);
        return -1;
    }
    /* O_EXCL: never follow a symbolic link someone left at the predictable
     * name, never share a temporary with another writer. */
    file->fd = open(file->temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (file->fd < 0) {
        snprintf(error, error_len, "--stats-json %s: cannot create the file there: %s", path,
                 strerror(errno));
        file->temporary[0] = '\0';            /* not ours: do not remove it */
        return -1;
    }
    file->directory_fd = open_directory_of(path);
    return 0;
}

void stats_file_discard(struct stats_file *file)
{
    if (file->fd >= 0)
        close(file->fd);
    if (file->directory_fd >= 0)
        close(file->directory_fd);
    if (file->temporary[0])
        unlink(file->temporary);
    stats_file_init(file);
}

/* write(2) until everything is written: a regular file may take less. */
static int write_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t written = write(fd, data, length);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return -1;
        data += written;
        length -= (size_t)written;
    }
    return 0;
}

/* The document reaches the disk (fsync) before the rename publishes it:
 * otherwise a crash after the rename could leave FILE empty - the old
 * contents gone and the new ones never written. */
static int write_document(int fd, const struct vm *vm)
{
    char *text = stats_to_json(vm);
    if (!text) {
        errno = ENOMEM;
        return -1;
    }
    int rc = write_all(fd, text, strlen(text));
    free(text);
    if (rc == 0)
        rc = write_all(fd, "\n", 1);
    if (rc == 0)
        rc = fsync(fd);
    return rc;
}

int stats_file_commit(struct stats_file *file, const struct vm *vm, char *error,
                      size_t error_len)
{
    if (file->fd < 0) {
        snprintf(error, error_len, "--stats-json %s: no temporary file to write",
                 file->path ? file->path : "");
        return -1;
    }
    bool written = write_document(file->fd, vm) == 0;
    int saved = errno;
    bool closed = close(file->fd) == 0;
    file->fd = -1;
    if (!written || !closed) {
        snprintf(error, error_len, "--stats-json %s: %s", file->path,
                 strerror(written ? errno : saved));
        stats_file_discard(file);
        return -1;
    }
    if (rename(file->temporary, file->path) < 0) {
        snprintf(error, error_len, "--stats-json %s: %s", file->path, strerror(errno));
        stats_file_discard(file);
        return -1;
    }
    file->temporary[0] = '\0';               /* it is FILE now: never remove it */
    /* The rename is an update of the directory: it is on disk only once the
     * directory is. EINVAL: a file system that cannot sync directories. */
    int rc = 0;
    if (file->directory_fd >= 0 && fsync(file->directory_fd) < 0 && errno != EINVAL) {
        snprintf(error, error_len, "--stats-json %s: fsync of its directory: %s", file->path,
                 strerror(errno));
        rc = -1;
    }
    stats_file_discard(file);
    return rc;
}
