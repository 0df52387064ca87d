/*
 * sgp4.c - SGP4/SDP4 as published in AIAA 2006-6753 ("Revisiting
 * Spacetrack Report #3"), improved mode, WGS-72.
 *
 * The structure follows the paper's routines: initl (un-Kozai the mean
 * motion, epoch quantities), the near-earth part of sgp4init, the deep-
 * space set-up dscom (lunar-solar geometry), dsinit (secular rates and
 * resonance coefficients), and at each call sgp4 with dspace (secular
 * deep-space effects and the resonance integrator) and dpper (lunar-solar
 * periodics). The reference's long argument lists are grouped here into
 * structs (orb_sgp4_lsper, orb_sgp4_res, the per-body terms of dscom).
 *
 * Floating-point expressions keep the reference's order of operations,
 * and fmod is used where it uses fmod: the verification set includes
 * orbits (deep resonant, near-parabolic, decaying) where a reordered sum
 * moves the answer by more than the 2e-7 km the test allows. For the
 * same reason the code is not "simplified" where the reference computes
 * something twice or oddly. Comments name the reference's sgp4fix notes
 * where they explain a choice.
 *
 * The reference stores a few per-call values in the satellite record
 * (aycof, xlcof, con41, x1mth2, x7thm1 are recomputed from the perturbed
 * inclination in deep space); here they are locals, so a call writes
 * only the error code and the resonance integrator state.
 */
#include "sgp4.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "frames.h"
#include "lgerr.h"

/* ---------------------------------------------------------- constants */

#define PI 3.14159265358979323846
#define TWOPI (2.0 * PI)
#define DEG2RAD (PI / 180.0)
#define X2O3 (2.0 / 3.0)
#define XPDOTP (1440.0 / (2.0 * PI)) /* rev/day per rad/min */
#define JD_SGP4_EPOCH 2433281.5      /* 1949 Dec 31 00:00 UT */
#define DEEP_PERIOD_MIN 225.0        /* orbits this slow use SDP4 */
#define TEMP4 1.5e-12                /* divide-by-zero guard, 180 deg incl */

/* WGS-72, the constants element sets are fitted with (getgravconst). */
#define MU 398600.8                  /* km^3/s^2 */
#define RE 6378.135                  /* equatorial radius, km */
#define J2 0.001082616
#define J3 -0.00000253881
#define J4 -0.00000165597
#define J3OJ2 (J3 / J2)

/* Lunar-solar constants (dscom, dpper, dsinit). */
#define ZNS 1.19459e-5               /* solar mean motion, rad/min */
#define ZES 0.01675                  /* solar eccentricity */
#define ZNL 1.5835218e-4             /* lunar mean motion, rad/min */
#define ZEL 0.05490                  /* lunar eccentricity */
#define RPTIM 4.37526908801129966e-3 /* Earth rotation, rad/min */

/* sqrt(mu) in Earth radii^1.5 per minute. A function, not a constant, so
 * that it is computed exactly as the reference computes it. */
static double xke(void)
{
    return 60.0 / sqrt(RE * RE * RE / MU);
}

/* ------------------------------------------------------------- dpper */

/* Lunar-solar long-period periodics, applied to the elements at time t
 * (minutes). The reference's init call (init = 'y') changes nothing, so
 * only the propagation case is here. */
static void dpper(const orb_sgp4_lsper *ls, double t, double *ep,
                  double *inclp, double *nodep, double *argpp, double *mp)
{
    double zm, zf, sinzf, f2, f3;
    double ses, sis, sls, sghs, shs, sel, sil, sll, sghl, shll;
    double pe, pinc, pl, pgh, ph, sinip, cosip;

    /* Sun. */
    zm = ls->zmos + ZNS * t;
    zf = zm + 2.0 * ZES * sin(zm);
    sinzf = sin(zf);
    f2 = 0.5 * sinzf * sinzf - 0.25;
    f3 = -0.5 * sinzf * cos(zf);
    ses = ls->se2 * f2 + ls->se3 * f3;
    sis = ls->si2 * f2 + ls->si3 * f3;
    sls = ls->sl2 * f2 + ls->sl3 * f3 + ls->sl4 * sinzf;
    sghs = ls->sgh2 * f2 + ls->sgh3 * f3 + ls->sgh4 * sinzf;
    shs = ls->sh2 * f2 + ls->sh3 * f3;
    /* Moon. */
    zm = ls->zmol + ZNL * t;
    zf = zm + 2.0 * ZEL * sin(zm);
    sinzf = sin(zf);
    f2 = 0.5 * sinzf * sinzf - 0.25;
    f3 = -0.5 * sinzf * cos(zf);
    sel = ls->ee2 * f2 + ls->e3 * f3;
    sil = ls->xi2 * f2 + ls->xi3 * f3;
    sll = ls->xl2 * f2 + ls->xl3 * f3 + ls->xl4 * sinzf;
    sghl = ls->xgh2 * f2 + ls->xgh3 * f3 + ls->xgh4 * sinzf;
    shll = ls->xh2 * f2 + ls->xh3 * f3;

    pe = ses + sel;
    pinc = sis + sil;
    pl = sls + sll;
    pgh = sghs + sghl;
    ph = shs + shll;
    pe = pe - ls->peo;
    pinc = pinc - ls->pinco;
    pl = pl - ls->plo;
    pgh = pgh - ls->pgho;
    ph = ph - ls->pho;
    *inclp = *inclp + pinc;
    *ep = *ep + pe;
    sinip = sin(*inclp);
    cosip = cos(*inclp);

    /* sgp4fix Lyddane choice: decide on the perturbed inclination (the
     * GSFC way). Above 0.2 rad (11.46 deg) apply the periodics directly;
     * below, through the Lyddane modification, which stays regular as the
     * inclination goes to zero. */
    if (*inclp >= 0.2) {
        ph = ph / sinip;
        pgh = pgh - cosip * ph;
        *argpp = *argpp + pgh;
        *nodep = *nodep + ph;
        *mp = *mp + pl;
    } else {
        double sinop = sin(*nodep), cosop = cos(*nodep);
        double alfdp = sinip * sinop, betdp = sinip * cosop;
        double dalf = ph * cosop + pinc * cosip * sinop;
        double dbet = -ph * sinop + pinc * cosip * cosop;
        double xls, xnoh;

        alfdp = alfdp + dalf;
        betdp = betdp + dbet;
        *nodep = fmod(*nodep, TWOPI);
        xls = *mp + *argpp + pl + pgh + (cosip - pinc * sinip) * *nodep;
        xnoh = *nodep;
        *nodep = atan2(alfdp, betdp);
        /* Keep the node on the same branch as before the update. */
        if (fabs(xnoh - *nodep) > PI) {
            if (*nodep < xnoh)
                *nodep = *nodep + TWOPI;
            else
                *nodep = *nodep - TWOPI;
        }
        *mp = *mp + pl;
        *argpp = xls - *mp - cosip * *nodep;
    }
}

/* ------------------------------------------------------------- dscom */

/* The satellite's orbit geometry at epoch, as dscom and dsinit use it. */
struct ds_geom {
    double snodm, cnodm, sinim, cosim, sinomm, cosomm;
    double em, emsq, betasq, rtemsq, nm;
    double day;                  /* days since 1900 Jan 0.5 */
};

/* One perturbing body's terms (the reference's s*, z* for the moon and
 * ss*, sz* for the sun). */
struct ds_body {
    double s1, s2, s3, s4, s5, s6, s7;
    double z1, z2, z3, z11, z12, z13, z21, z22, z23, z31, z32, z33;
};

/* Direction of a body's orbit relative to the satellite's, and its
 * coupling constant. */
struct ds_dir {
    double zcosg, zsing, zcosi, zsini, zcosh, zsinh, cc;
};

/* The loop body of dscom, once for the sun and once for the moon. */
static void ds_body_terms(const struct ds_geom *g, const struct ds_dir *d,
                          struct ds_body *b)
{
    double a1, a2, a3, a4, a5, a6, a7, a8, a9, a10;
    double x1, x2, x3, x4, x5, x6, x7, x8;
    double emsq = g->emsq, xnoi = 1.0 / g->nm;

    a1 = d->zcosg * d->zcosh + d->zsing * d->zcosi * d->zsinh;
    a3 = -d->zsing * d->zcosh + d->zcosg * d->zcosi * d->zsinh;
    a7 = -d->zcosg * d->zsinh + d->zsing * d->zcosi * d->zcosh;
    a8 = d->zsing * d->zsini;
    a9 = d->zsing * d->zsinh + d->zcosg * d->zcosi * d->zcosh;
    a10 = d->zcosg * d->zsini;
    a2 = g->cosim * a7 + g->sinim * a8;
    a4 = g->cosim * a9 + g->sinim * a10;
    a5 = -g->sinim * a7 + g->cosim * a8;
    a6 = -g->sinim * a9 + g->cosim * a10;

    x1 = a1 * g->cosomm + a2 * g->sinomm;
    x2 = a3 * g->cosomm + a4 * g->sinomm;
    x3 = -a1 * g->sinomm + a2 * g->cosomm;
    x4 = -a3 * g->sinomm + a4 * g->cosomm;
    x5 = a5 * g->sinomm;
    x6 = a6 * g->sinomm;
    x7 = a5 * g->cosomm;
    x8 = a6 * g->cosomm;

    b->z31 = 12.0 * x1 * x1 - 3.0 * x3 * x3;
    b->z32 = 24.0 * x1 * x2 - 6.0 * x3 * x4;
    b->z33 = 12.0 * x2 * x2 - 3.0 * x4 * x4;
    b->z1 = 3.0 * (a1 * a1 + a2 * a2) + b->z31 * emsq;
    b->z2 = 6.0 * (a1 * a3 + a2 * a4) + b->z32 * emsq;
    b->z3 = 3.0 * (a3 * a3 + a4 * a4) + b->z33 * emsq;
    b->z11 = -6.0 * a1 * a5 + emsq * (-24.0 * x1 * x7 - 6.0 * x3 * x5);
    b->z12 = -6.0 * (a1 * a6 + a3 * a5) +
             emsq * (-24.0 * (x2 * x7 + x1 * x8) -
                     6.0 * (x3 * x6 + x4 * x5));
    b->z13 = -6.0 * a3 * a6 + emsq * (-24.0 * x2 * x8 - 6.0 * x4 * x6);
    b->z21 = 6.0 * a2 * a5 + emsq * (24.0 * x1 * x5 - 6.0 * x3 * x7);
    b->z22 = 6.0 * (a4 * a5 + a2 * a6) +
             emsq * (24.0 * (x2 * x5 + x1 * x6) -
                     6.0 * (x4 * x7 + x3 * x8));
    b->z23 = 6.0 * a4 * a6 + emsq * (24.0 * x2 * x6 - 6.0 * x4 * x8);
    b->z1 = b->z1 + b->z1 + g->betasq * b->z31;
    b->z2 = b->z2 + b->z2 + g->betasq * b->z32;
    b->z3 = b->z3 + b->z3 + g->betasq * b->z33;

    b->s3 = d->cc * xnoi;
    b->s2 = -0.5 * b->s3 / g->rtemsq;
    b->s4 = b->s3 * g->rtemsq;
    b->s1 = -15.0 * g->em * b->s4;
    b->s5 = x1 * x3 + x2 * x4;
    b->s6 = x2 * x3 + x1 * x4;
    b->s7 = x2 * x4 - x1 * x3;
}

/* Deep-space common terms at epoch: the satellite geometry, the sun's
 * and moon's terms, and the periodic coefficients dpper applies. The
 * reference's tc argument is always 0 in sgp4init, so it is left out. */
static void dscom(const orb_sat *s, struct ds_geom *g, struct ds_body *sun,
                  struct ds_body *moon, orb_sgp4_lsper *ls)
{
    const double c1ss = 2.9864797e-6, c1l = 4.7968065e-7;
    const double zsinis = 0.39785416, zcosis = 0.91744867;
    const double zcosgs = 0.1945905, zsings = -0.98088458;
    double xnodce, stem, ctem, zcosil, zsinil, zsinhl, zcoshl, gam, zx, zy;
    struct ds_dir d;
    double emsq;

    g->nm = s->no_unkozai;
    g->em = s->ecco;
    g->snodm = sin(s->nodeo);
    g->cnodm = cos(s->nodeo);
    g->sinomm = sin(s->argpo);
    g->cosomm = cos(s->argpo);
    g->sinim = sin(s->inclo);
    g->cosim = cos(s->inclo);
    g->emsq = g->em * g->em;
    g->betasq = 1.0 - g->emsq;
    g->rtemsq = sqrt(g->betasq);

    /* The moon's orbit at epoch: node, inclination and longitude. */
    g->day = s->epoch + 18261.5;
    xnodce = fmod(4.5236020 - 9.2422029e-4 * g->day, TWOPI);
    stem = sin(xnodce);
    ctem = cos(xnodce);
    zcosil = 0.91375164 - 0.03568096 * ctem;
    zsinil = sqrt(1.0 - zcosil * zcosil);
    zsinhl = 0.089683511 * stem / zsinil;
    zcoshl = sqrt(1.0 - zsinhl * zsinhl);
    gam = 5.8351514 + 0.0019443680 * g->day;
    zx = 0.39785416 * stem / zsinil;
    zy = zcoshl * ctem + 0.91744867 * zsinhl * stem;
    zx = atan2(zx, zy);
    zx = gam + zx - xnodce;

    d = (struct ds_dir){zcosgs, zsings, zcosis, zsinis, g->cnodm, g->snodm,
                        c1ss};
    ds_body_terms(g, &d, sun);
    d = (struct ds_dir){cos(zx), sin(zx), zcosil, zsinil,
                        zcoshl * g->cnodm + zsinhl * g->snodm,
                        g->snodm * zcoshl - g->cnodm * zsinhl, c1l};
    ds_body_terms(g, &d, moon);

    ls->zmol = fmod(4.7199672 + 0.22997150 * g->day - gam, TWOPI);
    ls->zmos = fmod(6.2565837 + 0.017201977 * g->day, TWOPI);

    emsq = g->emsq;
    /* Solar periodic coefficients. */
    ls->se2 = 2.0 * sun->s1 * sun->s6;
    ls->se3 = 2.0 * sun->s1 * sun->s7;
    ls->si2 = 2.0 * sun->s2 * sun->z12;
    ls->si3 = 2.0 * sun->s2 * (sun->z13 - sun->z11);
    ls->sl2 = -2.0 * sun->s3 * sun->z2;
    ls->sl3 = -2.0 * sun->s3 * (sun->z3 - sun->z1);
    ls->sl4 = -2.0 * sun->s3 * (-21.0 - 9.0 * emsq) * ZES;
    ls->sgh2 = 2.0 * sun->s4 * sun->z32;
    ls->sgh3 = 2.0 * sun->s4 * (sun->z33 - sun->z31);
    ls->sgh4 = -18.0 * sun->s4 * ZES;
    ls->sh2 = -2.0 * sun->s2 * sun->z22;
    ls->sh3 = -2.0 * sun->s2 * (sun->z23 - sun->z21);
    /* Lunar periodic coefficients. */
    ls->ee2 = 2.0 * moon->s1 * moon->s6;
    ls->e3 = 2.0 * moon->s1 * moon->s7;
    ls->xi2 = 2.0 * moon->s2 * moon->z12;
    ls->xi3 = 2.0 * moon->s2 * (moon->z13 - moon->z11);
    ls->xl2 = -2.0 * moon->s3 * moon->z2;
    ls->xl3 = -2.0 * moon->s3 * (moon->z3 - moon->z1);
    ls->xl4 = -2.0 * moon->s3 * (-21.0 - 9.0 * emsq) * ZEL;
    ls->xgh2 = 2.0 * moon->s4 * moon->z32;
    ls->xgh3 = 2.0 * moon->s4 * (moon->z33 - moon->z31);
    ls->xgh4 = -18.0 * moon->s4 * ZEL;
    ls->xh2 = -2.0 * moon->s2 * moon->z22;
    ls->xh3 = -2.0 * moon->s2 * (moon->z23 - moon->z21);
    /* Since the 2006 revision the periodics are not removed at epoch. */
    ls->peo = ls->pinco = ls->plo = ls->pgho = ls->pho = 0.0;
}

/* ------------------------------------------------------------ dsinit */

/* Half-day (12 h, eccentric) resonance coefficients, irez == 2. */
static void dsinit_halfday(orb_sat *s, const struct ds_geom *g,
                           double eccsq, double aonv, double theta)
{
    const double root22 = 1.7891679e-6, root32 = 3.7393792e-7;
    const double root44 = 7.3636953e-9, root52 = 1.1428639e-7;
    const double root54 = 2.1765803e-9;
    orb_sgp4_res *r = &s->res;
    double em = s->ecco, emsq = eccsq, eoc = em * emsq;
    double cosim = g->cosim, sinim = g->sinim, cosisq = cosim * cosim;
    double g201, g211, g310, g322, g410, g422, g520, g521, g532, g533;
    double sini2, f220, f221, f321, f322, f441, f442, f522, f523, f542, f543;
    double xno2, ainv2, temp1, temp;

    /* Fits in eccentricity of the Hansen coefficients (STR#3). */
    g201 = -0.306 - (em - 0.64) * 0.440;
    if (em <= 0.65) {
        g211 = 3.616 - 13.2470 * em + 16.2900 * emsq;
        g310 = -19.302 + 117.3900 * em - 228.4190 * emsq + 156.5910 * eoc;
        g322 = -18.9068 + 109.7927 * em - 214.6334 * emsq + 146.5816 * eoc;
        g410 = -41.122 + 242.6940 * em - 471.0940 * emsq + 313.9530 * eoc;
        g422 = -146.407 + 841.8800 * em - 1629.014 * emsq + 1083.4350 * eoc;
        g520 = -532.114 + 3017.977 * em - 5740.032 * emsq + 3708.2760 * eoc;
    } else {
        g211 = -72.099 + 331.819 * em - 508.738 * emsq + 266.724 * eoc;
        g310 = -346.844 + 1582.851 * em - 2415.925 * emsq + 1246.113 * eoc;
        g322 = -342.585 + 1554.908 * em - 2366.899 * emsq + 1215.972 * eoc;
        g410 = -1052.797 + 4758.686 * em - 7193.992 * emsq + 3651.957 * eoc;
        g422 = -3581.690 + 16178.110 * em - 24462.770 * emsq +
               12422.520 * eoc;
        if (em > 0.715)
            g520 = -5149.66 + 29936.92 * em - 54087.36 * emsq +
                   31324.56 * eoc;
        else
            g520 = 1464.74 - 4664.75 * em + 3763.64 * emsq;
    }
    if (em < 0.7) {
        g533 = -919.22770 + 4988.6100 * em - 9064.7700 * emsq +
               5542.21 * eoc;
        g521 = -822.71072 + 4568.6173 * em - 8491.4146 * emsq +
               5337.524 * eoc;
        g532 = -853.66600 + 4690.2500 * em - 8624.7700 * emsq +
               5341.4 * eoc;
    } else {
        g533 = -37995.780 + 161616.52 * em - 229838.20 * emsq +
               109377.94 * eoc;
        g521 = -51752.104 + 218913.95 * em - 309468.16 * emsq +
               146349.42 * eoc;
        g532 = -40023.880 + 170470.89 * em - 242699.48 * emsq +
               115605.82 * eoc;
    }

    /* Inclination functions. */
    sini2 = sinim * sinim;
    f220 = 0.75 * (1.0 + 2.0 * cosim + cosisq);
    f221 = 1.5 * sini2;
    f321 = 1.875 * sinim * (1.0 - 2.0 * cosim - 3.0 * cosisq);
    f322 = -1.875 * sinim * (1.0 + 2.0 * cosim - 3.0 * cosisq);
    f441 = 35.0 * sini2 * f220;
    f442 = 39.3750 * sini2 * sini2;
    f522 = 9.84375 * sinim *
           (sini2 * (1.0 - 2.0 * cosim - 5.0 * cosisq) +
            0.33333333 * (-2.0 + 4.0 * cosim + 6.0 * cosisq));
    f523 = sinim * (4.92187512 * sini2 * (-2.0 - 4.0 * cosim +
                                          10.0 * cosisq) +
                    6.56250012 * (1.0 + 2.0 * cosim - 3.0 * cosisq));
    f542 = 29.53125 * sinim *
           (2.0 - 8.0 * cosim + cosisq * (-12.0 + 8.0 * cosim +
                                          10.0 * cosisq));
    f543 = 29.53125 * sinim *
           (-2.0 - 8.0 * cosim + cosisq * (12.0 + 8.0 * cosim -
                                           10.0 * cosisq));

    xno2 = g->nm * g->nm;
    ainv2 = aonv * aonv;
    temp1 = 3.0 * xno2 * ainv2;
    temp = temp1 * root22;
    r->d2201 = temp * f220 * g201;
    r->d2211 = temp * f221 * g211;
    temp1 = temp1 * aonv;
    temp = temp1 * root32;
    r->d3210 = temp * f321 * g310;
    r->d3222 = temp * f322 * g322;
    temp1 = temp1 * aonv;
    temp = 2.0 * temp1 * root44;
    r->d4410 = temp * f441 * g410;
    r->d4422 = temp * f442 * g422;
    temp1 = temp1 * aonv;
    temp = temp1 * root52;
    r->d5220 = temp * f522 * g520;
    r->d5232 = temp * f523 * g532;
    temp = 2.0 * temp1 * root54;
    r->d5421 = temp * f542 * g521;
    r->d5433 = temp * f543 * g533;
    r->xlamo = fmod(s->mo + s->nodeo + s->nodeo - theta - theta, TWOPI);
    r->xfact = s->mdot + r->dmdt + 2.0 * (s->nodedot + r->dnodt - RPTIM) -
               s->no_unkozai;
}

/* One-day (geosynchronous) resonance coefficients, irez == 1. */
static void dsinit_oneday(orb_sat *s, const struct ds_geom *g,
                          double xpidot, double aonv, double theta)
{
    const double q22 = 1.7891679e-6, q31 = 2.1460748e-6;
    const double q33 = 2.2123015e-7;
    orb_sgp4_res *r = &s->res;
    double emsq = g->emsq, cosim = g->cosim, sinim = g->sinim;
    double g200, g310, g300, f220, f311, f330;

    g200 = 1.0 + emsq * (-2.5 + 0.8125 * emsq);
    g310 = 1.0 + 2.0 * emsq;
    g300 = 1.0 + emsq * (-6.0 + 6.60937 * emsq);
    f220 = 0.75 * (1.0 + cosim) * (1.0 + cosim);
    f311 = 0.9375 * sinim * sinim * (1.0 + 3.0 * cosim) -
           0.75 * (1.0 + cosim);
    f330 = 1.0 + cosim;
    f330 = 1.875 * f330 * f330 * f330;
    r->del1 = 3.0 * g->nm * g->nm * aonv * aonv;
    r->del2 = 2.0 * r->del1 * f220 * g200 * q22;
    r->del3 = 3.0 * r->del1 * f330 * g300 * q33 * aonv;
    r->del1 = r->del1 * f311 * g310 * q31 * aonv;
    r->xlamo = fmod(s->mo + s->nodeo + s->argpo - theta, TWOPI);
    r->xfact = s->mdot + xpidot - RPTIM + r->dmdt + r->domdt + r->dnodt -
               s->no_unkozai;
}

/* Deep-space secular rates from the sun and moon, and the resonance set-
 * up. At epoch t == 0, so the reference's element updates by rate * t are
 * no-ops and left out. */
static void dsinit(orb_sat *s, const struct ds_geom *g,
                   const struct ds_body *sun, const struct ds_body *moon,
                   double eccsq, double xpidot)
{
    orb_sgp4_res *r = &s->res;
    double nm = g->nm, em = g->em, emsq = g->emsq;
    double cosim = g->cosim, sinim = g->sinim, inclm = s->inclo;
    double ses, sis, sls, sghs, shs, sgs, sghl, shll, theta;

    r->irez = 0;
    if (0.0034906585 < nm && nm < 0.0052359877)
        r->irez = 1;
    if (8.26e-3 <= nm && nm <= 9.24e-3 && em >= 0.5)
        r->irez = 2;

    /* Solar terms. */
    ses = sun->s1 * ZNS * sun->s5;
    sis = sun->s2 * ZNS * (sun->z11 + sun->z13);
    sls = -ZNS * sun->s3 * (sun->z1 + sun->z3 - 14.0 - 6.0 * emsq);
    sghs = sun->s4 * ZNS * (sun->z31 + sun->z33 - 6.0);
    shs = -ZNS * sun->s2 * (sun->z21 + sun->z23);
    /* sgp4fix for 180 deg incl: no node rate within 3 deg of the poles
     * of the equator (sin i -> 0). */
    if (inclm < 5.2359877e-2 || inclm > PI - 5.2359877e-2)
        shs = 0.0;
    if (sinim != 0.0)
        shs = shs / sinim;
    sgs = sghs - cosim * shs;

    /* Lunar terms. */
    r->dedt = ses + moon->s1 * ZNL * moon->s5;
    r->didt = sis + moon->s2 * ZNL * (moon->z11 + moon->z13);
    r->dmdt = sls - ZNL * moon->s3 * (moon->z1 + moon->z3 - 14.0 -
                                      6.0 * emsq);
    sghl = moon->s4 * ZNL * (moon->z31 + moon->z33 - 6.0);
    shll = -ZNL * moon->s2 * (moon->z21 + moon->z23);
    if (inclm < 5.2359877e-2 || inclm > PI - 5.2359877e-2)
        shll = 0.0;
    r->domdt = sgs + sghl;
    r->dnodt = shs;
    if (sinim != 0.0) {
        r->domdt = r->domdt - cosim / sinim * shll;
        r->dnodt = r->dnodt + shll / sinim;
    }

    theta = fmod(s->gsto, TWOPI);
    if (r->irez != 0) {
        double aonv = pow(nm / xke(), X2O3);
        if (r->irez == 2)
            dsinit_halfday(s, g, eccsq, aonv, theta);
        else
            dsinit_oneday(s, g, xpidot, aonv, theta);
        /* Start the integrator at epoch. */
        r->xli = r->xlamo;
        r->xni = s->no_unkozai;
        r->atime = 0.0;
    }
}

/* ------------------------------------------------------------ dspace */

/* Mean elements being propagated through one call. */
struct mean_el {
    double em, argpm, inclm, mm, nodem, nm;
};

/* Resonance rates at the integrator's current step: d(mean motion)/dt,
 * d(phase)/dt and the second derivative, as dspace computes them. */
static void res_rates(const orb_sat *s, double *xndt, double *xldot,
                      double *xnddt)
{
    const double fasx2 = 0.13130908, fasx4 = 2.8843198;
    const double fasx6 = 0.37448087;
    const double g22 = 5.7686396, g32 = 0.95240898, g44 = 1.8014998;
    const double g52 = 1.0508330, g54 = 4.4108898;
    const orb_sgp4_res *r = &s->res;
    double xli = r->xli;

    if (r->irez != 2) {
        *xndt = r->del1 * sin(xli - fasx2) +
                r->del2 * sin(2.0 * (xli - fasx4)) +
                r->del3 * sin(3.0 * (xli - fasx6));
        *xldot = r->xni + r->xfact;
        *xnddt = r->del1 * cos(xli - fasx2) +
                 2.0 * r->del2 * cos(2.0 * (xli - fasx4)) +
                 3.0 * r->del3 * cos(3.0 * (xli - fasx6));
        *xnddt = *xnddt * *xldot;
    } else {
        double xomi = s->argpo + s->argpdot * r->atime;
        double x2omi = xomi + xomi, x2li = xli + xli;

        *xndt = (r->d2201 * sin(x2omi + xli - g22) +
                 r->d2211 * sin(xli - g22) +
                 r->d3210 * sin(xomi + xli - g32) +
                 r->d3222 * sin(-xomi + xli - g32) +
                 r->d4410 * sin(x2omi + x2li - g44) +
                 r->d4422 * sin(x2li - g44) +
                 r->d5220 * sin(xomi + xli - g52) +
                 r->d5232 * sin(-xomi + xli - g52) +
                 r->d5421 * sin(xomi + x2li - g54) +
                 r->d5433 * sin(-xomi + x2li - g54));
        *xldot = r->xni + r->xfact;
        *xnddt = (r->d2201 * cos(x2omi + xli - g22) +
                  r->d2211 * cos(xli - g22) +
                  r->d3210 * cos(xomi + xli - g32) +
                  r->d3222 * cos(-xomi + xli - g32) +
                  r->d5220 * cos(xomi + xli - g52) +
                  r->d5232 * cos(-xomi + xli - g52) +
                  2.0 * (r->d4410 * cos(x2omi + x2li - g44) +
                         r->d4422 * cos(x2li - g44) +
                         r->d5421 * cos(xomi + x2li - g54) +
                         r->d5433 * cos(-xomi + x2li - g54)));
        *xnddt = *xnddt * *xldot;
    }
}

/* Deep-space secular effects at time t, and the resonance terms by the
 * reference's fixed-step (720 min) Euler-Maclaurin integration. The
 * integrator resumes from its last step when t lies further out on the
 * same side of the epoch, and restarts at the epoch otherwise; both give
 * the same steps, so the answer does not depend on earlier calls. */
static void dspace(orb_sat *s, double t, struct mean_el *m)
{
    const double stepp = 720.0, stepn = -720.0, step2 = 259200.0;
    orb_sgp4_res *r = &s->res;
    double theta, ft = 0.0, delt, xndt = 0, xldot = 0, xnddt = 0, xl;
    int more;

    theta = fmod(s->gsto + t * RPTIM, TWOPI);
    m->em = m->em + r->dedt * t;
    m->inclm = m->inclm + r->didt * t;
    m->argpm = m->argpm + r->domdt * t;
    m->nodem = m->nodem + r->dnodt * t;
    m->mm = m->mm + r->dmdt * t;
    /* sgp4fix: negative inclinations are left alone here (dpper's caller
     * folds them). */
    if (r->irez == 0)
        return;

    /* sgp4fix streamline check: restart unless t extends the last run. */
    if (r->atime == 0.0 || t * r->atime <= 0.0 ||
        fabs(t) < fabs(r->atime)) {
        r->atime = 0.0;
        r->xni = s->no_unkozai;
        r->xli = r->xlamo;
    }
    delt = t > 0.0 ? stepp : stepn;
    do {
        res_rates(s, &xndt, &xldot, &xnddt);
        more = fabs(t - r->atime) >= stepp;
        if (more) {
            r->xli = r->xli + xldot * delt + xndt * step2;
            r->xni = r->xni + xndt * delt + xnddt * step2;
            r->atime = r->atime + delt;
        } else {
            ft = t - r->atime;
        }
    } while (more);

    m->nm = r->xni + xndt * ft + xnddt * ft * ft * 0.5;
    xl = r->xli + xldot * ft + xndt * ft * ft * 0.5;
    if (r->irez != 1)
        m->mm = xl - 2.0 * m->nodem + 2.0 * theta;
    else
        m->mm = xl - m->nodem - m->argpm + theta;
    /* The reference goes through dndt = nm - no; nm = no + dndt. */
    m->nm = s->no_unkozai + (m->nm - s->no_unkozai);
}

/* ---------------------------------------------------- initl, sgp4init */

/* Epoch quantities shared by the rest of the initialization. */
struct epoch_q {
    double ao, con42, cosio, cosio2, eccsq, omeosq, posq, rp, rteosq, sinio;
};

/* initl: recover the Brouwer ("un-Kozai") mean motion from the TLE's
 * Kozai one, and the epoch quantities that follow from it. */
static void initl(orb_sat *s, struct epoch_q *q)
{
    double ak, d1, del, adel, po;

    q->eccsq = s->ecco * s->ecco;
    q->omeosq = 1.0 - q->eccsq;
    q->rteosq = sqrt(q->omeosq);
    q->cosio = cos(s->inclo);
    q->cosio2 = q->cosio * q->cosio;

    ak = pow(xke() / s->no_kozai, X2O3);
    d1 = 0.75 * J2 * (3.0 * q->cosio2 - 1.0) / (q->rteosq * q->omeosq);
    del = d1 / (ak * ak);
    adel = ak * (1.0 - del * del -
                 del * (1.0 / 3.0 + 134.0 * del * del / 81.0));
    del = d1 / (adel * adel);
    s->no_unkozai = s->no_kozai / (1.0 + del);

    q->ao = pow(xke() / s->no_unkozai, X2O3);
    q->sinio = sin(s->inclo);
    po = q->ao * q->omeosq;
    q->con42 = 1.0 - 5.0 * q->cosio2;
    s->con41 = -q->con42 - q->cosio2 - q->cosio2;
    q->posq = po * po;
    q->rp = q->ao * (1.0 - s->ecco);
    /* Improved mode: sidereal time from the IAU-82 series. */
    s->gsto = orb_frames_gmst(s->epoch + JD_SGP4_EPOCH, 0.0);
}

/* Near-earth drag and secular coefficients. Sets *tsi and *sfour, which
 * the non-simplified drag terms need again. */
static void init_near(orb_sat *s, const struct epoch_q *q, double *tsi_out,
                      double *sfour_out, double *xpidot)
{
    double ss = 78.0 / RE + 1.0, qzms2ttemp = (120.0 - 78.0) / RE;
    double qzms2t = qzms2ttemp * qzms2ttemp * qzms2ttemp * qzms2ttemp;
    double sfour = ss, qzms24 = qzms2t, perige, pinvsq, tsi, etasq, eeta;
    double psisq, coef, coef1, cc2, cc3 = 0.0, cosio4, temp1, temp2, temp3;
    double xhdot1, delmotemp, ao = q->ao;

    s->isimp = q->rp < 220.0 / RE + 1.0;
    perige = (q->rp - 1.0) * RE;
    /* For perigees below 156 km the density parameters s and qoms2t are
     * altered (STR#3). */
    if (perige < 156.0) {
        double qzms24temp;
        sfour = perige - 78.0;
        if (perige < 98.0)
            sfour = 20.0;
        qzms24temp = (120.0 - sfour) / RE;
        qzms24 = qzms24temp * qzms24temp * qzms24temp * qzms24temp;
        sfour = sfour / RE + 1.0;
    }
    pinvsq = 1.0 / q->posq;
    tsi = 1.0 / (ao - sfour);
    s->eta = ao * s->ecco * tsi;
    etasq = s->eta * s->eta;
    eeta = s->ecco * s->eta;
    psisq = fabs(1.0 - etasq);
    coef = qzms24 * pow(tsi, 4.0);
    coef1 = coef / pow(psisq, 3.5);
    cc2 = coef1 * s->no_unkozai *
          (ao * (1.0 + 1.5 * etasq + eeta * (4.0 + etasq)) +
           0.375 * J2 * tsi / psisq * s->con41 *
               (8.0 + 3.0 * etasq * (8.0 + etasq)));
    s->cc1 = s->bstar * cc2;
    if (s->ecco > 1.0e-4)
        cc3 = -2.0 * coef * tsi * J3OJ2 * s->no_unkozai * q->sinio / s->ecco;
    s->x1mth2 = 1.0 - q->cosio2;
    s->cc4 = 2.0 * s->no_unkozai * coef1 * ao * q->omeosq *
             (s->eta * (2.0 + 0.5 * etasq) + s->ecco * (0.5 + 2.0 * etasq) -
              J2 * tsi / (ao * psisq) *
                  (-3.0 * s->con41 * (1.0 - 2.0 * eeta + etasq *
                                                  (1.5 - 0.5 * eeta)) +
                   0.75 * s->x1mth2 * (2.0 * etasq - eeta * (1.0 + etasq)) *
                       cos(2.0 * s->argpo)));
    s->cc5 = 2.0 * coef1 * ao * q->omeosq *
             (1.0 + 2.75 * (etasq + eeta) + eeta * etasq);

    /* Secular rates from J2 and J4. */
    cosio4 = q->cosio2 * q->cosio2;
    temp1 = 1.5 * J2 * pinvsq * s->no_unkozai;
    temp2 = 0.5 * temp1 * J2 * pinvsq;
    temp3 = -0.46875 * J4 * pinvsq * pinvsq * s->no_unkozai;
    s->mdot = s->no_unkozai + 0.5 * temp1 * q->rteosq * s->con41 +
              0.0625 * temp2 * q->rteosq *
                  (13.0 - 78.0 * q->cosio2 + 137.0 * cosio4);
    s->argpdot = (-0.5 * temp1 * q->con42 +
                  0.0625 * temp2 * (7.0 - 114.0 * q->cosio2 +
                                    395.0 * cosio4) +
                  temp3 * (3.0 - 36.0 * q->cosio2 + 49.0 * cosio4));
    xhdot1 = -temp1 * q->cosio;
    s->nodedot = xhdot1 + (0.5 * temp2 * (4.0 - 19.0 * q->cosio2) +
                           2.0 * temp3 * (3.0 - 7.0 * q->cosio2)) *
                              q->cosio;
    *xpidot = s->argpdot + s->nodedot;
    s->omgcof = s->bstar * cc3 * cos(s->argpo);
    s->xmcof = 0.0;
    if (s->ecco > 1.0e-4)
        s->xmcof = -X2O3 * coef * s->bstar / eeta;
    s->nodecf = 3.5 * q->omeosq * xhdot1 * s->cc1;
    s->t2cof = 1.5 * s->cc1;
    /* sgp4fix for divide by zero with inclination = 180 deg */
    if (fabs(q->cosio + 1.0) > 1.5e-12)
        s->xlcof = -0.25 * J3OJ2 * q->sinio * (3.0 + 5.0 * q->cosio) /
                   (1.0 + q->cosio);
    else
        s->xlcof = -0.25 * J3OJ2 * q->sinio * (3.0 + 5.0 * q->cosio) / TEMP4;
    s->aycof = -0.5 * J3OJ2 * q->sinio;
    delmotemp = 1.0 + s->eta * cos(s->mo);
    s->delmo = delmotemp * delmotemp * delmotemp;
    s->sinmao = sin(s->mo);
    s->x7thm1 = 7.0 * q->cosio2 - 1.0;
    *tsi_out = tsi;
    *sfour_out = sfour;
}

/* The higher-order drag terms of the full (non-simplified) model. */
static void init_drag(orb_sat *s, double ao, double tsi, double sfour)
{
    double cc1sq = s->cc1 * s->cc1, temp;

    s->d2 = 4.0 * ao * tsi * cc1sq;
    temp = s->d2 * tsi * s->cc1 / 3.0;
    s->d3 = (17.0 * ao + sfour) * temp;
    s->d4 = 0.5 * temp * ao * tsi * (221.0 * ao + 31.0 * sfour) * s->cc1;
    s->t3cof = s->d2 + 2.0 * cc1sq;
    s->t4cof = 0.25 * (3.0 * s->d3 + s->cc1 * (12.0 * s->d2 + 10.0 * cc1sq));
    s->t5cof = 0.2 * (3.0 * s->d4 + 12.0 * s->cc1 * s->d3 +
                      6.0 * s->d2 * s->d2 +
                      15.0 * cc1sq * (2.0 * s->d2 + cc1sq));
}

int orb_sgp4_init(orb_sat *s, const orb_tle *t, char *err, size_t errlen)
{
    struct epoch_q q;
    double tsi, sfour, xpidot, r[3], v[3];
    int code;

    if (!s || !t)
        return lg_errf(err, errlen, -EINVAL, "sgp4 init: missing %s",
                       !s ? "satellite" : "elements");
    memset(s, 0, sizeof *s);
    if (!(t->ecc >= 0.0 && t->ecc < 1.0) || !(t->n_revday > 0.0))
        return lg_errf(err, errlen, -EINVAL, "satellite %d: eccentricity "
                       "%g must be in [0, 1) and mean motion %g rev/day "
                       "> 0", t->satnum, t->ecc, t->n_revday);

    /* TLE units to SGP4's: radians and radians per minute. */
    s->satnum = t->satnum;
    s->bstar = t->bstar;
    s->ecco = t->ecc;
    s->inclo = t->incl_deg * DEG2RAD;
    s->nodeo = t->raan_deg * DEG2RAD;
    s->argpo = t->argp_deg * DEG2RAD;
    s->mo = t->mo_deg * DEG2RAD;
    s->no_kozai = t->n_revday / XPDOTP;
    s->jdepoch = t->epoch_jd;
    s->jdepochF = t->epoch_jdfrac;
    s->epoch_unix = t->epoch_unix;
    /* Summed before the offset is taken, as the reference's twoline2rv
     * does, so that the epoch-dependent terms (sidereal angle, sun and
     * moon) see the very same number. */
    s->epoch = (t->epoch_jd + t->epoch_jdfrac) - JD_SGP4_EPOCH;

    initl(s, &q);
    s->a = pow(s->no_unkozai * (1.0 / xke()), -2.0 / 3.0);
    s->alta = s->a * (1.0 + s->ecco) - 1.0;
    s->altp = s->a * (1.0 - s->ecco) - 1.0;
    /* sgp4fix: no sub-orbital check at epoch (code 5); the decay test in
     * the propagation catches satellites once they are below the
     * surface. */
    init_near(s, &q, &tsi, &sfour, &xpidot);
    if (2 * PI / s->no_unkozai >= DEEP_PERIOD_MIN) {
        struct ds_geom g;
        struct ds_body sun, moon;

        s->deep = 1;
        s->isimp = 1;
        dscom(s, &g, &sun, &moon, &s->ls);
        dsinit(s, &g, &sun, &moon, q.eccsq, xpidot);
    }
    if (!s->isimp)
        init_drag(s, q.ao, tsi, sfour);

    code = orb_sgp4_prop(s, 0.0, r, v);
    if (code != 0 && code != ORB_SGP4_EDECAYED)
        return lg_errf(err, errlen, LG_EMODEL, "satellite %d: at epoch: %s "
                       "(sgp4 error %d)", s->satnum, orb_sgp4_strerror(code),
                       code);
    return 0;
}

/* --------------------------------------------------------------- sgp4 */

/* Secular gravity and drag: the mean elements at t, and the drag factors
 * for the semi-major axis (*tempa), eccentricity (*tempe) and mean
 * longitude (*templ). */
static void secular(const orb_sat *s, double t, struct mean_el *m,
                    double *tempa, double *tempe, double *templ)
{
    double xmdf = s->mo + s->mdot * t;
    double argpdf = s->argpo + s->argpdot * t;
    double nodedf = s->nodeo + s->nodedot * t;
    double t2 = t * t;

    m->argpm = argpdf;
    m->mm = xmdf;
    m->nodem = nodedf + s->nodecf * t2;
    *tempa = 1.0 - s->cc1 * t;
    *tempe = s->bstar * s->cc4 * t;
    *templ = s->t2cof * t2;
    if (s->isimp != 1) {
        double delomg = s->omgcof * t;
        double delmtemp = 1.0 + s->eta * cos(xmdf);
        double delm = s->xmcof * (delmtemp * delmtemp * delmtemp - s->delmo);
        double temp = delomg + delm, t3, t4;

        m->mm = xmdf + temp;
        m->argpm = argpdf - temp;
        t3 = t2 * t;
        t4 = t3 * t;
        *tempa = *tempa - s->d2 * t2 - s->d3 * t3 - s->d4 * t4;
        *tempe = *tempe + s->bstar * s->cc5 * (sin(m->mm) - s->sinmao);
        *templ = *templ + s->t3cof * t3 + t4 * (s->t4cof + t * s->t5cof);
    }
    m->nm = s->no_unkozai;
    m->em = s->ecco;
    m->inclm = s->inclo;
}

/* Osculating elements after the periodics, in the reference's names. */
struct osc {
    double am, nm;               /* semi-major axis, mean motion */
    double ep, xincp, nodep, argpp, mp;
    double sinip, cosip;
    double aycof, xlcof;         /* long-period coefficients at xincp */
    double con41, x1mth2, x7thm1;
};

/* Kepler's equation in the reference's variables, then the short-period
 * periodics, orientation, and r (km), v (km/s). Returns 0 or code 4. */
static int short_period(const struct osc *o, double r[3], double v[3],
                        double *mrt_out)
{
    double axnl, aynl, xl, u, eo1, tem5, sineo1 = 0, coseo1 = 0, temp;
    double ecose, esine, el2, pl, rl, rdotl, rvdotl, betal, sinu, cosu, su;
    double sin2u, cos2u, temp1, temp2, mrt, xnode, xinc, mvt, rvdot;
    double sinsu, cossu, snod, cnod, sini, cosi, xmx, xmy, ux, uy, uz;
    double vx, vy, vz, vkmpersec = RE * xke() / 60.0;
    int ktr;

    axnl = o->ep * cos(o->argpp);
    temp = 1.0 / (o->am * (1.0 - o->ep * o->ep));
    aynl = o->ep * sin(o->argpp) + temp * o->aycof;
    xl = o->mp + o->argpp + o->nodep + temp * o->xlcof * axnl;

    /* sgp4fix: Newton steps clamped to 0.95 rad, at most 10 of them. */
    u = fmod(xl - o->nodep, TWOPI);
    eo1 = u;
    tem5 = 9999.9;
    for (ktr = 1; fabs(tem5) >= 1.0e-12 && ktr <= 10; ktr++) {
        sineo1 = sin(eo1);
        coseo1 = cos(eo1);
        tem5 = 1.0 - coseo1 * axnl - sineo1 * aynl;
        tem5 = (u - aynl * coseo1 + axnl * sineo1 - eo1) / tem5;
        if (fabs(tem5) >= 0.95)
            tem5 = tem5 > 0.0 ? 0.95 : -0.95;
        eo1 = eo1 + tem5;
    }

    ecose = axnl * coseo1 + aynl * sineo1;
    esine = axnl * sineo1 - aynl * coseo1;
    el2 = axnl * axnl + aynl * aynl;
    pl = o->am * (1.0 - el2);
    if (pl < 0.0)
        return ORB_SGP4_ESEMILAT;

    rl = o->am * (1.0 - ecose);
    rdotl = sqrt(o->am) * esine / rl;
    rvdotl = sqrt(pl) / rl;
    betal = sqrt(1.0 - el2);
    temp = esine / (1.0 + betal);
    sinu = o->am / rl * (sineo1 - aynl - axnl * temp);
    cosu = o->am / rl * (coseo1 - axnl + aynl * temp);
    su = atan2(sinu, cosu);
    sin2u = (cosu + cosu) * sinu;
    cos2u = 1.0 - 2.0 * sinu * sinu;
    temp = 1.0 / pl;
    temp1 = 0.5 * J2 * temp;
    temp2 = temp1 * temp;

    mrt = rl * (1.0 - 1.5 * temp2 * betal * o->con41) +
          0.5 * temp1 * o->x1mth2 * cos2u;
    su = su - 0.25 * temp2 * o->x7thm1 * sin2u;
    xnode = o->nodep + 1.5 * temp2 * o->cosip * sin2u;
    xinc = o->xincp + 1.5 * temp2 * o->cosip * o->sinip * cos2u;
    mvt = rdotl - o->nm * temp1 * o->x1mth2 * sin2u / xke();
    rvdot = rvdotl + o->nm * temp1 * (o->x1mth2 * cos2u + 1.5 * o->con41) /
                         xke();

    sinsu = sin(su);
    cossu = cos(su);
    snod = sin(xnode);
    cnod = cos(xnode);
    sini = sin(xinc);
    cosi = cos(xinc);
    xmx = -snod * cosi;
    xmy = cnod * cosi;
    ux = xmx * sinsu + cnod * cossu;
    uy = xmy * sinsu + snod * cossu;
    uz = sini * sinsu;
    vx = xmx * cossu - cnod * sinsu;
    vy = xmy * cossu - snod * sinsu;
    vz = sini * cossu;

    r[0] = (mrt * RE) * ux;
    r[1] = (mrt * RE) * uy;
    r[2] = (mrt * RE) * uz;
    v[0] = (mvt * ux + rvdot * vx) * vkmpersec;
    v[1] = (mvt * uy + rvdot * vy) * vkmpersec;
    v[2] = (mvt * uz + rvdot * vz) * vkmpersec;
    *mrt_out = mrt;
    return 0;
}

/* Lunar-solar periodics and the long-period coefficients that depend on
 * the (perturbed) inclination. Returns 0 or code 3. */
static int periodics(const orb_sat *s, double t, const struct mean_el *m,
                     struct osc *o)
{
    o->ep = m->em;
    o->xincp = m->inclm;
    o->argpp = m->argpm;
    o->nodep = m->nodem;
    o->mp = m->mm;
    o->sinip = sin(m->inclm);
    o->cosip = cos(m->inclm);
    o->aycof = s->aycof;
    o->xlcof = s->xlcof;
    o->con41 = s->con41;
    o->x1mth2 = s->x1mth2;
    o->x7thm1 = s->x7thm1;
    if (!s->deep)
        return 0;

    dpper(&s->ls, t, &o->ep, &o->xincp, &o->nodep, &o->argpp, &o->mp);
    if (o->xincp < 0.0) {
        o->xincp = -o->xincp;
        o->nodep = o->nodep + PI;
        o->argpp = o->argpp - PI;
    }
    if (o->ep < 0.0 || o->ep > 1.0)
        return ORB_SGP4_EPERTECC;

    o->sinip = sin(o->xincp);
    o->cosip = cos(o->xincp);
    o->aycof = -0.5 * J3OJ2 * o->sinip;
    /* sgp4fix for divide by zero for xincp = 180 deg */
    if (fabs(o->cosip + 1.0) > 1.5e-12)
        o->xlcof = -0.25 * J3OJ2 * o->sinip * (3.0 + 5.0 * o->cosip) /
                   (1.0 + o->cosip);
    else
        o->xlcof = -0.25 * J3OJ2 * o->sinip * (3.0 + 5.0 * o->cosip) /
                   TEMP4;
    {
        double cosisq = o->cosip * o->cosip;
        o->con41 = 3.0 * cosisq - 1.0;
        o->x1mth2 = 1.0 - cosisq;
        o->x7thm1 = 7.0 * cosisq - 1.0;
    }
    return 0;
}

static void set_nan(double r[3], double v[3])
{
    for (int i = 0; i < 3; i++)
        r[i] = v[i] = NAN;
}

/* Record and return a propagation error. */
static int prop_fail(orb_sat *s, int code, double r[3], double v[3])
{
    s->error = code;
    set_nan(r, v);
    return code;
}

int orb_sgp4_prop(orb_sat *s, double t, double r[3], double v[3])
{
    struct mean_el m;
    struct osc o;
    double tempa, tempe, templ, am, xlm, mrt = 0.0;
    int code;

    s->error = 0;
    if (!(fabs(t) <= ORB_SGP4_MAX_TSINCE_MIN)) {    /* also catches NaN */
        set_nan(r, v);
        return -ERANGE;
    }
    secular(s, t, &m, &tempa, &tempe, &templ);
    if (s->deep)
        dspace(s, t, &m);
    if (m.nm <= 0.0)
        return prop_fail(s, ORB_SGP4_EMEANMOT, r, v);

    am = pow(xke() / m.nm, X2O3) * tempa * tempa;
    m.nm = xke() / pow(am, 1.5);
    m.em = m.em - tempe;
    /* sgp4fix: tolerance for error recognition; the a < 0.95 test of the
     * paper is not made (am is fixed by the mean motion check). */
    if (m.em >= 1.0 || m.em < -0.001)
        return prop_fail(s, ORB_SGP4_EMEANECC, r, v);
    /* sgp4fix: avoid a divide by zero for circular orbits. */
    if (m.em < 1.0e-6)
        m.em = 1.0e-6;
    m.mm = m.mm + s->no_unkozai * templ;
    xlm = m.mm + m.argpm + m.nodem;
    m.nodem = fmod(m.nodem, TWOPI);
    m.argpm = fmod(m.argpm, TWOPI);
    xlm = fmod(xlm, TWOPI);
    m.mm = fmod(xlm - m.argpm - m.nodem, TWOPI);

    if ((code = periodics(s, t, &m, &o)))
        return prop_fail(s, code, r, v);
    o.am = am;
    o.nm = m.nm;
    if ((code = short_period(&o, r, v, &mrt)))
        return prop_fail(s, code, r, v);
    /* sgp4fix for decaying satellites: below the surface. The state is
     * still returned, as the reference does. */
    if (mrt < 1.0) {
        s->error = ORB_SGP4_EDECAYED;
        return ORB_SGP4_EDECAYED;
    }
    return 0;
}

int orb_sgp4_prop_jd(orb_sat *s, double jd, double jdfrac, double r[3],
                     double v[3])
{
    double tsince = (jd - s->jdepoch) * 1440.0 +
                    (jdfrac - s->jdepochF) * 1440.0;
    return orb_sgp4_prop(s, tsince, r, v);
}

int orb_sgp4_prop_unix(orb_sat *s, double unix_s, double r[3], double v[3])
{
    return orb_sgp4_prop(s, (unix_s - s->epoch_unix) / 60.0, r, v);
}

const char *orb_sgp4_strerror(int code)
{
    switch (code) {
    case 0:
        return "ok";
    case ORB_SGP4_EMEANECC:
        return "mean eccentricity is not within [-0.001, 1)";
    case ORB_SGP4_EMEANMOT:
        return "mean motion is not above zero";
    case ORB_SGP4_EPERTECC:
        return "perturbed eccentricity is not within [0, 1]";
    case ORB_SGP4_ESEMILAT:
        return "semi-latus rectum is below zero";
    case ORB_SGP4_ESUBORB:
        return "epoch elements are sub-orbital";
    case ORB_SGP4_EDECAYED:
        return "satellite has decayed (below the Earth's surface)";
    default:
        return "unknown sgp4 error";
    }
}
