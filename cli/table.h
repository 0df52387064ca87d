/*
 * table.h - the listings of the API verbs (queue, nodes, model ls, and the
 * one-object views of show, watch and submit), after Slurm's: one row per
 * object, columns chosen with -o FORMAT, printed as an aligned table (the
 * default), pipe-separated with a header line (--parsable, like sacct
 * --parsable2), one JSON document (--json: an array of objects whose keys
 * are the columns' snake_case names) or Key=Value lines (show).
 *
 * A verb describes its columns once (table_col), fills rows cell by cell
 * with the text a person reads and, where it differs, the JSON value a
 * program reads (a number, a boolean, an array, null), and prints. Without
 * -o the table shows the columns not marked TABLE_EXTRA and JSON shows
 * every column, so that JSON keys are stable whatever the table shows.
 *
 * Memory: cells are copied; table_free releases everything.
 */
#ifndef LG_TABLE_H
#define LG_TABLE_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct table_col {
    const char *key;            /* snake_case: JSON key, -o name */
    const char *head;           /* header of the table and --parsable */
    unsigned flags;             /* TABLE_RIGHT, TABLE_EXTRA */
    int width;                  /* table only: cut longer cells; 0 never */
} table_col;

enum {
    TABLE_RIGHT = 1u,           /* right-aligned (numbers) */
    TABLE_EXTRA = 2u,           /* shown only when -o names it (and in JSON) */
};

enum table_mode { TABLE_TEXT, TABLE_PARSABLE, TABLE_JSON, TABLE_KV };

/* The listing options of a verb. */
typedef struct table_opts {
    enum table_mode mode;       /* --json, --parsable; else the caller's */
    int noheader;               /* --noheader */
    const char *format;         /* -o FORMAT, NULL = the default columns */
} table_opts;

enum {
    TABLE_OPT_JSON = 0x5401,
    TABLE_OPT_PARSABLE,
    TABLE_OPT_NOHEADER,
    TABLE_OPT_FORMAT,           /* --format; -o is 'o' */
};
/* Add to a verb's getopt_long table, with "o:" in its short options. */
#define TABLE_LONG_OPTIONS                                                 \
    { "json", no_argument, 0, TABLE_OPT_JSON },                            \
    { "parsable", no_argument, 0, TABLE_OPT_PARSABLE },                    \
    { "noheader", no_argument, 0, TABLE_OPT_NOHEADER },                    \
    { "format", required_argument, 0, TABLE_OPT_FORMAT }
#define TABLE_OPTIONS_HELP                                                 \
"  --json             one JSON document: an array of objects\n"            \
"  --parsable         fields separated by '|', a header line first\n"      \
"  --noheader         no header line\n"                                    \
"  -o, --format COLS  comma-separated columns, e.g. -o id,state\n"

/* Handle option c if it is a listing option ('o' included): 1 handled,
 * 0 not ours. */
int table_opt(table_opts *o, int c, const char *arg);

typedef struct table table;

/* A table of ncols columns (cols must outlive it) printed as o says.
 * -EINVAL for an unknown column in o->format: err names it and lists
 * the columns. */
int table_new(table **t, const table_col *cols, int ncols,
              const table_opts *o, char *err, size_t errlen);
void table_free(table *t);
/* Start a row; the cells that are not set stay empty (JSON null). */
int table_row(table *t);
/* Set cell col of the last row. text is what people read (NULL = empty);
 * json a JSON literal for --json (NULL: text as a JSON string). */
int table_set(table *t, int col, const char *text, const char *json);
/* A number: text as given (NULL: the number, whole or to 4 digits), JSON
 * the number itself, exactly (null if not finite). */
int table_num(table *t, int col, const char *text, double v);
/* A boolean: text "yes"/"no", JSON true/false. */
int table_bool(table *t, int col, int v);

/* Print every row in the table's mode. Returns 0, or -EIO if f failed. */
int table_print(const table *t, FILE *f);
/* Print one row as one JSON object of the selected columns, whatever the
 * mode, without a newline. */
void table_json_row(const table *t, FILE *f, int row);

/* Cell helpers. ISO 8601 UTC to the second ("2026-11-22T16:29:01Z"),
 * "" for 0. */
const char *table_time(char *buf, size_t len, uint64_t unix_ms);
/* A JSON string literal of table_time, or null for 0. */
const char *table_time_json(char *buf, size_t len, uint64_t unix_ms);
/* A short duration: "42s", "5m03s", "2h05m", "3d04h". */
const char *table_dur(char *buf, size_t len, double s);

#endif
