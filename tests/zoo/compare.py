#!/usr/bin/python3
# tests/zoo/compare.py: compares an output tensor with its reference.
#
# Owns: the zoo's pass/fail rule for one output.
#   default:  pass iff  max|A - B| <= tol * max|B|      (tol 1e-4)
#             i.e. the largest absolute error, relative to the largest
#             magnitude in the reference B (not elementwise relative error,
#             which blows up on near-zero reference entries).
#   --exact:  pass iff A and B have the same shape, dtype and bytes
#             (bitwise; used where DESIGN.md demands bit-for-bit results,
#             e.g. split partitions run in order vs. the whole model).
# Prints one line: LABEL max_abs_diff=... max_ref=... ratio=... tol=... PASS|FAIL
# exit 0 pass, 1 fail (mismatch), 2 usage or unreadable file.
#
# usage: compare.py A.npy B.npy [--tol 1e-4] [--exact] [--label TEXT]
# (A is the result under test, B the reference.)

import argparse
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser(
        description="compare A.npy (result) with B.npy (reference): "
        "pass iff max|A-B| <= tol * max|B|")
    ap.add_argument("a", help="result under test")
    ap.add_argument("b", help="reference")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--exact", action="store_true",
                    help="require bitwise equality (shape, dtype, bytes)")
    ap.add_argument("--label", help="what to print (default: A's path)")
    a = ap.parse_args()
    label = a.label or a.a

    try:
        A = np.load(a.a, allow_pickle=False)
        B = np.load(a.b, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - any read error is a usage error
        print("%s ERROR cannot read: %s" % (label, e))
        return 2

    if A.shape != B.shape:
        print("%s FAIL shape mismatch: got %s, reference %s"
              % (label, A.shape, B.shape))
        return 1
    if a.exact:
        if A.dtype != B.dtype:
            print("%s FAIL dtype mismatch: got %s, reference %s (--exact)"
                  % (label, A.dtype, B.dtype))
            return 1
        same = np.ascontiguousarray(A).tobytes() == \
            np.ascontiguousarray(B).tobytes()
        diff = 0.0
        ndiff = 0
        if A.size and A.dtype.kind in "fiub":
            d = np.abs(A.astype(np.float64) - B.astype(np.float64))
            diff = float(np.nanmax(d)) if np.any(~np.isnan(d)) else 0.0
            ndiff = int(np.count_nonzero(A != B))
        print("%s max_abs_diff=%.6g exact %s" % (
            label, diff, "PASS" if same else
            "FAIL (bytes differ, %d elements differ)" % ndiff))
        return 0 if same else 1

    kinds = "fiub"
    if A.dtype.kind not in kinds or B.dtype.kind not in kinds:
        print("%s FAIL dtype not numeric: got %s, reference %s"
              % (label, A.dtype, B.dtype))
        return 1
    note = ""
    if A.dtype != B.dtype:
        note = " (dtype %s vs reference %s)" % (A.dtype, B.dtype)
        if A.dtype.kind != B.dtype.kind:
            print("%s FAIL dtype mismatch: got %s, reference %s"
                  % (label, A.dtype, B.dtype))
            return 1
    A64 = A.astype(np.float64)
    B64 = B.astype(np.float64)
    if A.size == 0:
        print("%s max_abs_diff=0 max_ref=0 ratio=0 tol=%g PASS (empty)%s"
              % (label, a.tol, note))
        return 0
    if not np.all(np.isfinite(A64)):
        bad = int(np.count_nonzero(~np.isfinite(A64)))
        print("%s FAIL %d non-finite values in result%s" % (label, bad, note))
        return 1
    diff = float(np.abs(A64 - B64).max())
    ref = float(np.abs(B64).max())
    ratio = diff / ref if ref > 0 else (0.0 if diff == 0 else float("inf"))
    ok = diff <= a.tol * ref
    print("%s max_abs_diff=%.6g max_ref=%.6g ratio=%.3g tol=%g %s%s"
          % (label, diff, ref, ratio, a.tol, "PASS" if ok else "FAIL", note))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
