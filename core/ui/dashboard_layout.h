/*
 * dashboard_layout.h - where each pane goes for a given terminal size.
 *
 * 80x24 is the smallest supported size: one column, every pane present but
 * short. From 120 columns and 30 lines the screen splits in two: the event
 * table, history and memory panes on the left, the guest console and the
 * event log on the right. Extra lines go to the table and the console.
 * No ncurses here: the layout is unit-tested.
 */
#ifndef VMLAB_DASHBOARD_LAYOUT_H
#define VMLAB_DASHBOARD_LAYOUT_H

#include <stdbool.h>

#define LAYOUT_MIN_COLUMNS 80
#define LAYOUT_MIN_LINES 24

struct pane {
    int y, x, height, width;     /* height 0: not shown */
};

struct dashboard_layout {
    bool too_small;
    bool two_columns;
    struct pane header, status, table, history, memory, bt, console, log, keys;
};

void dashboard_layout_compute(int lines, int columns, struct dashboard_layout *layout);

#endif
