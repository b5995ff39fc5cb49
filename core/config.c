/*
 * config.c - `vmlab run` options from the command line and a JSON file.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MEMORY (64ull << 20)

static int fail(char *error, size_t error_len, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(error, error_len, format, args);
    va_end(args);
    return -1;
}

/* Line and column (1-based) of a position in text, for JSON errors. */
static void position_of(const char *text, const char *at, int *line, int *column)
{
    *line = 1;
    *column = 1;
    for (const char *p = text; p < at && *p; p++) {
        if (*p == '\n') {
            (*line)++;
            *column = 1;
        } else {
            (*column)++;
        }
    }
}

/* Checked here, not only when the RAM is made, so the error names where
 * the value came from (--mem or the config key) and says "bytes": a bare
 * number is bytes in both places, as in `--mem 67108864`. */
static int check_memory(uint64_t bytes, const char *what, char *error, size_t len)
{
    if (bytes < GUEST_RAM_MIN || bytes > GUEST_RAM_MAX || bytes % PAGE_SIZE != 0)
        return fail(error, len, "%s: %llu bytes; guest RAM must be a multiple of 4 KiB between "
                    "%u MiB and %u MiB (a number without a unit is bytes: write \"64M\")", what,
                    (unsigned long long)bytes, GUEST_RAM_MIN >> 20, GUEST_RAM_MAX >> 20);
    return 0;
}

static int set_memory(struct run_options *options, const char *text, const char *what,
                      char *error, size_t len)
{
    int64_t bytes = parse_size(text);
    if (bytes < 0)
        return fail(error, len, "%s '%s': expected a size such as 64M, 1G or 65536K", what, text);
    char where[160];
    snprintf(where, sizeof where, "%s '%s'", what, text);
    if (check_memory((uint64_t)bytes, where, error, len) < 0)
        return -1;
    options->vm.memory_bytes = (uint64_t)bytes;
    return 0;
}

/* what names the source for the error: "--timeout '5x'" or "config key
 * \"timeout\" (-1)". */
static int set_timeout(struct run_options *options, double seconds, const char *what,
                       char *error, size_t len)
{
    if (!(seconds >= 0) || seconds > 1e7 || isnan(seconds))
        return fail(error, len, "%s: expected a number of seconds from 0 to 1e7", what);
    options->vm.timeout_seconds = seconds;
    return 0;
}

/* Bounds: below 10 ms the stream would cost the guest time; above an hour
 * it is almost certainly a unit mistake (seconds for milliseconds). */
#define STATS_INTERVAL_MIN_MS 10
#define STATS_INTERVAL_MAX_MS 3600000

static int set_stats_interval(struct run_options *options, double ms, const char *what,
                              char *error, size_t len)
{
    if (!(ms >= STATS_INTERVAL_MIN_MS && ms <= STATS_INTERVAL_MAX_MS) || ms != (double)(unsigned)ms)
        return fail(error, len, "%s: expected a whole number of milliseconds from %d to %d", what,
                    STATS_INTERVAL_MIN_MS, STATS_INTERVAL_MAX_MS);
    options->stats_interval_ms = (unsigned)ms;
    return 0;
}

static int json_bool(const cJSON *item, const char *key, bool *out, char *error, size_t len)
{
    if (!cJSON_IsBool(item))
        return fail(error, len, "config key \"%s\" must be true or false", key);
    *out = cJSON_IsTrue(item);
    return 0;
}

static int json_string(const cJSON *item, const char *key, const char **out, char *error,
                       size_t len)
{
    if (!cJSON_IsString(item))
        return fail(error, len, "config key \"%s\" must be a string", key);
    *out = item->valuestring;
    return 0;
}

/* The guest's arguments: a string, or an array of strings joined by spaces. */
static int json_arguments(const cJSON *item, char **out, char *error, size_t len)
{
    if (cJSON_IsString(item)) {
        *out = strdup(item->valuestring);
        return 0;
    }
    if (!cJSON_IsArray(item))
        return fail(error, len, "config key \"cmdline\" must be a string or an array of strings");
    size_t total = 1;
    const cJSON *word;
    cJSON_ArrayForEach(word, item) {
        if (!cJSON_IsString(word))
            return fail(error, len, "config key \"cmdline\" must be a string or an array of strings");
        total += strlen(word->valuestring) + 1;
    }
    char *joined = calloc(total, 1);
    cJSON_ArrayForEach(word, item) {
        if (joined[0])
            strcat(joined, " ");
        strcat(joined, word->valuestring);
    }
    *out = joined;
    return 0;
}

static int apply_key(struct run_options *options, const cJSON *item, char **arguments,
                     char *error, size_t len)
{
    const char *key = item->string;
    struct vm_config *vm = &options->vm;
    if (strcmp(key, "technique") == 0)
        return json_string(item, key, &vm->technique, error, len);
    if (strcmp(key, "disk") == 0)
        return json_string(item, key, &vm->disk_path, error, len);
    if (strcmp(key, "stats_json") == 0)
        return json_string(item, key, &vm->stats_json_path, error, len);
    if (strcmp(key, "guest") == 0)
        return json_string(item, key, &vm->guest_path, error, len);
    if (strcmp(key, "switch") == 0)
        return json_string(item, key, &vm->switch_schedule, error, len);
    if (strcmp(key, "switch_every") == 0)
        return json_string(item, key, &vm->switch_every, error, len);
    if (strcmp(key, "switch_among") == 0)
        return json_string(item, key, &vm->switch_among, error, len);
    if (strcmp(key, "switch_seed") == 0) {
        if (!cJSON_IsNumber(item) || item->valuedouble < 0)
            return fail(error, len, "config key \"switch_seed\" must be a non-negative number");
        vm->switch_seed = (uint64_t)item->valuedouble;
        return 0;
    }
    if (strcmp(key, "stats_out") == 0)
        return json_string(item, key, &options->stats_out_path, error, len);
    if (strcmp(key, "dashboard") == 0)
        return json_bool(item, key, &options->dashboard, error, len);
    if (strcmp(key, "dashboard_exit_on_stop") == 0)
        return json_bool(item, key, &options->dashboard_exit_on_stop, error, len);
    if (strcmp(key, "stats_interval") == 0) {
        if (!cJSON_IsNumber(item))
            return fail(error, len,
                        "config key \"stats_interval\" must be a number of milliseconds");
        char what[96];
        snprintf(what, sizeof what, "config key \"stats_interval\" (%g)", item->valuedouble);
        return set_stats_interval(options, item->valuedouble, what, error, len);
    }
    if (strcmp(key, "cmdline") == 0)
        return json_arguments(item, arguments, error, len);
    if (strcmp(key, "mem") == 0) {
        if (cJSON_IsNumber(item)) {
            double bytes = item->valuedouble;
            if (!(bytes >= 0 && bytes <= (double)GUEST_RAM_MAX) || bytes != floor(bytes))
                return fail(error, len, "config key \"mem\": %g is not a size; write a string "
                            "such as \"64M\" (a number is bytes)", bytes);
            if (check_memory((uint64_t)bytes, "config key \"mem\"", error, len) < 0)
                return -1;
            vm->memory_bytes = (uint64_t)bytes;
            return 0;
        }
        const char *text = NULL;
        if (!cJSON_IsString(item))
            return fail(error, len, "config key \"mem\" must be a string such as \"64M\" or a "
                        "number of bytes");
        json_string(item, key, &text, error, len);
        return set_memory(options, text, "config key \"mem\"", error, len);
    }
    if (strcmp(key, "timeout") == 0) {
        if (!cJSON_IsNumber(item))
            return fail(error, len, "config key \"timeout\" must be a number of seconds");
        char what[96];
        snprintf(what, sizeof what, "config key \"timeout\" (%g)", item->valuedouble);
        return set_timeout(options, item->valuedouble, what, error, len);
    }
    return fail(error, len, "unknown config key \"%s\" (known: technique, mem, disk, "
                "stats_json, timeout, guest, cmdline, switch, switch_every, switch_seed, switch_among, dashboard, "
                "dashboard_exit_on_stop, stats_interval, stats_out)", key);
}

int config_apply_json(struct run_options *options, const char *text, const char *source,
                      char *error, size_t error_len)
{
    const char *error_at = NULL;
    cJSON *document = cJSON_ParseWithOpts(text, &error_at, true);
    if (!document) {
        int line, column;
        position_of(text, error_at ? error_at : text, &line, &column);
        return fail(error, error_len, "%s:%d:%d: malformed JSON", source, line, column);
    }
    if (!cJSON_IsObject(document)) {
        cJSON_Delete(document);
        return fail(error, error_len, "%s: the configuration must be a JSON object", source);
    }
    cJSON_Delete(options->json_document);
    options->json_document = document;
    char *arguments = NULL;
    const cJSON *item;
    cJSON_ArrayForEach(item, document) {
        char reason[256];
        if (apply_key(options, item, &arguments, reason, sizeof reason) < 0) {
            free(arguments);
            return fail(error, error_len, "%s: %s", source, reason);
        }
    }
    if (arguments) {
        free(options->command_line);
        options->command_line = arguments;   /* joined with the guest path later */
    }
    return 0;
}

/* A configuration is a few hundred bytes; a file of megabytes is a wrong
 * path (a disk image, /dev/zero), and reading it all would cost memory. */
#define CONFIG_MAX_BYTES (1u << 20)

/* The whole file as a NUL-terminated string (caller frees), or NULL with a
 * one-line reason. O_NONBLOCK: opening a FIFO must not wait for a writer;
 * only a regular file is read, so a device or FIFO cannot feed us forever. */
static char *read_whole_config(const char *path, char *error, size_t error_len)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fail(error, error_len, "--config %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat info;
    char *text = NULL;
    if (fstat(fd, &info) < 0)
        fail(error, error_len, "--config %s: %s", path, strerror(errno));
    else if (!S_ISREG(info.st_mode))
        fail(error, error_len, "--config %s: not a regular file", path);
    else if (info.st_size > CONFIG_MAX_BYTES)
        fail(error, error_len, "--config %s: %lld bytes; a configuration may have at most %u",
             path, (long long)info.st_size, CONFIG_MAX_BYTES);
    else if (!(text = calloc((size_t)info.st_size + 1, 1)))
        fail(error, error_len, "--config %s: out of memory", path);
    else if (pread(fd, text, (size_t)info.st_size, 0) != info.st_size) {
        fail(error, error_len, "--config %s: read error (did the file change?)", path);
        free(text);
        text = NULL;
    }
    close(fd);
    return text;
}

static int read_config_file(struct run_options *options, const char *path, char *error,
                            size_t error_len)
{
    char *text = read_whole_config(path, error, error_len);
    if (!text)
        return -1;
    int result = config_apply_json(options, text, path, error, error_len);
    free(text);
    return result;
}

enum {
    OPTION_STATS_JSON = 256, OPTION_TIMEOUT, OPTION_CONFIG, OPTION_SWITCH, OPTION_SWITCH_EVERY,
    OPTION_SWITCH_SEED, OPTION_SWITCH_AMONG, OPTION_DASHBOARD, OPTION_DASHBOARD_EXIT_ON_STOP, OPTION_STATS_INTERVAL,
    OPTION_STATS_OUT,
};

static const struct option long_options[] = {
    {"technique", required_argument, NULL, 't'},
    {"mem", required_argument, NULL, 'm'},
    {"disk", required_argument, NULL, 'd'},
    {"config", required_argument, NULL, OPTION_CONFIG},
    {"stats-json", required_argument, NULL, OPTION_STATS_JSON},
    {"timeout", required_argument, NULL, OPTION_TIMEOUT},
    {"switch", required_argument, NULL, OPTION_SWITCH},
    {"switch-every", required_argument, NULL, OPTION_SWITCH_EVERY},
    {"switch-seed", required_argument, NULL, OPTION_SWITCH_SEED},
    {"switch-among", required_argument, NULL, OPTION_SWITCH_AMONG},
    {"dashboard", no_argument, NULL, OPTION_DASHBOARD},
    {"dashboard-exit-on-stop", no_argument, NULL, OPTION_DASHBOARD_EXIT_ON_STOP},
    {"stats-interval", required_argument, NULL, OPTION_STATS_INTERVAL},
    {"stats-out", required_argument, NULL, OPTION_STATS_OUT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The config file is read first, whatever its position, so flags win. */
static int apply_config_first(int argc, char **argv, struct run_options *options, char *error,
                              size_t len)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *path = NULL;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
        if (path && read_config_file(options, path, error, len) < 0)
            return -1;
    }
    return 0;
}

/* --disk FILE fills the primary master, then the slave; --disk master=FILE
 * and --disk slave=FILE name the drive. The command line wins over the
 * config file's "disk", as for every flag. */
static int add_disk(struct run_options *options, const char *argument, char *error, size_t len)
{
    unsigned unit = options->disks_given & 1;
    if (strncmp(argument, "master=", 7) == 0 || strncmp(argument, "slave=", 6) == 0) {
        unit = argument[0] == 's';
        argument += unit ? 6 : 7;
    }
    if (options->disks_given & (1u << unit))
        return fail(error, len, "--disk: the primary %s is given twice", unit ? "slave" : "master");
    options->disks_given |= 1u << unit;
    *(unit ? &options->vm.slave_disk_path : &options->vm.disk_path) = argument;
    return 0;
}

static int apply_flag(struct run_options *options, int option, char *error, size_t len)
{
    char *end;
    switch (option) {
    case 't': options->vm.technique = optarg; return 0;
    case 'm': return set_memory(options, optarg, "--mem", error, len);
    case 'd': return add_disk(options, optarg, error, len);
    case OPTION_STATS_JSON: options->vm.stats_json_path = optarg; return 0;
    case OPTION_CONFIG: return 0;   /* already applied */
    case OPTION_SWITCH: options->vm.switch_schedule = optarg; return 0;
    case OPTION_SWITCH_EVERY: options->vm.switch_every = optarg; return 0;
    case OPTION_SWITCH_AMONG: options->vm.switch_among = optarg; return 0;
    case OPTION_SWITCH_SEED:
        errno = 0;
        options->vm.switch_seed = strtoull(optarg, &end, 0);
        if (errno || end == optarg || *end)
            return fail(error, len, "--switch-seed '%s': expected a number", optarg);
        return 0;
    case OPTION_TIMEOUT: {
        errno = 0;
        double seconds = strtod(optarg, &end);
        if (errno || end == optarg || *end)
            return fail(error, len, "--timeout '%s': expected a number of seconds", optarg);
        char what[128];
        snprintf(what, sizeof what, "--timeout '%.100s'", optarg);
        return set_timeout(options, seconds, what, error, len);
    }
    case OPTION_DASHBOARD: options->dashboard = true; return 0;
    case OPTION_DASHBOARD_EXIT_ON_STOP: options->dashboard_exit_on_stop = true; return 0;
    case OPTION_STATS_OUT: options->stats_out_path = optarg; return 0;
    case OPTION_STATS_INTERVAL: {
        errno = 0;
        double ms = strtod(optarg, &end);
        if (errno || end == optarg || *end)
            return fail(error, len, "--stats-interval '%s': expected a number of milliseconds",
                        optarg);
        char what[128];
        snprintf(what, sizeof what, "--stats-interval '%.100s'", optarg);
        return set_stats_interval(options, ms, what, error, len);
    }
    case 'h': options->show_help = 1; return 0;
    default: return fail(error, len, "unknown option (see vmlab --help)");
    }
}

/* "PATH ARGS": the kernel's own file name, a space, then the arguments, as
 * QEMU's -kernel/-append builds it ("%s %s") and GRUB similarly does. */
static void build_command_line(struct run_options *options, char *arguments)
{
    const char *path = options->vm.guest_path;
    size_t size = strlen(path) + (arguments ? strlen(arguments) : 0) + 2;
    char *line = malloc(size);
    snprintf(line, size, "%s %s", path, arguments ? arguments : "");
    free(arguments);
    options->command_line = line;
    options->vm.guest_command_line = line;
}

static char *join_words(char **words, int count)
{
    size_t size = 1;
    for (int i = 0; i < count; i++)
        size += strlen(words[i]) + 1;
    char *joined = calloc(size, 1);
    for (int i = 0; i < count; i++) {
        if (i)
            strcat(joined, " ");
        strcat(joined, words[i]);
    }
    return joined;
}

int config_parse_run(int argc, char **argv, struct run_options *options, char *error,
                     size_t error_len)
{
    memset(options, 0, sizeof *options);
    options->vm.technique = "interp";
    options->vm.memory_bytes = DEFAULT_MEMORY;
    if (apply_config_first(argc, argv, options, error, error_len) < 0)
        return -1;
    char *arguments = options->command_line;   /* from the config, if any */
    options->command_line = NULL;
    optind = 1;
    opterr = 0;
    int option;
    while ((option = getopt_long(argc, argv, "+h", long_options, NULL)) != -1) {
        if (option == '?' || option == ':') {
            free(arguments);
            return fail(error, error_len, "%s: unknown option or missing value (see vmlab --help)",
                        argv[optind - 1]);
        }
        if (apply_flag(options, option, error, error_len) < 0) {
            free(arguments);
            return -1;
        }
    }
    if (options->show_help) {
        free(arguments);
        return 0;
    }
    if (optind < argc && strcmp(argv[optind], "--") != 0)
        options->vm.guest_path = argv[optind++];
    if (optind < argc && strcmp(argv[optind], "--") == 0) {
        optind++;
        free(arguments);
        arguments = join_words(argv + optind, argc - optind);
    } else if (optind < argc) {
        free(arguments);
        return fail(error, error_len, "unexpected argument '%s': guest arguments go after --",
                    argv[optind]);
    }
    if (!options->vm.guest_path) {
        free(arguments);
        return fail(error, error_len, "no guest image given (usage: vmlab run [options] GUEST.elf "
                    "[-- GUEST ARGS])");
    }
    if (options->stats_interval_ms && !options->stats_out_path) {
        free(arguments);
        return fail(error, error_len, "--stats-interval needs --stats-out FILE (where the lines go)");
    }
    if (options->stats_out_path && !options->stats_interval_ms)
        options->stats_interval_ms = 1000;
    build_command_line(options, arguments);
    return 0;
}

void config_free(struct run_options *options)
{
    free(options->command_line);
    cJSON_Delete(options->json_document);
    options->command_line = NULL;
    options->json_document = NULL;
}
