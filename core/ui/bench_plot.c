/*
 * bench_plot.c - --plot FILE.svg|FILE.png: the cycles per operation as a
 * grouped bar chart on a log scale (one group per benchmark, one bar per
 * technique that ran), with Adams & Agesen's native, BT and VT-x figures
 * as markers on the same groups. gnuplot draws it: we write its data file
 * and script and run it.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *extension_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

int bench_plot_check(const char *path, char *error, size_t error_len)
{
    const char *extension = extension_of(path);
    if (strcasecmp(extension, "svg") != 0 && strcasecmp(extension, "png") != 0) {
        snprintf(error, error_len, "--plot %s: the file must end in .svg or .png", path);
        return -1;
    }
    if (!bench_on_path("gnuplot")) {
        snprintf(error, error_len, "--plot needs gnuplot, which is not installed "
                 "(Debian package gnuplot-nox)");
        return -1;
    }
    bool existed = access(path, F_OK) == 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        snprintf(error, error_len, "--plot %s: cannot write there: %s", path, strerror(errno));
        return -1;
    }
    close(fd);
    if (!existed)
        unlink(path);   /* a run that fails later leaves nothing behind */
    return 0;
}

/* The columns that have at least one cycles figure: the bars. */
static int plotted_columns(const struct bench_report *report, int *which)
{
    int n = 0;
    for (int c = 0; c < report->column_count; c++) {
        bool any = false;
        for (int b = 0; b < report->benchmark_count; b++)
            any = any || report->cells[b][c].cycles.present;
        if (any)
            which[n++] = c;
    }
    return n;
}

static void write_value(FILE *data, bool present, double value)
{
    if (present && value > 0)
        fprintf(data, " %.6g", value);
    else
        fputs(" NaN", data);
}

/* One line per benchmark that prints cycles: the bars, then the markers. */
static int write_data(FILE *data, const struct bench_report *report, const int *which, int n)
{
    int rows = 0;
    fputs("benchmark", data);
    for (int i = 0; i < n; i++)
        fprintf(data, " %s", report->columns[which[i]].name);
    fputs(" A&A-native A&A-BT A&A-VT-x\n", data);
    for (int b = 0; b < report->benchmark_count; b++) {
        if (report->benchmarks[b]->is_cpubench)
            continue;
        fprintf(data, "%s", report->benchmarks[b]->name);
        for (int i = 0; i < n; i++)
            write_value(data, report->cells[b][which[i]].cycles.present,
                        report->cells[b][which[i]].cycles.median);
        const struct bench_reference_row *reference = bench_reference_find(report->benchmarks[b]->name);
        write_value(data, reference != NULL, reference ? reference->native : 0);
        write_value(data, reference != NULL, reference ? reference->bt : 0);
        write_value(data, reference != NULL, reference ? reference->vtx : 0);
        fputc('\n', data);
        rows++;
    }
    return rows;
}

/* A gnuplot single-quoted string: '' stands for one quote. */
static void write_quoted(FILE *script, const char *text)
{
    fputc('\'', script);
    for (const char *p = text; *p; p++) {
        if (*p == '\'')
            fputc('\'', script);
        fputc(*p, script);
    }
    fputc('\'', script);
}

/* A gnuplot double-quoted string, where \\n is a line break. */
static void write_title(FILE *script, const char *text)
{
    fputc('"', script);
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            fputs("\\n", script);
        else if (*p == '"' || *p == '\\')
            fprintf(script, "\\%c", *p);
        else
            fputc(*p, script);
    }
    fputs("\"\n", script);
}

static void write_script(FILE *script, const char *path, const char *data_path, int bars,
                         int rows, const char *not_run)
{
    bool svg = strcasecmp(extension_of(path), "svg") == 0;
    fprintf(script, "set terminal %s size 1200,650 noenhanced font 'sans,11' background 'white'\n",
            svg ? "svg" : "pngcairo");
    fputs("set output ", script);
    write_quoted(script, path);
    fputs("\nset title ", script);
    char title[600];
    snprintf(title, sizeof title, "vmlab bench: cycles per operation, measured here "
             "(markers: Adams & Agesen 2006, Pentium 4 672)%s%s", not_run[0] ? "\nnot run here: " : "",
             not_run);
    write_title(script, title);
    if (rows == 0 || bars == 0) {
        /* Nothing measured with cycles: still a valid picture that says so. */
        fputs("unset border; unset tics; unset key\n"
              "set label 'no kernel benchmark was measured with cycles in this run' at graph 0.5,0.5 center\n"
              "plot [0:1][0:1] 2 notitle\n", script);
        return;
    }
    fputs("set style data histogram\nset style histogram clustered gap 1\n"
          "set style fill solid 0.85 border -1\nset boxwidth 0.9\n"
          "set logscale y\nset ylabel 'cycles per operation (guest rdtsc), log scale'\n"
          "set key outside right top\nset grid ytics\nset xtics rotate by -30 nomirror\n"
          "set datafile missing 'NaN'\n", script);
    fprintf(script, "set xrange [-0.7:%d.7]\n", rows - 1);
    fputs("plot for [i=2:", script);
    fprintf(script, "%d] ", bars + 1);
    write_quoted(script, data_path);
    fputs(" using i:xtic(1) title columnheader(i)", script);
    /* The three markers side by side over each group: native, BT, VT-x. */
    static const char *const markers[3] = {"pt 7 ps 1.4 lc rgb 'black'",
                                           "pt 5 ps 1.3 lc rgb '#aa3377'",
                                           "pt 9 ps 1.6 lc rgb '#228833'"};
    for (int k = 0; k < 3; k++)
        fprintf(script, ", \\\n     '' using ($0%+.2f):%d with points %s title columnheader(%d)",
                (k - 1) * 0.2, bars + 2 + k, markers[k], bars + 2 + k);
    fputc('\n', script);
}

static int run_gnuplot(const char *script_path, const char *err_path, char *error,
                       size_t error_len)
{
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(error, error_len, "--plot: cannot fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int in = open("/dev/null", O_RDONLY);
        if (err >= 0)
            dup2(err, 2);
        if (in >= 0)
            dup2(in, 0);
        execlp("gnuplot", "gnuplot", script_path, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char first_line[200] = "";
    FILE *messages = fopen(err_path, "r");
    if (messages) {
        if (fgets(first_line, sizeof first_line, messages))
            first_line[strcspn(first_line, "\n")] = '\0';
        fclose(messages);
    }
    snprintf(error, error_len, "--plot: gnuplot failed: %s", first_line[0] ? first_line : "?");
    return -1;
}

int bench_plot(const struct bench_report *report, const char *path, const char *work_dir,
               char *error, size_t error_len)
{
    char data_path[PATH_MAX], script_path[PATH_MAX], err_path[PATH_MAX];
    snprintf(data_path, sizeof data_path, "%s/plot.dat", work_dir);
    snprintf(script_path, sizeof script_path, "%s/plot.gp", work_dir);
    snprintf(err_path, sizeof err_path, "%s/plot.err", work_dir);
    FILE *data = fopen(data_path, "w");
    FILE *script = fopen(script_path, "w");
    if (!data || !script) {
        if (data)
            fclose(data);
        if (script)
            fclose(script);
        snprintf(error, error_len, "--plot: cannot write in %s", work_dir);
        return -1;
    }
    int which[BENCH_MAX_COLUMNS];
    int bars = plotted_columns(report, which);
    int rows = write_data(data, report, which, bars);
    char not_run[300] = "";
    for (int c = 0; c < report->column_count; c++)
        if (!report->columns[c].runs)
            snprintf(not_run + strlen(not_run), sizeof not_run - strlen(not_run), "%s%s",
                     not_run[0] ? ", " : "", report->columns[c].name);
    write_script(script, path, data_path, bars, rows, not_run);
    fclose(data);
    fclose(script);
    return run_gnuplot(script_path, err_path, error, error_len);
}
