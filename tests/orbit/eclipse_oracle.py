#!/usr/bin/python3
"""Check `lagrange contacts --json` eclipses against an independent model.

usage: eclipse_oracle.py TLEFILE OURS.json

Nothing here shares code or formulas with lib/orbit/eclipse.c or sun.c:
  - positions: python3-sgp4 (Vallado's own Python port), TEME;
  - the Sun: Meeus, "Astronomical Algorithms", chapter 25 (the "lower
    accuracy" method: geometric mean longitude and anomaly, equation of
    centre, apparent longitude with nutation and aberration, ~0.01 deg),
    not the Almanac's series that sun.c uses;
  - the shadow: Vallado's conical geometry ("Fundamentals of
    Astrodynamics", algorithm SHADOW): the penumbra and umbra cones of the
    Earth in the Sun's light, with half-angles asin((Rs +- Re) / d),
    tested by the satellite's distance along and across the shadow axis
    (lib/orbit uses apparent disc radii and overlap instead);
  - events: "in shadow" and "in umbra" each sampled every 10 s and each
    change bisected to 1 ms.
Both sides use a spherical Earth of 6378.137 km and a Sun of 696000 km.

Checks, with the measured deviations printed: the same shadow passages,
one to one; shadow start/end and umbra start/end each within 10 s.
Exit status 0 if all hold, 1 otherwise.
"""
import json
import math
import sys

from sgp4.api import Satrec

RE = 6378.137
RS = 696000.0
AU = 149597870.7
TOL_S = 10.0
STEP_S = 10.0


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


def unix_of(iso):
    import calendar
    d, t = iso.rstrip('Z').split('T')
    y, mo, da = (int(x) for x in d.split('-'))
    h, mi, se = t.split(':')
    return calendar.timegm((y, mo, da, int(h), int(mi), 0)) + float(se)


def sun_meeus(jd):
    """Apparent geocentric Sun, equator and equinox of date, km."""
    T = (jd - 2451545.0) / 36525.0
    L0 = 280.46646 + 36000.76983 * T + 0.0003032 * T * T
    M = math.radians(357.52911 + 35999.05029 * T - 0.0001537 * T * T)
    e = 0.016708634 - 0.000042037 * T - 0.0000001267 * T * T
    C = ((1.914602 - 0.004817 * T - 0.000014 * T * T) * math.sin(M)
         + (0.019993 - 0.000101 * T) * math.sin(2 * M)
         + 0.000289 * math.sin(3 * M))
    true_lon = L0 + C
    nu = M + math.radians(C)
    R = 1.000001018 * (1 - e * e) / (1 + e * math.cos(nu))
    om = math.radians(125.04 - 1934.136 * T)
    lam = math.radians(true_lon - 0.00569 - 0.00478 * math.sin(om))
    eps = math.radians(23.0 + 26.0 / 60 + 21.448 / 3600
                       - (46.8150 * T) / 3600 + 0.00256 * math.cos(om))
    r = R * AU
    return (r * math.cos(lam), r * math.cos(eps) * math.sin(lam),
            r * math.sin(eps) * math.sin(lam))


def shadow(r, s):
    """0 lit, 1 penumbra, 2 umbra: Vallado's SHADOW."""
    d = math.sqrt(s[0] ** 2 + s[1] ** 2 + s[2] ** 2)
    rr = math.sqrt(r[0] ** 2 + r[1] ** 2 + r[2] ** 2)
    dot = r[0] * s[0] + r[1] * s[1] + r[2] * s[2]
    if dot >= 0:
        return 0                        # on the day side of the terminator
    ang = math.acos(max(-1.0, min(1.0, -dot / (rr * d))))
    horiz = rr * math.cos(ang)          # along the shadow axis
    vert = rr * math.sin(ang)           # across it
    a_pen = math.asin((RS + RE) / d)
    a_umb = math.asin((RS - RE) / d)
    x = RE / math.sin(a_pen)            # penumbra cone apex, sunward
    pen_vert = math.tan(a_pen) * (x + horiz)
    if vert > pen_vert:
        return 0
    y = RE / math.sin(a_umb)            # umbra cone apex, behind the Earth
    umb_vert = math.tan(a_umb) * (y - horiz)
    return 2 if vert <= umb_vert else 1


def state(sat, t):
    jd = 2440587.5 + math.floor(t / 86400.0)
    fr = (t - math.floor(t / 86400.0) * 86400.0) / 86400.0
    e, r, _ = sat.sgp4(jd, fr)
    if e:
        return None
    return shadow(r, sun_meeus(jd + fr))


def crossings(sat, t0, t1, level):
    """Times in [t0, t1] where (state >= level) changes, bisected to 1 ms;
    and the value at t0. Samples every STEP_S; a shadow shorter than that
    could slip between samples, which the LEO cases here never have."""
    def inside(t):
        s = state(sat, t)
        return None if s is None else s >= level
    out = []
    t, s = t0, inside(t0)
    first = s
    while t < t1 and s is not None:
        tn = min(t + STEP_S, t1)
        sn = inside(tn)
        if sn is None:
            break
        if sn != s:
            lo, hi = t, tn
            while hi - lo > 1e-3:
                mid = 0.5 * (lo + hi)
                if inside(mid) == s:
                    lo = mid
                else:
                    hi = mid
            out.append(0.5 * (lo + hi))
        t, s = tn, sn
    return first, out


def intervals(first, ts, t0, t1):
    """[(start, end, clip_start, clip_end)] where the predicate holds."""
    res, cur = [], (t0 if first else None)
    for t in ts:
        if cur is None:
            cur = t
        else:
            res.append((cur, t, cur == t0 and first, False))
            cur = None
    if cur is not None:
        res.append((cur, t1, cur == t0 and first, True))
    return res


def passages(sat, t0, t1):
    """Shadow passages: dicts with start, end, umbra_start, umbra_end."""
    sh = intervals(*crossings(sat, t0, t1, 1), t0, t1)
    um = intervals(*crossings(sat, t0, t1, 2), t0, t1)
    res = []
    for a, b, ca, cb in sh:
        p = {'start': a, 'end': b, 'clip_start': ca, 'clip_end': cb,
             'umbra_start': None, 'umbra_end': None}
        for ua, ub, _, _ in um:
            if a <= 0.5 * (ua + ub) <= b:
                p['umbra_start'], p['umbra_end'] = ua, ub
        res.append(p)
    return res


def main():
    ours = json.load(open(sys.argv[2]))
    t0 = unix_of(ours['span']['start'])
    t1 = unix_of(ours['span']['end'])
    fails, devs, n = 0, [], 0
    for name, l1, l2 in read_tles(sys.argv[1]):
        sat = Satrec.twoline2rv(l1, l2)
        label = name if name else 'catalog %d' % sat.satnum
        ref = passages(sat, t0, t1)
        mine = [e for e in ours['eclipses'] if e['satellite'] == label]
        if len(mine) != len(ref):
            print('FAIL %s: %d eclipses here, %d in the oracle'
                  % (label, len(mine), len(ref)))
            fails += 1
            continue
        for m, r in zip(mine, ref):
            n += 1
            for key in ('start', 'end', 'umbra_start', 'umbra_end'):
                if (key == 'start' and r['clip_start']) or \
                   (key == 'end' and r['clip_end']):
                    continue
                if (m[key] is None) != (r[key] is None):
                    print('FAIL %s: %s %s here, %s in the oracle'
                          % (label, key, m[key], r[key]))
                    fails += 1
                    continue
                if m[key] is None:
                    continue
                d = unix_of(m[key]) - r[key]
                devs.append(abs(d))
                if abs(d) > TOL_S:
                    print('FAIL %s: %s %s is %+.3f s from the oracle'
                          % (label, key, m[key], d))
                    fails += 1
    devs.sort()
    if devs:
        print('eclipse oracle: %d passages; edge deviation median %.3f s, '
              'max %.3f s (n=%d)' % (n, devs[len(devs) // 2], devs[-1],
                                     len(devs)))
    return 1 if fails or n == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
