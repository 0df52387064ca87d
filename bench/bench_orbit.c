/*
 * bench_orbit.c - how fast lib/orbit turns TLEs into contact windows.
 *
 * A Starlink-like shell of 1,584 satellites (22 planes x 72, 550 km,
 * 53 deg, Walker phasing; element sets generated here, checksums
 * computed) against 20 ground stations (real sites, mask 10 deg) over
 * 24 h: every pass with its culmination and light-time samples
 * (orb_contact_stations), on 1 thread and on N threads (satellites split
 * evenly, one list per thread), the median of R runs each; then the
 * eclipses of every satellite (orb_eclipse_find). Also the raw SGP4 rate
 * (orb_sgp4_prop over the shell, 1 thread), and a cost model of one call:
 * its arithmetic FLOPs (counted from lib/orbit/sgp4.c's near-Earth path)
 * at the machine's measured scalar multiply-add rate, plus its libm calls
 * at their measured cost. bench/bench_orbit.sh adds python3-sgp4 for comparison.
 *
 * usage: bench_orbit [--threads N] [--reps R] [--sats N]
 * Never fails on a slow result; prints a table.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eclipse.h"
#include "lgerr.h"
#include "sgp4.h"
#include "tle.h"
#include "passes.h"

#define PLANES 22
#define PER_PLANE 72
#define NSAT (PLANES * PER_PLANE)
#define T0 1709337600.0          /* 2024-03-02T00:00:00Z */
#define SPAN 86400.0
#define PI 3.14159265358979323846

static const struct { const char *name; double lat, lon, alt; } SITES[] = {
    { "madrid", 40.43, -4.25, 800 },   { "svalbard", 78.23, 15.39, 500 },
    { "fairbanks", 64.86, -147.85, 300 }, { "wallops", 37.94, -75.46, 10 },
    { "kiruna", 67.86, 20.96, 400 },   { "hartrao", -25.89, 27.69, 1400 },
    { "santiago", -33.15, -70.67, 700 }, { "perth", -31.80, 115.89, 20 },
    { "tokyo", 35.68, 139.69, 40 },    { "singapore", 1.35, 103.82, 15 },
    { "kourou", 5.25, -52.80, 10 },    { "hawaii", 19.82, -155.47, 4200 },
    { "punta-arenas", -52.94, -70.85, 30 }, { "mcmurdo", -77.85, 166.67, 20 },
    { "dubai", 25.20, 55.27, 10 },     { "bangalore", 12.97, 77.59, 900 },
    { "canberra", -35.40, 148.98, 680 }, { "goldstone", 35.43, -116.89, 1000 },
    { "inuvik", 68.36, -133.72, 60 },  { "troll", -72.01, 2.54, 1270 },
};
#define NST (sizeof SITES / sizeof SITES[0])

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void fix_sum(char *line)
{
    line[68] = (char)('0' + orb_tle_checksum(line, strlen(line)));
}

/* The shell: Walker 53:1584/22/1, 550 km, epoch 2024-03-01T18:00Z. */
static int make_shell(orb_sat *sats, int n)
{
    double a = 6378.135 + 550.0;
    double nrev = sqrt(398600.8 / (a * a * a)) * 86400.0 / (2 * PI);
    char err[256];
    for (int i = 0; i < n; i++) {
        int p = i / PER_PLANE, k = i % PER_PLANE;
        char l1[80], l2[80];
        orb_tle t;
        double raan = 360.0 * p / PLANES;
        double ma = fmod(360.0 * k / PER_PLANE + 360.0 * p / NSAT, 360.0);
        snprintf(l1, sizeof l1, "1 %05dU 24001A   24061.75000000  .00001000 "
                 " 00000+0  10000-3 0  9990", 60000 + i);
        snprintf(l2, sizeof l2, "2 %05d  53.0000 %8.4f 0001000  90.0000 "
                 "%8.4f %11.8f  1000", 60000 + i, raan, ma, nrev);
        fix_sum(l1);
        fix_sum(l2);
        if (orb_tle_parse(&t, NULL, l1, l2, 0, err, sizeof err) < 0 ||
            orb_sgp4_init(&sats[i], &t, err, sizeof err) < 0) {
            fprintf(stderr, "bench_orbit: satellite %d: %s\n", i, err);
            return -1;
        }
    }
    return 0;
}

typedef struct job {
    const orb_contact_cfg *cfg;
    orb_sat *sats;               /* a private copy: propagation writes */
    int lo, hi;
    const orb_station *st;
    orb_contact_list l;
    int rc;
} job;

static void *run_job(void *vp)
{
    job *j = vp;
    char err[256];
    orb_contact_list_init(&j->l, 0, 0);
    j->rc = 0;
    for (int i = j->lo; i < j->hi && j->rc == 0; i++)
        j->rc = orb_contact_stations(j->cfg, &j->sats[i], i, NULL, j->st,
                                     (int)NST, &j->l, err, sizeof err);
    if (j->rc)
        fprintf(stderr, "bench_orbit: %s\n", err);
    return NULL;
}

/* Windows of sats[0..n) on nth threads; returns seconds, fills counts. */
static double windows(const orb_contact_cfg *cfg, orb_sat *sats, int n,
                      const orb_station *st, int nth, size_t *nwin,
                      size_t *nlt)
{
    job jobs[64];
    pthread_t th[64];
    double t;
    *nwin = *nlt = 0;
    for (int k = 0; k < nth; k++) {
        jobs[k].cfg = cfg;
        jobs[k].sats = sats;
        jobs[k].lo = n * k / nth;
        jobs[k].hi = n * (k + 1) / nth;
        jobs[k].st = st;
    }
    t = now();
    for (int k = 1; k < nth; k++)
        pthread_create(&th[k], NULL, run_job, &jobs[k]);
    run_job(&jobs[0]);
    for (int k = 1; k < nth; k++)
        pthread_join(th[k], NULL);
    t = now() - t;
    for (int k = 0; k < nth; k++) {
        *nwin += jobs[k].l.n_win;
        *nlt += jobs[k].l.n_lt;
        orb_contact_list_free(&jobs[k].l);
    }
    return t;
}

/* ----------------------------------------------- cost model of a call */

static volatile double sink;

/* Scalar double multiply + add throughput, FLOP/s: 12 independent
 * chains of x = x * m + c in registers (enough to cover the latency),
 * compiled as SGP4 is (ISO C: no contraction to FMA) and kept scalar. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-vectorize", "no-tree-slp-vectorize")))
#endif
static double flop_rate(void)
{
    double m = 0.999999999, c = 1e-9, t, best = 0;
    long n = 20000000;
    for (int r = 0; r < 3; r++) {
        double x0 = 1.0, x1 = 1.1, x2 = 1.2, x3 = 1.3, x4 = 1.4, x5 = 1.5;
        double x6 = 1.6, x7 = 1.7, x8 = 1.8, x9 = 1.9, xa = 2.0, xb = 2.1;
        t = now();
        for (long i = 0; i < n; i++) {
#define STEP(x) x = x * m + c
            STEP(x0); STEP(x1); STEP(x2); STEP(x3); STEP(x4); STEP(x5);
            STEP(x6); STEP(x7); STEP(x8); STEP(x9); STEP(xa); STEP(xb);
#undef STEP
        }
        t = now() - t;
        sink += x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + xa + xb;
        if (24.0 * n / t > best)
            best = 24.0 * n / t;
    }
    return best;
}

/* ns per libm call, on arguments like SGP4's. */
static double libm_ns(int which)
{
    long n = 4000000;
    double acc = 0, t = now();
    for (long i = 0; i < n; i++) {
        double x = 0.1 + (double)(i & 1023) * 0.006;
        switch (which) {
        case 0: acc += sin(x); break;
        case 1: acc += pow(x + 1.0, 1.5); break;
        case 2: acc += fmod(x * 37.0, 6.283185307179586); break;
        case 3: acc += sqrt(x); break;
        default: acc += atan2(x, 1.0 - x); break;
        }
    }
    t = now() - t;
    sink += acc;
    return t / (double)n * 1e9;
}

int main(int argc, char **argv)
{
    int nth = (int)sysconf(_SC_NPROCESSORS_ONLN), reps = 3, n = NSAT;
    orb_station st[NST];
    orb_sat *sats, *work;
    orb_contact_cfg cfg;
    char err[256];
    double t1[16], tn[16], tecl, tprop, calls;
    size_t nwin = 0, nlt = 0, necl = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            nth = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sats") && i + 1 < argc)
            n = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_orbit [--threads N] [--reps R] "
                    "[--sats N]\n");
            return 2;
        }
    }
    if (nth < 1 || nth > 64 || reps < 1 || reps > 16 || n < 1 || n > NSAT) {
        fprintf(stderr, "bench_orbit: bad arguments\n");
        return 2;
    }
    sats = calloc(NSAT, sizeof *sats);
    work = calloc(NSAT, sizeof *work);
    if (!sats || !work || make_shell(sats, NSAT) < 0)
        return 1;
    for (size_t k = 0; k < NST; k++)
        if (orb_contact_station_init(&st[k], SITES[k].name, SITES[k].lat,
                                     SITES[k].lon, SITES[k].alt, 10.0, err,
                                     sizeof err) < 0) {
            fprintf(stderr, "bench_orbit: %s\n", err);
            return 1;
        }
    orb_contact_cfg_init(&cfg, T0, SPAN);

    for (int r = 0; r < reps; r++) {
        memcpy(work, sats, (size_t)n * sizeof *work);
        t1[r] = windows(&cfg, work, n, st, 1, &nwin, &nlt);
        memcpy(work, sats, (size_t)n * sizeof *work);
        tn[r] = nth > 1 ? windows(&cfg, work, n, st, nth, &nwin, &nlt)
                        : t1[r];
    }

    memcpy(work, sats, (size_t)n * sizeof *work);
    tecl = now();
    for (int i = 0; i < n; i++) {
        orb_eclipse ev[64];
        size_t ne;
        if (orb_eclipse_find(&work[i], T0, SPAN, 0, 0, ev, 64, &ne, NULL,
                             err, sizeof err) < 0) {
            fprintf(stderr, "bench_orbit: %s\n", err);
            return 1;
        }
        necl += ne;
    }
    tecl = now() - tecl;

    /* raw propagation: every satellite at 1440 times */
    memcpy(work, sats, (size_t)n * sizeof *work);
    tprop = now();
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 1440; k++) {
            double r[3], v[3];
            orb_sgp4_prop(&work[i], k * 1.0, r, v);
            sink += r[0];
        }
    tprop = now() - tprop;
    calls = (double)n * 1440.0;

    {
        double peak = flop_rate(), s_ns = libm_ns(0), p_ns = libm_ns(1);
        double f_ns = libm_ns(2), q_ns = libm_ns(3), a_ns = libm_ns(4);
        /* lib/orbit/sgp4.c, near-Earth, non-simplified drag, 3 Kepler
         * iterations (e ~ 1e-4 converges to 1e-12 in 2-3): ~210 adds /
         * multiplies / divides; sin or cos x 18 (secular 2, periodics 2,
         * short periodics 2 + 2 per Kepler step + 6), pow x 2, fmod x 5,
         * sqrt x 3, atan2 x 1. */
        double arith = 210, nsin = 18, npow = 2, nfmod = 5, nsqrt = 3;
        double libm = nsin * s_ns + npow * p_ns + nfmod * f_ns +
                      nsqrt * q_ns + a_ns;
        double flop_eq = arith + 20.0 * (nsin + npow + nfmod + nsqrt + 1);
        double meas_ns = tprop / calls * 1e9;

        printf("# lagrange bench_orbit: %d satellites (22 x 72, 550 km, "
               "53 deg) x %zu stations, 24 h, mask 10 deg; median of %d\n",
               n, NST, reps);
        printf("| measure | value |\n|---|---|\n");
        printf("| station windows found | %zu (%.1f per satellite-station"
               " pair) |\n", nwin, (double)nwin / ((double)n * NST));
        printf("| light-time samples | %zu (%.1f per window) |\n", nlt,
               (double)nlt / (double)(nwin ? nwin : 1));
        printf("| windows, 1 thread | %.2f s |\n", median(t1, reps));
        printf("| windows, %d threads | %.2f s |\n", nth, median(tn, reps));
        printf("| eclipses (%zu), 1 thread | %.2f s |\n", necl, tecl);
        printf("| SGP4 calls/s, C, 1 thread | %.3g (%.0f ns/call) |\n",
               calls / tprop, meas_ns);
        printf("| scalar mul+add peak, 1 core | %.3g FLOP/s |\n", peak);
        printf("| libm ns/call: sin, pow, fmod, sqrt, atan2 | %.1f, %.1f, "
               "%.1f, %.1f, %.1f |\n", s_ns, p_ns, f_ns, q_ns, a_ns);
        printf("| SGP4 call, model: %.0f FLOPs at peak + libm | %.0f + %.0f"
               " = %.0f ns (measured %.0f ns, %.2fx) |\n", arith,
               arith / peak * 1e9, libm, arith / peak * 1e9 + libm,
               meas_ns, meas_ns / (arith / peak * 1e9 + libm));
        printf("| SGP4 call, FLOP count (libm call = 20 FLOPs) | ~%.0f "
               "FLOPs: %.0f ns at peak (measured %.1fx that) |\n", flop_eq,
               flop_eq / peak * 1e9, meas_ns / (flop_eq / peak * 1e9));
        printf("SGP4_NS_PER_CALL %.1f\n", meas_ns);
    }
    free(sats);
    free(work);
    return 0;
}
