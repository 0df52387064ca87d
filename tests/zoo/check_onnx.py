#!/usr/bin/python3
# tests/zoo/check_onnx.py: validates ONNX files with the reference checker.
#
# Owns: the "is this a valid ONNX model" oracle for files lagrange writes
# (e.g. the partitions of `lagrange split`).  Each FILE is checked by path
# with onnx.checker.check_model, so external-data files next to it are
# found; --full also runs strict shape inference (full_check=True).
# Prints "OK FILE (N nodes, opset V)" or "FAIL FILE: reason" per file.
# exit 0 all valid, 1 some invalid, 2 usage (no files).
#
# usage: check_onnx.py [--full] FILE.onnx ...

import argparse
import sys

import onnx


def main():
    ap = argparse.ArgumentParser(description="check ONNX files with onnx.checker")
    ap.add_argument("files", nargs="+", metavar="FILE")
    ap.add_argument("--full", action="store_true",
                    help="also run strict shape inference")
    a = ap.parse_args()
    bad = 0
    for f in a.files:
        try:
            onnx.checker.check_model(f, full_check=a.full)
            m = onnx.load(f, load_external_data=False)
            ops = ",".join("%s:%d" % (o.domain or "ai.onnx", o.version)
                           for o in m.opset_import)
            print("OK %s (%d nodes, %d inputs, %d outputs, opset %s)" % (
                f, len(m.graph.node), len(m.graph.input),
                len(m.graph.output), ops))
        except Exception as e:  # noqa: BLE001 - report any failure per file
            bad += 1
            msg = str(e).strip().replace("\n", " ")
            print("FAIL %s: %s" % (f, msg[:500]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
