/*
 * bench.c - `vmlab bench`: the command. Which benchmarks and columns, the
 * options, what can run here; bench_rounds.c measures, bench_summary.c
 * turns runs into figures, bench_report.c and bench_plot.c show them.
 *
 *   vmlab bench [--techniques LIST] [--benchmarks LIST] [--rounds N] [--quick]
 *               [--format table|markdown|csv|json] [--plot FILE.svg|FILE.png]
 *               [--output FILE] [--max-seconds S]
 *
 * The rounds themselves are bench_rounds.c.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/technique.h"
#include "core/vm.h"

#define DEFAULT_ROUNDS 3
#define QUICK_ROUNDS 2
#define DEFAULT_MAX_SECONDS 300
#define QUICK_MAX_SECONDS 120

/* The teaching kernel's benchmarks, in its own order (labs/guests/kernel/
 * bench.c; tests/bench/check.sh checks that the lists agree), then the
 * cpubench guest. ctxsw counts two switches per iteration (user/bench.c). */
static const struct bench_benchmark benchmarks[] = {
    {"syscall", "int 0x80 and back, from ring 3", 1, false},
    {"in", "inb from the UART's line status", 1, false},
    {"cr3", "mov to cr3 (for the cr8 write)", 1, false},
    {"callret", "call of an empty function", 1, false},
    {"pgfault", "first touch of a heap page", 1, false},
    {"divzero", "#DE to a user handler and back", 1, false},
    {"ptemod", "PTE bit flip and invlpg", 1, false},
    {"cli-sti", "cli; sti", 1, false},
    {"pushf-popf", "pushf; popf", 1, false},
    {"ctxsw", "a switch between two processes", 2, false},
    {"cpu", "a round of integer work in ring 3", 1, false},
    {"hlt", "sti; hlt woken by a pending IRQ 4", 1, false},
    {"cpubench", "the cpubench guest: one iteration", 1, true},
};
#define BENCHMARK_COUNT (int)(sizeof benchmarks / sizeof benchmarks[0])

/* The five techniques, in docs/design.md's order; a technique of all_techniques
 * that is not among them is added after them. */
static const char *const planned[] = {"interp", "trapemu", "bt", "hvm", "pv", NULL};

const struct bench_benchmark *bench_find(const char *name)
{
    for (int i = 0; i < BENCHMARK_COUNT; i++)
        if (strcmp(benchmarks[i].name, name) == 0)
            return &benchmarks[i];
    return NULL;
}

const struct bench_benchmark *bench_benchmark_at(int index)
{
    return index >= 0 && index < BENCHMARK_COUNT ? &benchmarks[index] : NULL;
}

struct bench_options {
    const char *techniques, *benchmarks, *output, *plot, *from;
    enum bench_format format;
    int rounds;                    /* 0: the default */
    double max_seconds;            /* 0: the default */
    bool quick, help, list;
};

static const char bench_usage[] =
    "usage: vmlab bench [--techniques LIST] [--benchmarks LIST] [--rounds N] [--quick]\n"
    "                   [--format table|markdown|csv|json] [--plot FILE.svg|FILE.png]\n"
    "                   [--output FILE] [--max-seconds S]\n"
    "\n"
    "The teaching kernel's microbenchmarks and the cpubench guest under every technique\n"
    "that can run here (the others are columns that say why not) and under\n"
    "qemu-system-i386 -accel tcg, beside Adams & Agesen's published figures.\n"
    "  --techniques LIST   interp,trapemu,bt,hvm,pv,qemu-tcg (default: all of them)\n"
    "  --benchmarks LIST   syscall,in,cr3,callret,pgfault,divzero,ptemod,cli-sti,\n"
    "                      pushf-popf,ctxsw,cpu,hlt,cpubench (default: all of them)\n"
    "  --rounds N          counted rounds, 1-15 (default 3; --quick 2)\n"
    "  --quick             fixed small iteration counts, no calibration round (tests)\n"
    "  --format F          table (default), markdown, csv or json\n"
    "  --plot FILE         a grouped bar chart (gnuplot), .svg or .png\n"
    "  --output FILE       write the report there instead of stdout\n"
    "  --max-seconds S     stop starting runs after S seconds (default 300; --quick 120)\n"
    "  --list              print the benchmarks and the columns, one line each\n"
    "  --from FILE.json    measure nothing: show a run saved with --format json again\n"
    "                      (in another --format, or as a --plot)\n"
    "See docs/bench.md.\n";

static int bad_input(const char *message, const char *detail)
{
    fprintf(stderr, "vmlab bench: %s%s\n", message, detail ? detail : "");
    return -1;
}

static int parse_format(const char *text, enum bench_format *format)
{
    static const char *const names[] = {"table", "markdown", "csv", "json"};
    for (int i = 0; i < 4; i++)
        if (strcmp(text, names[i]) == 0) {
            *format = (enum bench_format)i;
            return 0;
        }
    return bad_input("--format must be table, markdown, csv or json, not ", text);
}

static int parse_number(const char *option, const char *text, double low, double high,
                        double *value)
{
    char *end;
    errno = 0;
    *value = strtod(text, &end);
    if (errno || end == text || *end || *value < low || *value > high || *value != (int)*value) {
        fprintf(stderr, "vmlab bench: %s must be a whole number from %.0f to %.0f, not '%s'\n",
                option, low, high, text);
        return -1;
    }
    return 0;
}

static int parse_options(int argc, char **argv, struct bench_options *options)
{
    static const struct option long_options[] = {
        {"techniques", required_argument, NULL, 't'}, {"benchmarks", required_argument, NULL, 'b'},
        {"rounds", required_argument, NULL, 'r'},     {"quick", no_argument, NULL, 'q'},
        {"format", required_argument, NULL, 'f'},     {"plot", required_argument, NULL, 'p'},
        {"output", required_argument, NULL, 'o'},     {"max-seconds", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},             {"list", no_argument, NULL, 'l'},
        {"from", required_argument, NULL, 'F'},       {NULL, 0, NULL, 0},
    };
    double number;
    memset(options, 0, sizeof *options);
    opterr = 0;
    optind = 1;
    int option;
    while ((option = getopt_long(argc, argv, "+h", long_options, NULL)) != -1) {
        switch (option) {
        case 't': options->techniques = optarg; break;
        case 'b': options->benchmarks = optarg; break;
        case 'q': options->quick = true; break;
        case 'p': options->plot = optarg; break;
        case 'o': options->output = optarg; break;
        case 'h': options->help = true; break;
        case 'l': options->list = true; break;
        case 'F': options->from = optarg; break;
        case 'f':
            if (parse_format(optarg, &options->format) < 0)
                return -1;
            break;
        case 'r':
            if (parse_number("--rounds", optarg, 1, BENCH_MAX_ROUNDS, &number) < 0)
                return -1;
            options->rounds = (int)number;
            break;
        case 'm':
            if (parse_number("--max-seconds", optarg, 1, 86400, &number) < 0)
                return -1;
            options->max_seconds = number;
            break;
        default:
            return bad_input("unknown or incomplete option ", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_input("unexpected argument ", argv[optind]);
    if (options->from && (options->techniques || options->benchmarks || options->rounds ||
                          options->quick || options->max_seconds))
        return bad_input("--from shows a saved run: it takes only --format, --output and --plot",
                         NULL);
    return 0;
}

/* ---- columns ------------------------------------------------------------ */

static bool is_known_column(const char *name)
{
    if (strcmp(name, BENCH_QEMU_COLUMN) == 0 || technique_find(name))
        return true;
    for (int i = 0; planned[i]; i++)
        if (strcmp(planned[i], name) == 0)
            return true;
    return false;
}

bool bench_on_path(const char *program)
{
    const char *path = getenv("PATH");
    char candidate[PATH_MAX], copy[4096];
    snprintf(copy, sizeof copy, "%s", path ? path : "/usr/bin:/bin");
    char *rest;
    for (char *directory = strtok_r(copy, ":", &rest); directory;
         directory = strtok_r(NULL, ":", &rest)) {
        snprintf(candidate, sizeof candidate, "%s/%s", directory, program);
        if (access(candidate, X_OK) == 0)
            return true;
    }
    return false;
}

/* Fills in whether the column can run here, and if not, why not. */
static void probe_column(struct bench_column *column, const char *guests)
{
    const char *image = strcmp(column->name, "pv") == 0 ? "kernel-pv.elf" : "kernel.elf";
    snprintf(column->kernel, sizeof column->kernel, "%s/%s", guests, image);
    column->is_qemu = strcmp(column->name, BENCH_QEMU_COLUMN) == 0;
    column->runs = false;
    const struct technique *technique = technique_find(column->name);
    if (column->is_qemu) {
        if (!bench_on_path("qemu-system-i386")) {
            snprintf(column->why_not, sizeof column->why_not,
                     "qemu-system-i386 is not installed (Debian package qemu-system-x86)");
            return;
        }
    } else if (!technique) {
        char name[BENCH_NAME_LEN];
        memcpy(name, column->name, sizeof name);
        snprintf(column->why_not, sizeof column->why_not,
                 "not implemented yet: this build of vmlab has no technique '%s'", name);
        return;
    } else if (technique->available &&
               !technique->available(column->why_not, sizeof column->why_not)) {
        return;
    }
    if (access(column->kernel, R_OK) != 0) {
        snprintf(column->why_not, sizeof column->why_not, "no guest image %s (make guests)", image);
        return;
    }
    column->runs = true;
}

static int add_column(struct bench_report *report, const char *name, const char *guests)
{
    for (int c = 0; c < report->column_count; c++)
        if (strcmp(report->columns[c].name, name) == 0)
            return 0;   /* named twice */
    if (report->column_count == BENCH_MAX_COLUMNS)
        return bad_input("too many techniques", NULL);
    struct bench_column *column = &report->columns[report->column_count++];
    snprintf(column->name, sizeof column->name, "%s", name);
    probe_column(column, guests);
    return 0;
}

static int choose_columns(struct bench_report *report, const char *list, const char *guests)
{
    if (!list) {
        for (int i = 0; planned[i]; i++)
            add_column(report, planned[i], guests);
        for (int i = 0; all_techniques[i]; i++)
            add_column(report, all_techniques[i]->name, guests);
        return add_column(report, BENCH_QEMU_COLUMN, guests);
    }
    char copy[512];
    snprintf(copy, sizeof copy, "%s", list);
    char *rest;
    for (char *name = strtok_r(copy, ",", &rest); name; name = strtok_r(NULL, ",", &rest)) {
        if (!is_known_column(name))
            return bad_input("unknown technique (interp, trapemu, bt, hvm, pv, qemu-tcg): ", name);
        if (add_column(report, name, guests) < 0)
            return -1;
    }
    return report->column_count ? 0 : bad_input("--techniques names none", NULL);
}

static int choose_benchmarks(struct bench_report *report, const char *list)
{
    if (!list) {
        for (int i = 0; i < BENCHMARK_COUNT; i++)
            report->benchmarks[report->benchmark_count++] = &benchmarks[i];
        return 0;
    }
    char copy[512];
    snprintf(copy, sizeof copy, "%s", list);
    char *rest;
    for (char *name = strtok_r(copy, ",", &rest); name; name = strtok_r(NULL, ",", &rest)) {
        const struct bench_benchmark *benchmark = bench_find(name);
        if (!benchmark)
            return bad_input("unknown benchmark (see vmlab bench --help): ", name);
        bool twice = false;
        for (int b = 0; b < report->benchmark_count; b++)
            twice = twice || report->benchmarks[b] == benchmark;
        if (!twice && report->benchmark_count < BENCH_MAX_BENCHMARKS)
            report->benchmarks[report->benchmark_count++] = benchmark;
    }
    return report->benchmark_count ? 0 : bad_input("--benchmarks names none", NULL);
}

/* --list: what --benchmarks and --techniques accept (the tests compare the
 * first line with the kernel's own list). */
static void list_names(void)
{
    printf("benchmarks:");
    for (int i = 0; i < BENCHMARK_COUNT; i++)
        printf(" %s", benchmarks[i].name);
    printf("\ncolumns:");
    for (int i = 0; planned[i]; i++)
        printf(" %s", planned[i]);
    for (int i = 0; all_techniques[i]; i++)
        if (!technique_is_planned(all_techniques[i]->name))
            printf(" %s", all_techniques[i]->name);
    printf(" %s\n", BENCH_QEMU_COLUMN);
}

/* ---- the command ----------------------------------------------------------- */

/* Where the children come from: this executable, and the guests built
 * next to it (build/vmlab, build/guests/). */
struct bench_files {
    char vmlab[PATH_MAX], guests[PATH_MAX], cpubench[PATH_MAX];
};

static int locate_files(struct bench_files *files)
{
    ssize_t n = readlink("/proc/self/exe", files->vmlab, sizeof files->vmlab - 1);
    if (n <= 0)
        return bad_input("cannot find my own executable in /proc/self/exe", NULL);
    files->vmlab[n] = '\0';
    char *slash = strrchr(files->vmlab, '/');
    int directory = slash ? (int)(slash - files->vmlab) : 0;
    int a = snprintf(files->guests, sizeof files->guests, "%.*s/guests", directory, files->vmlab);
    int b = snprintf(files->cpubench, sizeof files->cpubench, "%s/cpubench.elf", files->guests);
    if (a < 0 || b < 0 || (size_t)b >= sizeof files->cpubench)
        return bad_input("the path of this executable is too long", NULL);
    return 0;
}

static int write_outputs(const struct bench_report *report, const struct bench_options *options,
                         FILE *out, const char *work_dir)
{
    char error[512];
    bench_report_write(out, report, options->format);
    if (fflush(out) != 0 || ferror(out)) {
        fprintf(stderr, "vmlab bench: cannot write the report: %s\n", strerror(errno));
        return VMLAB_STATUS_ERROR;
    }
    if (options->plot && bench_plot(report, options->plot, work_dir, error, sizeof error) < 0) {
        fprintf(stderr, "vmlab bench: %s\n", error);
        return VMLAB_STATUS_ERROR;
    }
    return VMLAB_STATUS_OK;
}

static void remove_work_dir(const char *work_dir)
{
    static const char *const files[] = {"stats.json", "console.txt", "messages.txt",
                                        "plot.dat", "plot.gp", "plot.err", NULL};
    char path[PATH_MAX];
    for (int i = 0; files[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", work_dir, files[i]);
        unlink(path);
    }
    rmdir(work_dir);
}

/* What to measure: the guests must be built; the columns and benchmarks. */
static int choose_inputs(const struct bench_options *options, struct bench_report *report,
                         const struct bench_files *files)
{
    if (access(files->cpubench, R_OK) != 0)
        return bad_input("the guests are not built (make guests): no ", files->cpubench);
    if (choose_columns(report, options->techniques, files->guests) < 0 ||
        choose_benchmarks(report, options->benchmarks) < 0)
        return -1;
    return 0;
}

/* Everything that can be wrong with the input, before anything runs. */
static int prepare(int argc, char **argv, struct bench_options *options,
                   struct bench_report *report, FILE **out, struct bench_files *files)
{
    char error[512];
    if (parse_options(argc, argv, options) < 0)
        return -1;
    if (options->help || options->list)
        return 0;
    if (options->from) {
        if (bench_load(report, options->from, error, sizeof error) < 0)
            return bad_input(error, NULL);
    } else if (locate_files(files) < 0 || choose_inputs(options, report, files) < 0) {
        return -1;
    }
    if (options->plot && bench_plot_check(options->plot, error, sizeof error) < 0)
        return bad_input(error, NULL);
    if (options->output && !(*out = fopen(options->output, "w")))
        return bad_input("--output: cannot write ", options->output);
    return 0;
}

int command_bench(int argc, char **argv)
{
    struct bench_options options;
    static struct bench_files files;
    FILE *out = stdout;
    struct bench_report *report = calloc(1, sizeof *report);
    if (!report)
        return VMLAB_STATUS_ERROR;
    if (prepare(argc, argv, &options, report, &out, &files) < 0) {
        free(report);
        return VMLAB_STATUS_ERROR;
    }
    if (options.help || options.list) {
        if (options.help)
            fputs(bench_usage, stdout);
        else
            list_names();
        free(report);
        return VMLAB_STATUS_OK;
    }
    if (!options.from) {
        report->quick = options.quick;
        report->rounds_requested = options.rounds ? options.rounds
                                   : options.quick ? QUICK_ROUNDS
                                                   : DEFAULT_ROUNDS;
        report->time_bound_seconds = options.max_seconds ? options.max_seconds
                                     : options.quick     ? QUICK_MAX_SECONDS
                                                         : DEFAULT_MAX_SECONDS;
    }

    char work_dir[PATH_MAX - 64];   /* room for the file names in it */
    const char *temporary = getenv("TMPDIR");
    snprintf(work_dir, sizeof work_dir, "%s/vmlab-bench.XXXXXX",
             temporary && temporary[0] ? temporary : "/tmp");
    if (!mkdtemp(work_dir)) {
        fprintf(stderr, "vmlab bench: cannot create a working directory (%s): %s\n", work_dir,
                strerror(errno));
        free(report);
        return VMLAB_STATUS_ERROR;
    }
    if (!options.from) {
        struct sigaction action = {.sa_handler = bench_interrupt};
        sigaction(SIGINT, &action, NULL);
        sigaction(SIGTERM, &action, NULL);
        bench_measure(report, files.vmlab, files.cpubench, work_dir);
        bench_summarize(report);
    }
    int status = write_outputs(report, &options, out, work_dir);
    if (out != stdout)
        fclose(out);
    remove_work_dir(work_dir);
    free(report);
    if (bench_was_interrupted()) {
        fprintf(stderr, "vmlab bench: interrupted: the report has the rounds measured so far\n");
        return VMLAB_STATUS_SIGNAL;
    }
    return status;
}
