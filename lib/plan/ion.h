/*
 * ion.h - the syntax of ION contact-plan commands (the ionadmin lines of
 * an ION .rc file) that a topology file may contain: "a contact",
 * "a range", "@" (reference time) and the commands lagrange skips.
 *
 * Owns only the reading of one command's words into a plan_ion_cmd;
 * topology.c maps node numbers to nodes and turns contacts into windows.
 * Pure functions; thread-safe.
 */
#ifndef LG_PLAN_ION_H
#define LG_PLAN_ION_H

#include <stddef.h>

enum plan_ion_op {
    PLAN_ION_SKIP = 0,           /* a command with no meaning here (m, s, 1...) */
    PLAN_ION_CONTACT,            /* a contact T1 T2 FROM TO RATE [CONFIDENCE] */
    PLAN_ION_RANGE,              /* a range T1 T2 FROM TO OWLT */
    PLAN_ION_REFTIME,            /* @ TIME: the base of relative times */
};

typedef struct plan_ion_time {
    double v;                    /* seconds: Unix time if absolute */
    int absolute;                /* 0: "+N", relative to the reference */
} plan_ion_time;

typedef struct plan_ion_cmd {
    enum plan_ion_op op;
    plan_ion_time t1, t2;        /* REFTIME uses t1 only */
    int from, to;                /* ION node numbers, >= 1 */
    double value;                /* CONTACT: bytes/s; RANGE: one-way light time, s */
} plan_ion_cmd;

/* One "a range", with times relative to the topology's epoch. */
typedef struct plan_ion_range {
    int from, to;                /* ION node numbers */
    double t1, t2;               /* [t1, t2), s */
    double owlt;                 /* one-way light time, s */
    int line;                    /* where given */
} plan_ion_range;

/* 1 if word (the first of a line) is an ION command letter. */
int plan_ion_is_cmd(const char *word);

/* Read the n words of one ION command. Returns 0, or LG_EMODEL with the
 * reason (no file:line; the caller adds it) in err. */
int plan_ion_parse(char *const *w, int n, plan_ion_cmd *c, char *err,
                   size_t errlen);

/* Sort ranges by (from, to, t1) and merge the overlapping ones of one
 * direction that agree. Returns the new count, or -1 if two overlapping
 * ranges of one direction disagree; *bad (if not NULL) then gets the
 * index of the later of them, whose predecessor is the other. */
int plan_ion_ranges_sort(plan_ion_range *r, int n, int *bad);

/* The light time of A->B at t from sorted ranges: the range of that
 * direction covering t, else the one of B->A (ION ranges are symmetric
 * unless both directions are given). Returns 0, or -1 if none covers t. */
int plan_ion_owlt(const plan_ion_range *r, int n, int from, int to, double t,
                  double *owlt);

#endif
