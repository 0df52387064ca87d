/*
 * topology.h - the planner's picture of the world: compute nodes, the
 * directed links between them with their contact windows, and where each
 * node's power comes from.
 *
 * Owns plan_topology and its parser. The text format (lagrange-topology(5))
 * is slurm.conf-like: one entity per line as Key=Value words, '#' starts a
 * comment. ION contact-plan lines ("a contact +t1 +t2 FROM TO RATE",
 * "a range +t1 +t2 A B OWLT") are accepted in the same file or in a pure
 * ION .rc file, so existing contact plans load. Errors name file:line.
 *
 * Time is in seconds relative to the topology's epoch (t = 0). Periodic
 * windows and eclipses are expanded up to `horizon`. Rates are in bytes
 * per second internally (the file speaks bit/s, like link budgets do).
 *
 * Nodes may be placed by orbit keys (Tle= for satellites, Lat=/Lon= for
 * ground stations, Moon=yes); Window=orbit links and Eclipse=orbit nodes
 * then get their windows, light times and eclipses from lib/orbit at load
 * time, over [Epoch, Epoch + Horizon]. What the orbits could not tell
 * (decay, an old TLE) is kept as warnings, for the caller to print.
 *
 * A loaded topology is read-only and may be shared by threads.
 */
#ifndef LG_PLAN_TOPOLOGY_H
#define LG_PLAN_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PLAN_NAME_MAX 48         /* node / profile names, incl. NUL */
#define PLAN_MAX_NODES 100000
#define PLAN_MAX_LINKS 1000000
#define PLAN_MAX_WINDOWS 10000000 /* over all links, after expansion */
#define PLAN_DEFAULT_HORIZON (7 * 86400.0)
#define PLAN_MAX_PROFILES 4096
#define PLAN_MAX_LINE 65536      /* bytes in one line of a topology file */
#define PLAN_MAX_FILE (256u << 20) /* bytes in a topology file */
#define PLAN_MAX_WARNINGS 100    /* warnings kept (the rest counted) */
#define PLAN_TLE_NAME_MAX 64     /* TleName=, incl. NUL (= a TLE line 0) */
#define PLAN_MAX_TLE_FILE (64u << 20) /* bytes in a TLE file */
#define PLAN_DEFAULT_MASK 10.0   /* elevation mask of a station, deg */
#define PLAN_ORBIT_TOL 1e-3      /* light-time tolerance of orbit windows */
#define PLAN_TLE_WARN_DAYS 30.0  /* warn when a TLE epoch is further off */

enum plan_kind { PLAN_GROUND = 0, PLAN_LEO, PLAN_GEO, PLAN_LUNAR };

/* Op classes a compute profile gives a throughput for. */
enum plan_opclass {
    PLAN_OC_CONV = 0,            /* Conv, ConvTranspose */
    PLAN_OC_GEMM,                /* MatMul, Gemm, attention products */
    PLAN_OC_ELEM,                /* elementwise, activations, normalisation */
    PLAN_OC_OTHER,               /* pooling, reductions, data movement */
    PLAN_OC_N
};

typedef struct plan_profile {
    char name[PLAN_NAME_MAX];
    double flops[PLAN_OC_N];     /* effective FLOP/s per op class */
    double mem_bw;               /* bytes/s for the memory-bound part */
    double overhead_s;           /* fixed cost per graph node (dispatch) */
    int line;                    /* where declared (0: built in) */
} plan_profile;

typedef struct plan_interval {
    double start, end;           /* [start, end), seconds */
} plan_interval;

/* One contact window of a directed link. Rate and light time may differ
 * per window (ION gives them per contact / range; orbits per pass). */
typedef struct plan_window {
    double start, end;           /* transmission allowed in [start, end) */
    double rate;                 /* bytes/s, > 0 */
    double delay;                /* one-way light time, s, >= 0 */
} plan_window;

typedef struct plan_power {
    int solar;                   /* 0: grid, unconstrained */
    double array_w;              /* solar input in full sun, W */
    double battery_wh;           /* capacity, Wh */
    double min_soc;              /* never below this fraction of capacity */
    double soc0;                 /* state of charge at t = 0, fraction */
    double idle_w;               /* draw when not computing, W */
    double busy_w;               /* draw when computing, W (>= idle_w) */
    plan_interval *eclipse;      /* umbra intervals, sorted, disjoint */
    int n_eclipse;
} plan_power;

/* Where a node is, as declared by its orbit keys (all zero: nowhere).
 * Kept so that the normal form can print what the user wrote and the
 * daemon can notice a changed TLE file (plan_topology_stale). */
typedef struct plan_orbit {
    char *tle_decl;              /* Tle= as written, NULL if none */
    char *tle_path;              /* the file opened: tle_decl resolved
                                    against the topology's directory */
    int64_t tle_mtime;           /* its mtime at load, ns since 1970 */
    char tle_name[PLAN_TLE_NAME_MAX]; /* TleName=, "" if not given */
    int tle_lenient;             /* TleLenient=yes: checksums not checked */
    int satnum;                  /* catalog number of the TLE used */
    double tle_epoch_unix;       /* its epoch, Unix s */
    int site;                    /* 1: a ground station (Lat=, Lon=) */
    double lat_deg, lon_deg;     /* geodetic, WGS-84 */
    double alt_m;                /* height above the ellipsoid, m */
    double mask_deg;             /* elevation mask, deg */
    int moon;                    /* Moon=yes: on the Moon */
    int eclipse;                 /* Eclipse=orbit: eclipses from the TLE */
} plan_orbit;

typedef struct plan_node {
    char name[PLAN_NAME_MAX];
    enum plan_kind kind;
    int profile;                 /* index into topology profiles */
    double scale;                /* multiplies the profile's throughput */
    uint64_t memory;             /* bytes for weights + activations */
    plan_power power;
    int ion;                     /* ION node number, 0 if none */
    int line;
    plan_orbit orbit;            /* orbit keys, if any */
} plan_node;

typedef struct plan_link {       /* directed: from -> to */
    int from, to;                /* node indices */
    plan_window *win;            /* sorted by start, disjoint */
    int n_win;
    int always;                  /* one window [0, inf) */
    int line;                    /* where declared */
    int orbit;                   /* Window=orbit: windows from geometry */
    double orbit_rate;           /* its Rate=, bytes/s (Window=orbit) */
    double orbit_delay;          /* its Delay=, added to the light time */
    double max_range_km;         /* MaxRange= of an ISL, km; 0: none */
} plan_link;

typedef struct plan_topology {
    char *path;                  /* file name, for messages */
    double epoch_unix;           /* Unix time of t = 0, or 0 if unset */
    double horizon;              /* expansion limit of periodic schedules */
    plan_profile *profiles;
    int n_profiles;
    plan_node *nodes;
    int n_nodes;
    plan_link *links;
    int n_links;
    int *out_first;              /* CSR adjacency: links leaving node n are */
    int *out_links;              /* out_links[out_first[n] .. out_first[n+1]) */
    char **warnings;             /* "FILE:LINE: what", the first
                                    PLAN_MAX_WARNINGS, distinct */
    int n_warnings;              /* how many are kept */
    int n_warnings_dropped;      /* how many more there were */
} plan_topology;

/* Parse a topology from a file / from memory (name is used in messages).
 * On error returns LG_EMODEL (bad content) or -ENOMEM/-errno, with
 * "FILE:LINE: what" in err. Tle= paths are relative to the file's
 * directory (plan_topology_load) or to the current directory
 * (plan_topology_parse, and a file named "-"). */
int plan_topology_load(const char *path, plan_topology **out, char *err,
                       size_t errlen);
int plan_topology_parse(const char *name, const char *text, size_t len,
                        plan_topology **out, char *err, size_t errlen);
void plan_topology_free(plan_topology *t);

/* 1 if a TLE file the topology was computed from has changed (its mtime
 * differs, or it is gone) since the load: reload to refresh the windows.
 * 0 otherwise. */
int plan_topology_stale(const plan_topology *t);

/* Add profiles from a file of Profile= lines (what `lagrange calibrate`
 * prints), replacing same-named ones. */
int plan_topology_add_profiles(plan_topology *t, const char *path, char *err,
                               size_t errlen);

/* Normal form: every entity on one line, defaults spelled out, windows
 * expanded (except those computed from orbits: Window=orbit and
 * Eclipse=orbit print as declared), in declaration order. Used by golden
 * tests and `lagrange topology`. Returns 0 or -errno from writing. */
int plan_topology_print(const plan_topology *t, FILE *f);

int plan_topology_find(const plan_topology *t, const char *name);
/* Directed link from a to b, or -1. */
int plan_topology_link(const plan_topology *t, int a, int b);

const char *plan_kind_name(enum plan_kind k);
const char *plan_opclass_name(enum plan_opclass c);
/* The built-in "local" profile: this machine class's measured throughput
 * (see `lagrange calibrate`). */
const plan_profile *plan_profile_builtin(void);

#endif
