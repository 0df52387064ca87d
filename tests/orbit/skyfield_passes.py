#!/usr/bin/python3
"""Check `lagrange contacts --json` station passes against skyfield.

usage: skyfield_passes.py TLEFILE OURS.json [--lenient]

For every satellite of TLEFILE and every station in OURS.json (its
"stations" list: lat, lon, height and mask), skyfield's
EarthSatellite.find_events gives rise, culmination and set over the span
in OURS.json. skyfield uses its built-in timescale only
(load.timescale(builtin=True)): nothing is downloaded, and passes need no
ephemeris.

find_events finds each rise and set to about a second at best: its
discrete search stops refining all events once the *first* interval is
below half a second (skyfield/searchlib.py, _find_discrete), so later
events of a search can be off by several seconds. So each of its events is
also refined here by bisection to 0.1 ms on skyfield's own altitude
(altaz()), which is the oracle the deviations are measured against; the
raw find_events times are compared too, where find_events converged
(within 0.5 s of its own refined value).

Checks, with the measured deviations printed:
  - the same passes (one-to-one by overlap; passes cut by the span's ends
    compared at their inner edge only);
  - rise and set within 1 s of skyfield's refined times (typically ~1 ms:
    both use SGP4 with WGS-72 and GMST-82 with UT1; pass --dut1 as skyfield
    has it) and within 1 s of the converged raw find_events times;
  - maximum elevation within 0.01 deg of skyfield's altitude at its own
    culmination, and not below it by more than that.
Exit status 0 if all hold, 1 otherwise.
"""
import json
import sys

import numpy as np
from skyfield.api import EarthSatellite, load, wgs84

TOL_S = 1.0
TOL_EL = 0.01


def read_tles(path):
    lines = [l.rstrip('\r\n') for l in open(path)]
    out, name, i = [], '', 0
    while i < len(lines):
        l = lines[i]
        if not l.strip() or l.startswith('#'):
            i += 1
            continue
        if l.startswith('1 ') and i + 1 < len(lines) and lines[i + 1].startswith('2 '):
            out.append((name, l[:69], lines[i + 1][:69]))
            name, i = '', i + 2
            continue
        name = l[2:].strip() if l.startswith('0 ') else l.strip()
        i += 1
    return out


def iso_to_tt(ts, s):
    # "2024-03-02T07:40:31.211Z"
    d, t = s.rstrip('Z').split('T')
    y, mo, da = (int(x) for x in d.split('-'))
    h, mi, se = t.split(':')
    return ts.utc(y, mo, da, int(h), int(mi), float(se))


def main():
    ts = load.timescale(builtin=True)
    ours = json.load(open(sys.argv[2]))
    span0 = iso_to_tt(ts, ours['span']['start'])
    span1 = iso_to_tt(ts, ours['span']['end'])
    stations = {s['name']: s for s in ours['stations']}
    sats = {}
    for name, l1, l2 in read_tles(sys.argv[1]):
        sat = EarthSatellite(l1, l2, name, ts)
        label = name if name else 'catalog %d' % sat.model.satnum
        sats[label] = sat
    windows = [w for w in ours['windows'] if w['kind'] == 'station']
    fails = 0
    dev_ref, dev_raw, dev_el = [], [], []
    unconverged = 0
    npass = 0

    def altitude(sat, topo, jd_tt):
        return (sat - topo).at(ts.tt_jd(jd_tt)).altaz()[0].degrees

    def refine(sat, topo, mask, jd):
        """Bisect skyfield's altitude - mask to 0.1 ms around jd."""
        lo, hi = jd - 30 / 86400.0, jd + 30 / 86400.0
        g = np.linspace(lo, hi, 61)
        a = altitude(sat, topo, g) - mask
        k = np.nonzero(np.sign(a[:-1]) != np.sign(a[1:]))[0]
        if len(k) == 0:
            return None
        # the sign change nearest jd
        kk = k[np.argmin(np.abs(g[k] - jd))]
        lo, hi = g[kk], g[kk + 1]
        slo = np.sign(a[kk])
        while (hi - lo) * 86400.0 > 1e-4:
            mid = 0.5 * (lo + hi)
            if np.sign(altitude(sat, topo, mid) - mask) == slo:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    for label, sat in sats.items():
        for sname, st in stations.items():
            topo = wgs84.latlon(st['lat_deg'], st['lon_deg'],
                                elevation_m=st['alt_m'])
            mask = st['mask_deg']
            t, ev = sat.find_events(topo, span0, span1,
                                    altitude_degrees=mask)
            # passes from skyfield's events: (rise, culm list, set); None
            # where the span cuts them
            sky = []
            cur = None
            for ti, ei in zip(t, ev):
                if ei == 0:
                    cur = [ti.tt, [], None]
                elif ei == 1:
                    if cur is None:
                        cur = [None, [], None]
                    cur[1].append(ti.tt)
                else:
                    if cur is None:
                        cur = [None, [], None]
                    cur[2] = ti.tt
                    sky.append(cur)
                    cur = None
            if cur is not None:
                sky.append(cur)
            mine = [w for w in windows if w['from'] == label and w['to'] == sname]
            if len(mine) != len(sky):
                print('FAIL %s over %s: %d passes here, %d in skyfield'
                      % (label, sname, len(mine), len(sky)))
                fails += 1
                continue
            for w, p in zip(mine, sky):
                npass += 1
                for edge, key, clip in ((0, 'start', 'start_clipped'),
                                        (2, 'end', 'end_clipped')):
                    if w[clip] or p[edge] is None:
                        if not (w[clip] and p[edge] is None):
                            print('FAIL %s over %s: clipped %s differs'
                                  % (label, sname, key))
                            fails += 1
                        continue
                    our = iso_to_tt(ts, w[key]).tt
                    ref = refine(sat, topo, mask, p[edge])
                    if ref is None:
                        print('FAIL %s over %s: cannot refine skyfield %s'
                              % (label, sname, key))
                        fails += 1
                        continue
                    d_ref = (our - ref) * 86400.0
                    d_raw = (our - p[edge]) * 86400.0
                    dev_ref.append(abs(d_ref))
                    if abs(ref - p[edge]) * 86400.0 <= 0.5:
                        dev_raw.append(abs(d_raw))
                        if abs(d_raw) > TOL_S:
                            print('FAIL %s over %s %s: %+.3f s from '
                                  'find_events' % (label, sname, key, d_raw))
                            fails += 1
                    else:
                        unconverged += 1
                    if abs(d_ref) > TOL_S:
                        print('FAIL %s over %s %s %s: %+.4f s from skyfield'
                              % (label, sname, key, w[key], d_ref))
                        fails += 1
                if p[1] and not (w['start_clipped'] or w['end_clipped']):
                    sky_el = max(altitude(sat, topo, c) for c in p[1])
                    d = w['max_elevation_deg'] - sky_el
                    dev_el.append(abs(d))
                    if abs(d) > TOL_EL:
                        print('FAIL %s over %s: max elevation %.4f, '
                              'skyfield %.4f' % (label, sname,
                                                 w['max_elevation_deg'],
                                                 sky_el))
                        fails += 1

    def stat(v, unit, scale=1.0):
        if not v:
            return 'none'
        v = np.array(v) * scale
        return 'median %.4g, max %.4g %s (n=%d)' % (np.median(v), v.max(),
                                                     unit, len(v))
    print('skyfield passes: %d passes, %d satellites x %d stations'
          % (npass, len(sats), len(stations)))
    print('  rise/set vs skyfield refined to 0.1 ms: %s' % stat(dev_ref, 'ms', 1e3))
    print('  rise/set vs raw find_events (converged): %s; %d events where '
          'find_events had not converged' % (stat(dev_raw, 's'), unconverged))
    print('  max elevation vs skyfield culmination: %s' % stat(dev_el, 'deg'))
    return 1 if fails or npass == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
