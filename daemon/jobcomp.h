/*
 * jobcomp.h - the job completion log (JobCompLog=, lagranged.conf(5)), as
 * Slurm's jobcomp/filetxt keeps one: a line per job that reaches a final
 * state (COMPLETED, FAILED, CANCELLED, EXPIRED), for accounting and for
 * tools that grep:
 *
 *   JobId=j0123456789ab Name=nightly Model=resnet@3f2a9c01d4e5
 *   State=COMPLETED Reason=- Submit=2024-05-01T12:00:00.123Z
 *   Start=2024-05-01T12:00:00.200Z End=2024-05-01T12:00:01.450Z
 *   Elapsed=1.250 Node=gs-mad Attempts=1
 *
 * (one line). Values: an empty one is written "-"; one holding white
 * space, '"', '\\', '=', a control character, or that is "-" itself, is
 * written in double quotes with '"' and '\\' escaped by '\\' and control
 * characters as \n, \t or \xHH; bytes from 0x80 (UTF-8) pass as they are.
 * Times are UTC, ISO 8601 with milliseconds; Start is "-" for a job that
 * never ran; Elapsed is End - Start in seconds (0.000 if it never ran).
 * Model is the model's name, '@', and the first 12 hex digits of its
 * SHA-256; Reason is the job's reason, else its error, else "-".
 *
 * The file is opened O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC, mode 0640
 * (less the umask), its directory created if missing; each line goes out
 * in one write(2), so lines of concurrent writers do not interleave.
 * jobcomp_open again (SIGHUP) opens the path anew: logrotate's
 * move-then-HUP. A failure is returned naming the file, and never fails
 * the job; while the file cannot be opened each write tries again.
 *
 * Threading: loop thread only.
 */
#ifndef LG_DAEMON_JOBCOMP_H
#define LG_DAEMON_JOBCOMP_H

#include <stddef.h>
#include <stdint.h>

#define JOBCOMP_LINE_MAX 4096      /* one line, incl. '\n' */
#define JOBCOMP_FIELD_MAX 600      /* bytes of a value considered; longer
                                      ones are cut, marked "..." */

typedef struct jobcomp_rec {
    const char *id, *name, *model_name, *model_id, *state, *reason, *node;
    uint64_t submit_ms, start_ms, end_ms; /* Unix ms; start 0: never ran */
    unsigned attempts;
} jobcomp_rec;

/* The line for r, '\n'-terminated, into buf (NUL-terminated too).
 * Returns its length (without the NUL), or -ENOSPC if len is too small
 * (JOBCOMP_LINE_MAX always suffices). Pure. */
int jobcomp_format(const jobcomp_rec *r, char *buf, size_t len);

typedef struct jobcomp {
    int fd;                        /* -1: closed (none, or open failed) */
    char *path;                    /* NULL: none (JobCompLog=none) */
} jobcomp;

/* jc starts closed with no path. */
void jobcomp_init(jobcomp *jc);

/* (Re)open at path (NULL: none). The file open before is closed in any
 * case; if the new one cannot be opened, jc keeps its path (each write
 * tries again) and -errno comes back with "JobCompLog FILE: why".
 * -ENOMEM leaves jc as it was. */
int jobcomp_open(jobcomp *jc, const char *path, char *err, size_t errlen);

/* Append one line (from jobcomp_format) in one write(2). 0 (also with
 * no path), or -errno with "JobCompLog FILE: why" in err. */
int jobcomp_write(jobcomp *jc, const char *line, size_t n, char *err,
                  size_t errlen);

void jobcomp_close(jobcomp *jc);

#endif
