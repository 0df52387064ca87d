/*
 * power.h - the energy budget of a node on solar arrays and a battery.
 *
 * Owns battery integration. The battery holds E(t) Wh, starting at
 * soc0 * capacity at t = 0, and obeys dE/dt = (solar(t) - load(t)) / 3600
 * (W -> Wh/s), clamped at the capacity from above (excess array power is
 * shed). solar(t) is array_w in sunlight and 0 inside an eclipse
 * interval; load(t) is busy_w while computing and idle_w otherwise. A
 * schedule is feasible if E(t) >= min_soc * capacity at every instant up
 * to the end of the topology's horizon. Between events (eclipse edges,
 * busy edges, reaching full) E is linear, so everything here is exact
 * piecewise-linear arithmetic, not time stepping.
 *
 * Grid-powered nodes (solar == 0) are always feasible. Pure functions;
 * thread-safe.
 */
#ifndef LG_PLAN_POWER_H
#define LG_PLAN_POWER_H

#include "topology.h"

/* Array input at t, W: 0 in eclipse, array_w otherwise. */
double plan_power_solar(const plan_power *p, double t);

/* 1 if t lies inside an eclipse interval. */
int plan_power_in_eclipse(const plan_power *p, double t);

/* Battery energy (Wh) at time t, given the node's busy intervals (sorted
 * by start, disjoint). */
double plan_power_energy(const plan_power *p, const plan_interval *busy,
                         int n_busy, double t);

/* 0 if E(t) >= min_soc * capacity for all t in [0, until]; otherwise
 * LG_EMODEL with *viol (if not NULL) set to the first instant it would go
 * below. */
int plan_power_check(const plan_power *p, const plan_interval *busy,
                     int n_busy, double until, double *viol);

/* Earliest s >= ready such that busy + [s, s + dur) passes
 * plan_power_check through `until`. The caller guarantees [s, s+dur)
 * never overlaps busy intervals by passing ready >= the node's last busy
 * end. Returns INFINITY if no start before `until` - dur works (the job
 * cannot fit in the battery even from full, or the horizon ends). Exact
 * to 1 ms. */
double plan_power_earliest(const plan_power *p, const plan_interval *busy,
                           int n_busy, double ready, double dur,
                           double until);

/* The longest busy run that is feasible whenever it starts, given no
 * other busy time: lets the planner skip the search for short runs.
 * INFINITY for grid nodes. */
double plan_power_free_run(const plan_power *p, double until);

#endif
