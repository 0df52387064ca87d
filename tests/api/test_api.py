#!/usr/bin/python3
"""test_api.py - lagranged's gRPC API against Google's own gRPC client.

The client is grpcio (Debian python3-grpcio) with stubs that
grpc_tools.protoc generates at run time from proto/: nothing here shares
code with the daemon's HTTP/2 and gRPC front end. Models are built with
onnx.helper, references are computed with numpy, and for the restart test
with `lagrange run` (the CLI's executor, an independent path from the
daemon's scheduler and stores).

Groups of cases (TEST_API_ONLY=name,name runs some; "models" first, the
others use its model):
  health_and_reflection  Check ("", each service, unknown -> NOT_FOUND),
      Watch of an unknown service; reflection: list_services, files by
      symbol / method / message / file name checked against protoc's own
      descriptor and loaded into a fresh DescriptorPool, NOT_FOUND (5)
      error_responses, malformed requests;
  models       PutModel in many chunks, idempotent re-upload, sha256 and
      size mismatches, malformed ONNX, bad names, empty streams, empty
      chunks; ListModels; DeleteModel (by prefix, NOT_FOUND after, in use);
      resolving by name, id, prefixes;
  jobs_basic   SubmitJob inline vs numpy, every Job field, WatchJob,
      GetJob, GetResult, idempotency, each kind of bad input naming the
      input, unknown model / blob / job ids, malformed requests;
  blobs_and_two  PutBlob, jobs on blobs (good, wrong dtype / shape, not
      .npy), two inputs out of order, a 4 MiB output in chunks (default,
      300000, 4 MiB, by name), 4 concurrent clients, an unsupported op;
  listings_and_plan  ListJobs filters and limits, ListNodes against the
      topology, ListLinks, PlanJob;
  queueing     JobWorkers=1 behind two ~3 s jobs (sized by a calibration
      run): PENDING / RUNNING reasons, FAILED_PRECONDITION results, a
      WatchJob deadline, a client cancel, CancelJob of PENDING and RUNNING
      jobs, a job deadline -> EXPIRED, priorities, a full WatchJob;
  bad_clients  unknown methods, garbage, HTTP/1.1 and a huge frame on the
      raw socket, 20 connections;
  tls_and_tokens  ApiListen with a CA-checked server certificate: health
      and reflection without a token, Scheduler with good / wrong /
      missing tokens, a whole job over TLS, a client of another CA,
      plaintext on the TLS port, ApiTokenFile reread on SIGHUP;
  limits_and_health_watch  ApiMaxMessage=64K in and out, health Watch
      and WatchJob across SIGTERM with a job running, restart;
  retention  (daemon r, JobRetention=5s) a finished job, its directory and
      an uploaded blob are removed by themselves; NOT_FOUND afterwards.
  durability   50 jobs, kill -9 mid-queue, restart: each job once,
      COMPLETED, equal to `lagrange run`; idempotency across the restart;
      kill -9 during a run.

Daemons (each in its own directory under --tmp, logs in DIR/log):
  a  ApiSocket + ApiListen (TLS, bearer tokens), JobWorkers=1: most cases;
  b  ApiMaxMessage=64K: message limits, then SIGTERM and a restart;
  c  JobWorkers=1, kill -9 mid-queue and restart: durability.

Prints TAP-like lines ("ok N - what", "not ok N - what: detail") and
"1..N" at the end; exits 0 only when every case passed, 77 when grpc,
numpy or onnx cannot be imported. Waits poll with generous bounds;
nothing asserts on how long something took.

Usage: test_api.py --lagranged PATH --lagrange PATH --srcdir DIR --tmp DIR
(--tmp must hold tls/ca.crt, tls/gs.crt and tls/gs.key, made by
`lagrange cert`; tests/test_api.sh does all that).
"""
import argparse
import hashlib
import importlib.util
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

try:
    import grpc
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from google.protobuf import descriptor_pb2, descriptor_pool
    from grpc_tools import protoc
except ImportError as e:  # pragma: no cover
    print("1..0 # SKIP cannot import %s (Debian python3-grpcio, "
          "python3-grpc-tools, python3-numpy, python3-onnx)" % e.name)
    sys.exit(77)

# ---- reporting ---------------------------------------------------------------

NTEST = 0
FAILED = []
DAEMONS = []


def ok(cond, what, detail=""):
    global NTEST
    NTEST += 1
    if cond:
        print("ok %d - %s" % (NTEST, what), flush=True)
    else:
        detail = str(detail).replace("\n", " | ")
        if len(detail) > 600:
            detail = detail[:600] + "..."
        print("not ok %d - %s: %s" % (NTEST, what, detail), flush=True)
        FAILED.append((NTEST, what, detail))
    return cond


def note(msg):
    print("# " + msg, flush=True)


def group(fn):
    """Run one group of cases; an exception is one failure, with the
    traceback and each daemon's log tail, and the next group still runs."""
    def run(*a, **kw):
        if ARGS.only and fn.__name__ not in ARGS.only.split(","):
            return
        note("---- " + fn.__name__)
        t0 = time.monotonic()
        try:
            fn(*a, **kw)
            note("%s: %.1f s" % (fn.__name__, time.monotonic() - t0))
        except Exception as e:  # noqa: BLE001
            tb = traceback.format_exc().strip().splitlines()
            ok(False, "%s: no exception" % fn.__name__,
               "%s: %s" % (type(e).__name__, e))
            for line in tb[-12:]:
                note("  " + line)
            for d in DAEMONS:
                d.print_tail(8)
    return run


def code_of(fn, *a, **kw):
    """(StatusCode, result, details) of calling fn; streaming results are
    drained into a list."""
    try:
        r = fn(*a, **kw)
        if hasattr(r, "__next__"):          # a response stream
            r = list(r)
        return grpc.StatusCode.OK, r, ""
    except grpc.RpcError as e:
        return e.code(), None, e.details() or ""


def expect_code(want, what, fn, *a, names=(), **kw):
    """A call must fail with status want; its message must name each of
    names."""
    code, r, det = code_of(fn, *a, **kw)
    good = code == want and all(n in det for n in names)
    ok(good, what, "got %s %r, want %s%s" % (
        code.name if code else code, det, want.name,
        (" naming %s" % ", ".join(repr(n) for n in names)) if names else ""))
    return code, det


def wait_until(cond, timeout, step=0.02):
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            return v
        time.sleep(step)


# ---- arguments, stubs ----------------------------------------------------------

ap = argparse.ArgumentParser()
ap.add_argument("--lagranged", required=True)
ap.add_argument("--lagrange", required=True)
ap.add_argument("--srcdir", required=True)
ap.add_argument("--tmp", required=True)
ap.add_argument("--only", default=os.environ.get("TEST_API_ONLY", ""),
                help="comma-separated groups to run (default: all)")
ARGS = ap.parse_args()
T = os.path.abspath(ARGS.tmp)
LD = os.path.abspath(ARGS.lagranged)
LCLI = os.path.abspath(ARGS.lagrange)
SRC = os.path.abspath(ARGS.srcdir)
PROTO = os.path.join(SRC, "proto")
TLS = os.path.join(T, "tls")


def gen_stubs():
    lag = os.path.join(T, "gen", "lag")
    svc = os.path.join(T, "gen", "svc")
    os.makedirs(lag, exist_ok=True)
    os.makedirs(svc, exist_ok=True)
    for out, files in ((lag, ["lagrange/v1/api.proto"]),
                       (svc, ["grpc/health/v1/health.proto",
                              "grpc/reflection/v1/reflection.proto"])):
        if protoc.main(["protoc", "-I" + PROTO, "--python_out=" + out,
                        "--grpc_python_out=" + out] + files) != 0:
            raise SystemExit("grpc_tools.protoc failed on %s" % files)
    sys.path.insert(0, lag)

    def load(name, path):
        # Under another name: a package called grpc would shadow grpcio.
        spec = importlib.util.spec_from_file_location(name, path)
        m = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(m)
        return m
    h = load("lg_health_pb2", os.path.join(svc, "grpc/health/v1/health_pb2.py"))
    r = load("lg_reflection_pb2",
             os.path.join(svc, "grpc/reflection/v1/reflection_pb2.py"))
    return h, r


HPB, RPB = gen_stubs()
from lagrange.v1 import api_pb2 as pb  # noqa: E402
from lagrange.v1 import api_pb2_grpc as pbg  # noqa: E402

SERVING = HPB.HealthCheckResponse.SERVING
NOT_SERVING = HPB.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = HPB.HealthCheckResponse.SERVICE_UNKNOWN
FINAL = (pb.COMPLETED, pb.FAILED, pb.CANCELLED, pb.EXPIRED)
SN = pb.JobState.Name
C = grpc.StatusCode
CHOPTS = [("grpc.max_receive_message_length", 128 << 20),
          ("grpc.max_send_message_length", 128 << 20),
          ("grpc.enable_retries", 0)]


class Svc:
    """Health and reflection calls on a channel, by explicit serializers."""

    def __init__(self, ch):
        self.check = ch.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=HPB.HealthCheckRequest.SerializeToString,
            response_deserializer=HPB.HealthCheckResponse.FromString)
        self.watch = ch.unary_stream(
            "/grpc.health.v1.Health/Watch",
            request_serializer=HPB.HealthCheckRequest.SerializeToString,
            response_deserializer=HPB.HealthCheckResponse.FromString)
        self.refl = ch.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=RPB.ServerReflectionRequest.SerializeToString,
            response_deserializer=RPB.ServerReflectionResponse.FromString)


# ---- daemons -------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def write_pids():
    # The shell wrapper kills whatever is listed here if we die.
    with open(os.path.join(T, "pids"), "w") as f:
        for d in DAEMONS:
            if d.proc and d.proc.poll() is None:
                f.write("%d\n" % d.proc.pid)


class Daemon:
    def __init__(self, name, extra=()):
        self.name = name
        self.dir = os.path.join(T, name)
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "api.sock")
        self.log = os.path.join(self.dir, "log")
        self.conf = os.path.join(self.dir, "lagranged.conf")
        self.proc = None
        d = self.dir
        lines = ["NodeId=gs", "Topology=" + os.path.join(T, "tiny.topo"),
                 "Tls=no", "Listen=127.0.0.1:%d" % free_port(),
                 "SpoolDir=%s/spool" % d, "InboxDir=%s/inbox" % d,
                 "ControlSocket=%s/ctl.sock" % d, "ApiSocket=" + self.sock,
                 "JobDir=%s/jobs" % d, "ModelDir=%s/models" % d,
                 "BlobDir=%s/blobs" % d, "JobWorkers=1",
                 "MetricsListen=none"] + list(extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        DAEMONS.append(self)

    def start(self, timeout=30):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([LD, "-d", "-f", self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf)
        logf.close()
        write_pids()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("lagranged %s exited %d at start: %s" % (
                    self.name, self.proc.returncode, self.tail(5)))
            if os.path.exists(self.sock):
                try:
                    with self.channel() as ch:
                        r = Svc(ch).check(HPB.HealthCheckRequest(), timeout=2)
                        if r.status == SERVING:
                            return
                except grpc.RpcError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("lagranged %s not serving after %d s: %s" % (
            self.name, timeout, self.tail(5)))

    def channel(self):
        return grpc.insecure_channel("unix:" + self.sock, options=CHOPTS)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        write_pids()

    def term(self, timeout=30):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "hung (killed)"
        write_pids()
        return rc

    def tail(self, n=10):
        try:
            with open(self.log, errors="replace") as f:
                return " | ".join(f.read().splitlines()[-n:])
        except OSError:
            return "(no log)"

    def print_tail(self, n=10):
        try:
            with open(self.log, errors="replace") as f:
                lines = f.read().splitlines()[-n:]
        except OSError:
            return
        note("lagranged %s log, last %d lines:" % (self.name, len(lines)))
        for line in lines:
            note("  " + line)

    def grep(self, s):
        try:
            with open(self.log, errors="replace") as f:
                return [l for l in f if s in l]
        except OSError:
            return []


# ---- models and references ------------------------------------------------------

def finish_model(g):
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="test_api")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


def small_model(seed):
    """x[4,8] -> Relu(x @ W + b) = y[4,16]; W, b from seed."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((8, 16)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]),
         helper.make_node("Add", ["xw", "b"], ["xwb"]),
         helper.make_node("Relu", ["xwb"], ["y"])],
        "small%d" % seed,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 16])],
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "b")])

    def ref(x):
        return np.maximum(x.astype(np.float64) @ W.astype(np.float64) +
                          b.astype(np.float64), 0)
    return finish_model(g), ref


def two_model():
    """a[256,64], b[64,4096] -> p = a @ b [256,4096] (4 MiB), q = Relu(a)."""
    g = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["p"]),
         helper.make_node("Relu", ["a"], ["q"])],
        "two",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [256, 64]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [64, 4096])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [256, 4096]),
         helper.make_tensor_value_info("q", TensorProto.FLOAT, [256, 64])])
    return finish_model(g)


def chain_model(layers, n=512, batch=64, name="chain"):
    """x[batch,n] -> layers x (MatMul W, Tanh) -> y: one shared W, so the
    file stays n*n*4 bytes however many layers."""
    rng = np.random.default_rng(7)
    W = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
    nodes, prev = [], "x"
    for k in range(layers):
        nodes.append(helper.make_node("MatMul", [prev, "W"], ["m%d" % k]))
        out = "y" if k == layers - 1 else "t%d" % k
        nodes.append(helper.make_node("Tanh", ["m%d" % k], [out]))
        prev = out
    g = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, n])],
        [numpy_helper.from_array(W, "W")])
    return finish_model(g)


def wide_model():
    """x[1,16] -> x @ W[16,32768] = y[1,32768]: a 128 KiB output."""
    rng = np.random.default_rng(3)
    W = rng.standard_normal((16, 32768)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])], "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32768])],
        [numpy_helper.from_array(W, "W")])
    return finish_model(g)


def unsupported_model():
    """x[3,3] -> Det: a valid ONNX op the executor does not have."""
    g = helper.make_graph(
        [helper.make_node("Det", ["x"], ["y"])], "det",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    return finish_model(g)


def close(got, ref, rtol=1e-5):
    """float32 result against a float64 reference: elementwise within
    rtol, with an absolute floor at rtol of the tensor's scale."""
    ref = np.asarray(ref, dtype=np.float64)
    if got is None or got.shape != ref.shape:
        return False, "shape %s, want %s" % (
            None if got is None else got.shape, ref.shape)
    scale = max(float(np.abs(ref).max()) if ref.size else 0.0, 1e-30)
    err = np.abs(got.astype(np.float64) - ref)
    bad = err > rtol * np.abs(ref) + rtol * scale
    if bad.any():
        i = np.unravel_index(np.argmax(err), err.shape)
        return False, "%d of %d elements off, worst at %s: %r vs %r" % (
            int(bad.sum()), bad.size, i, got[i], ref[i])
    return True, ""


def tensor(name, arr, dtype=None, shape=None, data=None):
    arr = np.ascontiguousarray(arr)
    return pb.Tensor(name=name, dtype=dtype or arr.dtype.name,
                     shape=list(arr.shape) if shape is None else shape,
                     data=arr.astype(arr.dtype.newbyteorder("<")).tobytes()
                     if data is None else data)


def put_model(stub, data, name, chunk=65536, sha=None, size=None, md=None,
              timeout=60):
    def gen():
        yield pb.PutModelRequest(header=pb.ModelHeader(
            name=name, size=len(data) if size is None else size,
            sha256=sha or ""))
        for i in range(0, len(data), chunk):
            yield pb.PutModelRequest(chunk=data[i:i + chunk])
    return stub.PutModel(gen(), timeout=timeout, metadata=md)


def put_blob(stub, data, chunk=65536, sha=None, size=None, timeout=60):
    def gen():
        yield pb.PutBlobRequest(header=pb.BlobHeader(
            size=len(data) if size is None else size, sha256=sha or ""))
        for i in range(0, len(data), chunk):
            yield pb.PutBlobRequest(chunk=data[i:i + chunk])
    return stub.PutBlob(gen(), timeout=timeout)


def npy_bytes(arr):
    b = io.BytesIO()
    np.save(b, arr)
    return b.getvalue()


def get_result(stub, job_id, output="", chunk_size=0, timeout=60, md=None):
    """Reassemble GetResult's chunks. Returns ({name: array}, {name:
    (chunks, largest chunk)}, [problems with the chunk protocol])."""
    chunks = list(stub.GetResult(pb.GetResultRequest(
        job_id=job_id, output=output, chunk_size=chunk_size),
        timeout=timeout, metadata=md))
    outs, problems, cur = {}, [], None
    for c in chunks:
        if cur is None or cur["done"]:
            if c.name in outs:
                problems.append("output %s sent twice" % c.name)
            cur = {"name": c.name, "dtype": c.dtype, "shape": list(c.shape),
                   "size": c.size, "buf": bytearray(), "n": 0, "max": 0,
                   "done": False}
            outs[c.name] = cur
            if c.offset != 0 or not c.dtype:
                problems.append("first chunk of %s: offset %d dtype %r" % (
                    c.name, c.offset, c.dtype))
        elif c.name != cur["name"]:
            problems.append("chunk of %s inside %s" % (c.name, cur["name"]))
        if c.offset != len(cur["buf"]):
            problems.append("%s: offset %d, expected %d" % (
                c.name, c.offset, len(cur["buf"])))
        cur["buf"] += c.data
        cur["n"] += 1
        cur["max"] = max(cur["max"], len(c.data))
        if c.last:
            cur["done"] = True
            if len(cur["buf"]) != cur["size"]:
                problems.append("%s: %d bytes, size says %d" % (
                    c.name, len(cur["buf"]), cur["size"]))
    arrays = {}
    for name, o in outs.items():
        if not o["done"]:
            problems.append("%s: no last chunk" % name)
        try:
            dt = np.dtype(o["dtype"]).newbyteorder("<")
            arrays[name] = np.frombuffer(bytes(o["buf"]), dtype=dt).reshape(
                o["shape"])
        except (TypeError, ValueError) as e:
            problems.append("%s: %s" % (name, e))
    return arrays, {n: (o["n"], o["max"]) for n, o in outs.items()}, problems


def get_job(stub, jid, md=None):
    return stub.GetJob(pb.GetJobRequest(job_id=jid), timeout=10, metadata=md)


def wait_job(stub, jid, states=FINAL, timeout=120):
    last = [None]

    def cond():
        last[0] = get_job(stub, jid)
        return last[0].state in states
    wait_until(cond, timeout, 0.02)
    return last[0]


def submit(stub, model, inputs, timeout=30, md=None, **kw):
    return stub.SubmitJob(pb.SubmitJobRequest(model=model, inputs=inputs,
                                              **kw), timeout=timeout,
                          metadata=md)


# ---- the cases -----------------------------------------------------------------

CTX = {}   # what later groups need from earlier ones


@group
def health_and_reflection(d):
    with d.channel() as ch:
        s = Svc(ch)
        for svc in ("", "lagrange.v1.Scheduler", "grpc.health.v1.Health",
                    "grpc.reflection.v1.ServerReflection"):
            code, r, det = code_of(s.check, HPB.HealthCheckRequest(
                service=svc), timeout=10)
            ok(code == C.OK and r.status == SERVING,
               "health Check %r is SERVING" % svc, "%s %s %s" % (code, r, det))
        expect_code(C.NOT_FOUND, "health Check of an unknown service is "
                    "NOT_FOUND", s.check,
                    HPB.HealthCheckRequest(service="no.such.Service"),
                    timeout=10)
        # Watch of an unknown service: SERVICE_UNKNOWN, stream stays open.
        call = s.watch(HPB.HealthCheckRequest(service="no.such.Service"),
                       timeout=10)
        try:
            first = next(call)
            ok(first.status == SERVICE_UNKNOWN,
               "health Watch of an unknown service says SERVICE_UNKNOWN",
               first)
        except (grpc.RpcError, StopIteration) as e:
            ok(False, "health Watch of an unknown service says "
               "SERVICE_UNKNOWN", repr(e))
        call.cancel()

        # Reflection: one answer per request, in order.
        fds_want = descriptor_pb2.FileDescriptorProto.FromString(
            pb.DESCRIPTOR.serialized_pb)
        reqs = [
            RPB.ServerReflectionRequest(list_services=""),
            RPB.ServerReflectionRequest(
                file_containing_symbol="lagrange.v1.Scheduler"),
            RPB.ServerReflectionRequest(
                file_containing_symbol="lagrange.v1.Scheduler.SubmitJob"),
            RPB.ServerReflectionRequest(
                file_containing_symbol="lagrange.v1.ResultChunk"),
            RPB.ServerReflectionRequest(
                file_by_filename="lagrange/v1/api.proto"),
            RPB.ServerReflectionRequest(
                file_containing_symbol="grpc.health.v1.Health"),
            RPB.ServerReflectionRequest(
                file_containing_symbol="no.such.Symbol"),
            RPB.ServerReflectionRequest(file_by_filename="nope.proto"),
            RPB.ServerReflectionRequest(
                all_extension_numbers_of_type="lagrange.v1.Job"),
        ]
        code, resps, det = code_of(s.refl, iter(reqs), timeout=20)
        if not ok(code == C.OK and len(resps) == len(reqs),
                  "reflection answers each of %d requests" % len(reqs),
                  "%s %s, %d answers" % (code, det, len(resps or []))):
            return
        ok(all(r.original_request == q for r, q in zip(resps, reqs)),
           "reflection answers in order, echoing original_request",
           [r.original_request for r in resps])
        names = sorted(x.name for x in resps[0].list_services_response.service)
        ok({"lagrange.v1.Scheduler", "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection"} <= set(names),
           "reflection list_services names our 3 services", names)

        def files(resp):
            return [descriptor_pb2.FileDescriptorProto.FromString(b)
                    for b in resp.file_descriptor_response.file_descriptor_proto]

        def sched_of(fl):
            for f in fl:
                if f.package == "lagrange.v1":
                    for sv in f.service:
                        if sv.name == "Scheduler":
                            return f, sv
            return None, None

        want_sv = [x for x in fds_want.service if x.name == "Scheduler"][0]
        want_m = [(m.name, m.input_type, m.output_type,
                   m.client_streaming, m.server_streaming)
                  for m in want_sv.method]
        for i, what in ((1, "lagrange.v1.Scheduler"),
                        (2, "method lagrange.v1.Scheduler.SubmitJob"),
                        (3, "message lagrange.v1.ResultChunk"),
                        (4, "file lagrange/v1/api.proto")):
            try:
                fl = files(resps[i])
            except Exception as e:  # noqa: BLE001
                ok(False, "reflection: %s parses as FileDescriptorProto" % what,
                   repr(e))
                continue
            f, sv = sched_of(fl)
            got_m = [(m.name, m.input_type, m.output_type,
                      m.client_streaming, m.server_streaming)
                     for m in sv.method] if sv else None
            ok(f is not None and f.name == "lagrange/v1/api.proto" and
               got_m == want_m and len(got_m) == 13,
               "reflection: %s gives api.proto with Scheduler's 13 methods, "
               "types and streaming as protoc says" % what,
               "file %s, methods %s" % (f and f.name, got_m))
            if i == 1 and f is not None:
                # The messages too, field by field, against protoc.
                def shape(fd):
                    return {m.name: [(x.name, x.number, x.type, x.label,
                                      x.type_name, x.oneof_index
                                      if x.HasField("oneof_index") else -1)
                                     for x in m.field]
                            for m in fd.message_type}
                ok(shape(f) == shape(fds_want) and
                   [e.name for e in f.enum_type] ==
                   [e.name for e in fds_want.enum_type],
                   "reflection: api.proto's messages and enums match protoc's",
                   set(shape(f)) ^ set(shape(fds_want)))
                # Self-contained: a fresh pool can build the service.
                try:
                    pool = descriptor_pool.DescriptorPool()
                    for x in fl:
                        pool.Add(x)
                    sd = pool.FindServiceByName("lagrange.v1.Scheduler")
                    ok(len(sd.methods) == 13 and
                       sd.FindMethodByName("GetResult").output_type.full_name
                       == "lagrange.v1.ResultChunk",
                       "reflection: the files build a descriptor pool with "
                       "the service", [m.name for m in sd.methods])
                except Exception as e:  # noqa: BLE001
                    ok(False, "reflection: the files build a descriptor pool "
                       "with the service", repr(e))
        hf = [x.name for x in files(resps[5])] if resps[5].HasField(
            "file_descriptor_response") else []
        ok("grpc/health/v1/health.proto" in hf,
           "reflection: grpc.health.v1.Health gives health.proto", resps[5])
        for i, what in ((6, "unknown symbol"), (7, "unknown file")):
            e = resps[i]
            ok(e.HasField("error_response") and
               e.error_response.error_code == 5,
               "reflection: %s -> error_response code 5 (NOT_FOUND)" % what,
               e)
        x = resps[8]
        ok(x.HasField("all_extension_numbers_response") and
           not x.all_extension_numbers_response.extension_number,
           "reflection: all_extension_numbers_of_type of a message -> an "
           "empty list", x)
        # Malformed request bytes on the bidi stream.
        raw = ch.stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b)
        expect_code(C.INVALID_ARGUMENT, "reflection: a request that is not "
                    "protobuf -> INVALID_ARGUMENT", raw,
                    iter([b"\xff\xff\xff\xff"]), timeout=10)


@group
def models(d):
    with d.channel() as ch:
        st = pbg.SchedulerStub(ch)
        small, small_ref = small_model(1)
        sid = hashlib.sha256(small).hexdigest()
        code, m, det = code_of(put_model, st, small, "small", chunk=37)
        if not ok(code == C.OK, "PutModel small in %d chunks of 37 bytes" % (
                (len(small) + 36) // 37), "%s %s" % (code, det)):
            return
        ok(m.id == sid and m.size == len(small) and m.name == "small",
           "PutModel: id is the SHA-256 of the bytes, size and name",
           "%s %d %s, want %s %d" % (m.id, m.size, m.name, sid, len(small)))
        ok([(t.name, t.dtype, list(t.shape)) for t in m.inputs] ==
           [("x", "float32", [4, 8])] and
           [(t.name, t.dtype, list(t.shape)) for t in m.outputs] ==
           [("y", "float32", [4, 16])] and m.nodes == 3,
           "PutModel: inputs, outputs and node count as built",
           "%s %s %d" % (m.inputs, m.outputs, m.nodes))
        flops = 2 * 4 * 8 * 16
        ok(m.gflops > 0 and m.gflops * 1e9 < 10 * flops + 1000,
           "PutModel: gflops plausible", m.gflops)
        ok(m.created_unix_ms > 0, "PutModel: created_unix_ms set",
           m.created_unix_ms)
        CTX.update(small=small, small_ref=small_ref, small_id=sid)

        # Idempotent: same bytes, same id, no second entry.
        time.sleep(0.02)
        code, m2, det = code_of(put_model, st, small, "small", chunk=1000)
        ok(code == C.OK and m2.id == sid and m2.size == m.size,
           "PutModel again (other split): same id", "%s %s %s" % (
               code, det, m2 and m2.id))
        code, m3, det = code_of(put_model, st, small, "small-again")
        ok(code == C.OK and m3.id == sid and m3.name == "small-again",
           "PutModel again under another name: same id, latest name",
           "%s %s %s" % (code, det, m3))
        if m3 is not None:
            ok(m3.created_unix_ms == m.created_unix_ms,
               "PutModel again: created_unix_ms stays the first upload's",
               "first %d, after re-upload %d" % (m.created_unix_ms,
                                                 m3.created_unix_ms))
        lm = st.ListModels(pb.ListModelsRequest(), timeout=10).models
        ok([x.id for x in lm].count(sid) == 1,
           "ListModels: the model once after 3 uploads",
           [x.id[:12] for x in lm])
        put_model(st, small, "small")       # its name again for the rest

        # The two-input model with a correct sha256 in the header.
        two = two_model()
        tid = hashlib.sha256(two).hexdigest()
        code, mt, det = code_of(put_model, st, two, "two", sha=tid, chunk=100)
        ok(code == C.OK and mt.id == tid and
           [t.name for t in mt.inputs] == ["a", "b"] and
           [t.name for t in mt.outputs] == ["p", "q"],
           "PutModel two (header sha256 right, 100-byte chunks)",
           "%s %s %s" % (code, det, mt))
        CTX["two_id"] = tid

        # Failures: nothing is stored by any of them.
        before = {x.id for x in st.ListModels(pb.ListModelsRequest(),
                                              timeout=10).models}
        other, _ = small_model(2)
        oid = hashlib.sha256(other).hexdigest()
        code, _, det = code_of(put_model, st, other, "bad-sha", sha="0" * 64)
        ok(code in (C.INVALID_ARGUMENT, C.DATA_LOSS) and "SHA-256" in det.upper()
           .replace("SHA256", "SHA-256"),
           "PutModel with a wrong sha256 -> INVALID_ARGUMENT or DATA_LOSS "
           "naming the checksum", "%s %r" % (code.name, det))
        expect_code(C.INVALID_ARGUMENT, "PutModel: sha256 not 64 hex digits "
                    "-> INVALID_ARGUMENT", put_model, st, other, "bad-sha",
                    sha="xyz")
        expect_code(C.INVALID_ARGUMENT, "PutModel: fewer bytes than the "
                    "header's size -> INVALID_ARGUMENT", put_model, st, other,
                    "short", size=len(other) + 10, names=(str(len(other)),))
        expect_code(C.INVALID_ARGUMENT, "PutModel: more bytes than the "
                    "header's size -> INVALID_ARGUMENT", put_model, st, other,
                    "long", size=len(other) - 10)
        expect_code(C.INVALID_ARGUMENT, "PutModel: size 0 -> INVALID_ARGUMENT",
                    put_model, st, b"", "empty")
        junk = b"this is not an ONNX model \x00\x01\x02" * 40
        code, det = expect_code(C.INVALID_ARGUMENT, "PutModel: bytes that are "
                                "not ONNX -> INVALID_ARGUMENT", put_model, st,
                                junk, "junk")
        ok(len(det) > 10 and any(w in det.lower() for w in (
            "onnx", "protobuf", "model", "parse", "malformed", "wire")),
           "PutModel: the malformed-ONNX message says what is wrong", det)
        expect_code(C.INVALID_ARGUMENT, "PutModel: bad name -> "
                    "INVALID_ARGUMENT naming it", put_model, st, other,
                    "no/slash", names=("no/slash",))
        expect_code(C.INVALID_ARGUMENT, "PutModel: a chunk first, no header "
                    "-> INVALID_ARGUMENT", st.PutModel,
                    iter([pb.PutModelRequest(chunk=other)]), timeout=10)
        expect_code(C.INVALID_ARGUMENT, "PutModel: empty stream -> "
                    "INVALID_ARGUMENT", st.PutModel, iter([]), timeout=10)
        expect_code(C.INVALID_ARGUMENT, "PutModel: a second header -> "
                    "INVALID_ARGUMENT", st.PutModel, iter([
                        pb.PutModelRequest(header=pb.ModelHeader(
                            name="h2", size=len(other))),
                        pb.PutModelRequest(header=pb.ModelHeader(
                            name="h2", size=len(other)))]), timeout=10)
        after = {x.id for x in st.ListModels(pb.ListModelsRequest(),
                                             timeout=10).models}
        ok(after == before and oid not in after,
           "failed uploads leave no model behind", after ^ before)
        # Nor files in ModelDir (temporary ones included).
        left = [f for f in os.listdir(os.path.join(d.dir, "models"))
                if hashlib.sha256(junk).hexdigest() in f or oid in f]
        ok(not left, "failed uploads leave no file in ModelDir", left)

        # An empty chunk is a legal split ("any split").
        code, me, det = code_of(st.PutModel, iter(
            [pb.PutModelRequest(header=pb.ModelHeader(name="other",
                                                      size=len(other))),
             pb.PutModelRequest(chunk=other[:50]),
             pb.PutModelRequest(chunk=b""),
             pb.PutModelRequest(chunk=other[50:])]), timeout=10)
        ok(code == C.OK and me.id == oid,
           "PutModel: an empty chunk in the middle is accepted (any split)",
           "%s %r" % (code.name, det))

        # DeleteModel by id prefix, then NOT_FOUND.
        if code != C.OK:
            put_model(st, other, "other")
        code, r, det = code_of(st.DeleteModel, pb.DeleteModelRequest(
            model=oid[:8]), timeout=10)
        ok(code == C.OK and r.id == oid,
           "DeleteModel by an 8-digit id prefix returns the full id",
           "%s %s %s" % (code, det, r))
        ok(oid not in {x.id for x in st.ListModels(pb.ListModelsRequest(),
                                                   timeout=10).models},
           "DeleteModel: gone from ListModels")
        expect_code(C.NOT_FOUND, "DeleteModel again -> NOT_FOUND",
                    st.DeleteModel, pb.DeleteModelRequest(model=oid),
                    timeout=10)
        expect_code(C.NOT_FOUND, "SubmitJob on a deleted model -> NOT_FOUND",
                    submit, st, oid, [tensor("x", np.zeros((4, 8),
                                                           np.float32))])
        expect_code(C.NOT_FOUND, "DeleteModel of an unknown name -> "
                    "NOT_FOUND", st.DeleteModel,
                    pb.DeleteModelRequest(model="no-such-model"), timeout=10)
        # Deleted then uploaded again: usable (a stale cache must not
        # answer for it).
        code, _, det = code_of(put_model, st, other, "other")
        ok(code == C.OK, "PutModel after DeleteModel", det)
        x = np.random.default_rng(5).standard_normal((4, 8)).astype(np.float32)
        _, oref = small_model(2)
        j = submit(st, "other", [tensor("x", x)])
        j = wait_job(st, j.id)
        if ok(j.state == pb.COMPLETED, "job on the re-uploaded model "
              "COMPLETED", "%s %s" % (SN(j.state), j.error)):
            outs, _, _ = get_result(st, j.id)
            good, why = close(outs.get("y"), oref(x))
            ok(good, "job on the re-uploaded model: result matches numpy", why)
        st.DeleteModel(pb.DeleteModelRequest(model=oid), timeout=10)

        # Resolving a model: name, full id, id prefixes, too short a prefix.
        x = np.random.default_rng(11).standard_normal((4, 8)).astype(np.float32)
        for ref_ in ("small", sid, sid[:8], sid[:20]):
            code, j, det = code_of(submit, st, ref_, [tensor("x", x)])
            ok(code == C.OK and j.model == sid,
               "SubmitJob resolves model %r" % (ref_[:20]),
               "%s %s" % (code, det))
        code, _, det = code_of(submit, st, sid[:6], [tensor("x", x)])
        ok(code in (C.NOT_FOUND, C.INVALID_ARGUMENT), "SubmitJob: a 6-digit "
           "id prefix does not resolve (NOT_FOUND or INVALID_ARGUMENT)",
           "%s %r" % (code.name, det))
        expect_code(C.NOT_FOUND, "SubmitJob: unknown model -> NOT_FOUND "
                    "naming it", submit, st, "no-such-model",
                    [tensor("x", x)], names=("no-such-model",))


@group
def jobs_basic(d):
    with d.channel() as ch:
        st = pbg.SchedulerStub(ch)
        ref = CTX["small_ref"]
        sid = CTX["small_id"]
        x = np.random.default_rng(21).standard_normal((4, 8)).astype(np.float32)
        t0 = int(time.time() * 1000)
        j = submit(st, "small", [tensor("x", x)], name="basic-1", priority=3,
                   objective=pb.MIN_ENERGY, idempotency_key="basic-key-1")
        ok(len(j.id) == 13 and j.id[0] == "j" and
           all(c in "0123456789abcdef" for c in j.id[1:]),
           "SubmitJob: id is j + 12 hex digits", j.id)
        ok(j.model == sid and j.model_name == "small" and j.name == "basic-1"
           and j.priority == 3 and j.objective == pb.MIN_ENERGY and
           j.idempotency_key == "basic-key-1" and
           j.state in (pb.PENDING, pb.RUNNING, pb.COMPLETED),
           "SubmitJob: the Job echoes model, name, priority, objective, key",
           j)
        ok(abs(j.created_unix_ms - t0) < 600000,
           "SubmitJob: created_unix_ms is now (ms since the epoch)",
           j.created_unix_ms)
        # WatchJob: snapshot first, COMPLETED last, then the stream ends.
        code, evs, det = code_of(st.WatchJob, pb.WatchJobRequest(job_id=j.id),
                                 timeout=60)
        ok(code == C.OK and evs and evs[0].event == "snapshot" and
           evs[-1].job.state == pb.COMPLETED and
           [e.job.state for e in evs].count(pb.COMPLETED) == 1,
           "WatchJob: snapshot first, COMPLETED once and last, stream ends OK",
           "%s %s %s" % (code, det, [(e.event, SN(e.job.state))
                                     for e in evs or []]))
        j = wait_job(st, j.id)
        ok(j.state == pb.COMPLETED and j.progress == 1.0 and
           j.attempts == 1 and list(j.nodes) == ["gs"] and not j.error and
           not j.reason,
           "GetJob: COMPLETED, progress 1, 1 attempt, ran on gs, no reason",
           j)
        ok(j.created_unix_ms <= j.started_unix_ms <= j.finished_unix_ms <=
           j.updated_unix_ms and j.deadline_unix_ms == 0,
           "GetJob: created <= started <= finished <= updated",
           "%d %d %d %d" % (j.created_unix_ms, j.started_unix_ms,
                            j.finished_unix_ms, j.updated_unix_ms))
        ok([(t.name, t.dtype, list(t.shape)) for t in j.outputs] ==
           [("y", "float32", [4, 16])],
           "GetJob: outputs of the COMPLETED job", j.outputs)
        outs, meta, probs = get_result(st, j.id)
        good, why = close(outs.get("y"), ref(x))
        ok(not probs and good and list(outs) == ["y"],
           "GetResult: y matches numpy (rtol 1e-5)", "%s %s" % (probs, why))
        code, evs, det = code_of(st.WatchJob, pb.WatchJobRequest(job_id=j.id),
                                 timeout=10)
        ok(code == C.OK and len(evs) == 1 and evs[0].event == "snapshot" and
           evs[0].job.state == pb.COMPLETED,
           "WatchJob of a finished job: one snapshot, then the stream ends",
           "%s %s" % (code, evs))
        CTX["basic_job"] = j.id

        # Idempotency: same key, same job, one job.
        j2 = submit(st, "small", [tensor("x", x)], name="basic-1", priority=3,
                    objective=pb.MIN_ENERGY, idempotency_key="basic-key-1")
        ok(j2.id == j.id, "SubmitJob with the same idempotency_key returns "
           "the same job", "%s vs %s" % (j2.id, j.id))
        key = "idem-%d" % os.getpid()
        ja = submit(st, "small", [tensor("x", x)], idempotency_key=key)
        jb = submit(st, "small", [tensor("x", x)], idempotency_key=key)
        lj = st.ListJobs(pb.ListJobsRequest(), timeout=10).jobs
        ok(ja.id == jb.id and
           [q.idempotency_key for q in lj].count(key) == 1,
           "idempotency_key twice at once: one job in ListJobs",
           "%s %s %d" % (ja.id, jb.id,
                         [q.idempotency_key for q in lj].count(key)))
        expect_code(C.INVALID_ARGUMENT, "idempotency_key of 129 bytes -> "
                    "INVALID_ARGUMENT", submit, st, "small",
                    [tensor("x", x)], idempotency_key="k" * 129)
        code, _, det = code_of(submit, st, "small", [tensor("x", x)],
                               idempotency_key="k" * 128)
        ok(code == C.OK, "idempotency_key of 128 bytes is accepted", det)
        expect_code(C.INVALID_ARGUMENT, "priority 8 -> INVALID_ARGUMENT",
                    submit, st, "small", [tensor("x", x)], priority=8)
        expect_code(C.INVALID_ARGUMENT, "job name with a space -> "
                    "INVALID_ARGUMENT", submit, st, "small", [tensor("x", x)],
                    name="a b")

        # Bad inputs: each INVALID_ARGUMENT naming the input.
        x64 = x.astype(np.float64)
        cases = [
            ("wrong shape [4,9]", "small",
             [tensor("x", np.zeros((4, 9), np.float32))], ("x",)),
            ("wrong rank [32]", "small",
             [tensor("x", np.zeros(32, np.float32))], ("x",)),
            ("wrong dtype float64", "small", [tensor("x", x64)], ("x",)),
            ("unknown dtype", "small",
             [tensor("x", x, dtype="float128")], ("x",)),
            ("data length mismatch (100 bytes)", "small",
             [tensor("x", x, data=b"\0" * 100)], ("x",)),
            ("data length mismatch (one byte short)", "small",
             [tensor("x", x, data=x.tobytes()[:-1])], ("x",)),
            ("unknown input name", "small",
             [tensor("zz", x)], ("zz",)),
            ("input given twice (one-input model)", "small",
             [tensor("x", x), tensor("x", x)], ()),
            ("input a given twice", "two",
             [tensor("a", np.zeros((256, 64), np.float32)),
              tensor("a", np.zeros((256, 64), np.float32))], ("a",)),
            ("no inputs at all", "small", [], ("x",)),
            ("missing input b", "two",
             [tensor("a", np.zeros((256, 64), np.float32))], ("b",)),
            ("negative dimension", "small",
             [tensor("x", x, shape=[-4, -8])], ("x",)),
        ]
        n_before = len(st.ListJobs(pb.ListJobsRequest(), timeout=10).jobs)
        for what, model, ins, names in cases:
            expect_code(C.INVALID_ARGUMENT, "SubmitJob %s -> INVALID_ARGUMENT"
                        "%s" % (what, " naming the input" if names else ""),
                        submit, st, model, ins, names=names)
        expect_code(C.NOT_FOUND, "SubmitJob with an unknown blob -> NOT_FOUND",
                    submit, st, "small", [pb.Tensor(name="x", blob="ab" * 32)])
        expect_code(C.INVALID_ARGUMENT, "SubmitJob without a model -> "
                    "INVALID_ARGUMENT", submit, st, "", [tensor("x", x)])
        n_after = len(st.ListJobs(pb.ListJobsRequest(), timeout=10).jobs)
        ok(n_after == n_before, "refused submits make no job",
           "%d -> %d" % (n_before, n_after))
        raw = ch.unary_unary("/lagrange.v1.Scheduler/SubmitJob",
                             request_serializer=lambda b: b,
                             response_deserializer=lambda b: b)
        expect_code(C.INVALID_ARGUMENT, "SubmitJob with bytes that are not "
                    "protobuf -> INVALID_ARGUMENT", raw, b"\xff\xff\xff",
                    timeout=10)

        # Unknown job ids.
        for name, fn, req in (
                ("GetJob", st.GetJob, pb.GetJobRequest(job_id="j000000000000")),
                ("CancelJob", st.CancelJob,
                 pb.CancelJobRequest(job_id="j000000000000")),
                ("WatchJob", st.WatchJob,
                 pb.WatchJobRequest(job_id="j000000000000")),
                ("GetResult", st.GetResult,
                 pb.GetResultRequest(job_id="j000000000000")),
                ("GetJob (empty id)", st.GetJob, pb.GetJobRequest())):
            expect_code(C.NOT_FOUND, "%s of an unknown job -> NOT_FOUND" % name,
                        fn, req, timeout=10)
        expect_code(C.FAILED_PRECONDITION, "CancelJob of a COMPLETED job -> "
                    "FAILED_PRECONDITION", st.CancelJob,
                    pb.CancelJobRequest(job_id=j.id), timeout=10)


@group
def blobs_and_two(d):
    with d.channel() as ch:
        st = pbg.SchedulerStub(ch)
        ref = CTX["small_ref"]
        x = np.random.default_rng(31).standard_normal((4, 8)).astype(np.float32)
        data = npy_bytes(x)
        bid = hashlib.sha256(data).hexdigest()
        code, b, det = code_of(put_blob, st, data, chunk=17)
        ok(code == C.OK and b.id == bid and b.size == len(data),
           "PutBlob a .npy in 17-byte chunks: id is its SHA-256",
           "%s %s %s" % (code, det, b))
        code, b2, det = code_of(put_blob, st, data, sha=bid)
        ok(code == C.OK and b2.id == bid, "PutBlob again with the right "
           "sha256: same id", "%s %s" % (code, det))
        code, _, det = code_of(put_blob, st, data + b"x", sha=bid)
        ok(code in (C.INVALID_ARGUMENT, C.DATA_LOSS),
           "PutBlob with a wrong sha256 -> INVALID_ARGUMENT or DATA_LOSS",
           "%s %r" % (code.name, det))
        expect_code(C.INVALID_ARGUMENT, "PutBlob: fewer bytes than "
                    "announced -> INVALID_ARGUMENT", put_blob, st, data,
                    size=len(data) + 1)
        j = submit(st, "small", [pb.Tensor(name="x", blob=bid)])
        j = wait_job(st, j.id)
        if ok(j.state == pb.COMPLETED, "SubmitJob with a blob input COMPLETED",
              "%s %s" % (SN(j.state), j.error)):
            outs, _, probs = get_result(st, j.id)
            good, why = close(outs.get("y"), ref(x))
            ok(good and not probs, "blob input: result matches numpy",
               "%s %s" % (why, probs))

        # Blobs that do not fit the input: refused at submit, as inline
        # tensors are (INVALID_ARGUMENT for inputs that do not match).
        for what, arr in (("float64 .npy", x.astype(np.float64)),
                          ("[4,9] .npy", np.zeros((4, 9), np.float32))):
            bb = put_blob(st, npy_bytes(arr))
            code, jb, det = code_of(submit, st, "small",
                                    [pb.Tensor(name="x", blob=bb.id)])
            if code == C.OK:
                jb = wait_job(st, jb.id)
                ok(False, "SubmitJob with a blob of the wrong %s -> "
                   "INVALID_ARGUMENT" % what,
                   "accepted; the job ended %s: %s" % (SN(jb.state),
                                                        jb.error))
            else:
                ok(code == C.INVALID_ARGUMENT and "x" in det,
                   "SubmitJob with a blob of the wrong %s -> INVALID_ARGUMENT"
                   % what, "%s %r" % (code.name, det))
        bj = put_blob(st, b"not a numpy file at all" * 4)
        code, jb, det = code_of(submit, st, "small",
                                [pb.Tensor(name="x", blob=bj.id)])
        ok(code == C.INVALID_ARGUMENT, "SubmitJob with a blob that is not "
           ".npy -> INVALID_ARGUMENT", "%s %r" % (code.name, det))

        # Two inputs, given out of order, one as a blob; a 4 MiB output.
        rng = np.random.default_rng(41)
        a = rng.standard_normal((256, 64)).astype(np.float32)
        bm = rng.standard_normal((64, 4096)).astype(np.float32)
        blob_b = put_blob(st, npy_bytes(bm), chunk=1 << 20)
        j = submit(st, "two", [pb.Tensor(name="b", blob=blob_b.id),
                               tensor("a", a)])
        j = wait_job(st, j.id)
        if not ok(j.state == pb.COMPLETED, "two-input job COMPLETED",
                  "%s %s" % (SN(j.state), j.error)):
            return
        pref = a.astype(np.float64) @ bm.astype(np.float64)
        qref = np.maximum(a, 0)
        outs, meta, probs = get_result(st, j.id)
        gp, wp = close(outs.get("p"), pref)
        gq, wq = close(outs.get("q"), qref)
        ok(not probs and list(outs) == ["p", "q"] and gp and gq,
           "GetResult all: p (4 MiB) and q in graph order, match numpy",
           "%s %s %s %s" % (probs, list(outs), wp, wq))
        ok(meta.get("p", (0, 0))[0] >= 4 and meta["p"][1] <= 1 << 20,
           "GetResult default chunk_size: p in >= 4 chunks of <= 1 MiB",
           meta)
        outs, meta, probs = get_result(st, j.id, chunk_size=300000)
        gp, wp = close(outs.get("p"), pref)
        ok(not probs and gp and meta["p"][0] == -(-(4 << 20) // 300000) and
           meta["p"][1] == 300000,
           "GetResult chunk_size 300000: p in 14 chunks, reassembled right",
           "%s %s %s" % (probs, meta, wp))
        outs, meta, probs = get_result(st, j.id, output="q", chunk_size=4096)
        gq, wq = close(outs.get("q"), qref)
        ok(not probs and list(outs) == ["q"] and gq and meta["q"][0] == 16,
           "GetResult one output by name (q, 16 chunks of 4 KiB)",
           "%s %s %s" % (probs, meta, wq))
        outs, meta, probs = get_result(st, j.id, chunk_size=4 << 20)
        ok(not probs and meta.get("p", (0,))[0] == 1,
           "GetResult chunk_size 4 MiB (the maximum): p in one chunk",
           "%s %s" % (probs, meta))
        expect_code(C.INVALID_ARGUMENT, "GetResult chunk_size above 4 MiB -> "
                    "INVALID_ARGUMENT", lambda: list(st.GetResult(
                        pb.GetResultRequest(job_id=j.id,
                                            chunk_size=(4 << 20) + 1),
                        timeout=10)))
        expect_code(C.NOT_FOUND, "GetResult of an unknown output -> "
                    "NOT_FOUND naming it", lambda: list(st.GetResult(
                        pb.GetResultRequest(job_id=j.id, output="nope"),
                        timeout=10)), names=("nope",))
        # A client that stops reading after the first chunk.
        call = st.GetResult(pb.GetResultRequest(job_id=j.id,
                                                chunk_size=65536), timeout=30)
        next(call)
        call.cancel()
        ok(Svc(ch).check(HPB.HealthCheckRequest(), timeout=10).status ==
           SERVING, "GetResult cancelled after one chunk: daemon serves on")

        # Concurrency: 4 clients x 5 jobs with distinct inputs.
        errs = []

        def client(k):
            try:
                with d.channel() as c2:
                    s2 = pbg.SchedulerStub(c2)
                    mine = []
                    for i in range(5):
                        xi = np.random.default_rng(1000 + 10 * k + i) \
                            .standard_normal((4, 8)).astype(np.float32)
                        mine.append((submit(s2, "small", [tensor("x", xi)]).id,
                                     xi))
                    for jid, xi in mine:
                        jj = wait_job(s2, jid)
                        if jj.state != pb.COMPLETED:
                            errs.append("%s %s" % (jid, SN(jj.state)))
                            continue
                        o, _, p = get_result(s2, jid)
                        g, w = close(o.get("y"), ref(xi))
                        if not g or p:
                            errs.append("%s: %s %s" % (jid, w, p))
            except Exception as e:  # noqa: BLE001
                errs.append(repr(e))
        ths = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(120)
        ok(not errs, "4 concurrent clients x 5 jobs: all COMPLETED, results "
           "match numpy", errs[:3])

        # An op the executor does not have: refused at upload, or the job
        # FAILS with a message naming it; never COMPLETED.
        det_m = unsupported_model()
        code, md_, det = code_of(put_model, st, det_m, "det")
        if code != C.OK:
            ok(code in (C.INVALID_ARGUMENT, C.UNIMPLEMENTED) and "Det" in det,
               "unsupported op: refused at upload naming Det",
               "%s %r" % (code.name, det))
        else:
            jd = submit(st, "det", [tensor("x", np.eye(3, dtype=np.float32))])
            jd = wait_job(st, jd.id)
            ok(jd.state == pb.FAILED and "Det" in jd.error,
               "unsupported op Det: the job FAILED with an error naming it",
               "%s %r" % (SN(jd.state), jd.error))
            expect_code(C.FAILED_PRECONDITION, "GetResult of a FAILED job -> "
                        "FAILED_PRECONDITION", lambda: list(st.GetResult(
                            pb.GetResultRequest(job_id=jd.id), timeout=10)))


@group
def listings_and_plan(d):
    with d.channel() as ch:
        st = pbg.SchedulerStub(ch)
        allj = st.ListJobs(pb.ListJobsRequest(), timeout=10).jobs
        ids = [j.id for j in allj]
        ok(len(ids) == len(set(ids)) and len(ids) >= 10,
           "ListJobs: every job once", "%d jobs, %d distinct" % (
               len(ids), len(set(ids))))
        done = st.ListJobs(pb.ListJobsRequest(states=[pb.COMPLETED]),
                           timeout=10).jobs
        ok(done and all(j.state == pb.COMPLETED for j in done) and
           {j.id for j in done} == {j.id for j in allj
                                    if j.state == pb.COMPLETED},
           "ListJobs states=[COMPLETED]: exactly the COMPLETED jobs",
           "%d of %d" % (len(done), len(allj)))
        two = st.ListJobs(pb.ListJobsRequest(states=[pb.COMPLETED,
                                                     pb.FAILED]),
                          timeout=10).jobs
        ok({j.id for j in two} == {j.id for j in allj
                                   if j.state in (pb.COMPLETED, pb.FAILED)},
           "ListJobs states=[COMPLETED, FAILED]: the union",
           "%d" % len(two))
        none = st.ListJobs(pb.ListJobsRequest(states=[pb.EXPIRED]),
                           timeout=10).jobs
        ok(all(j.state == pb.EXPIRED for j in none),
           "ListJobs states=[EXPIRED]: only EXPIRED", [SN(j.state)
                                                       for j in none])
        lim = st.ListJobs(pb.ListJobsRequest(limit=3), timeout=10).jobs
        newest = sorted(j.created_unix_ms for j in allj)[-3:]
        ok(len(lim) == 3 and {j.id for j in lim} <= set(ids) and
           sorted(j.created_unix_ms for j in lim) == newest,
           "ListJobs limit=3: the 3 most recent", [j.id for j in lim])
        lim1 = st.ListJobs(pb.ListJobsRequest(limit=1, states=[pb.COMPLETED]),
                           timeout=10).jobs
        ok(len(lim1) == 1 and lim1[0].state == pb.COMPLETED,
           "ListJobs limit=1 with a states filter", lim1)
        big = st.ListJobs(pb.ListJobsRequest(limit=100000), timeout=10).jobs
        ok(len(big) == len(allj), "ListJobs limit above the count: all",
           len(big))

        nodes = st.ListNodes(pb.ListNodesRequest(), timeout=10).nodes
        want = {}
        with open(os.path.join(T, "tiny.topo")) as f:
            for line in f:
                if line.startswith("Node="):
                    kv = dict(w.split("=", 1) for w in line.split())
                    want[kv["Node"]] = kv["Kind"]
        got = {n.name: n.kind for n in nodes}
        ok(got == want, "ListNodes: the topology's nodes and kinds",
           "%s vs %s" % (got, want))
        selfs = [n.name for n in nodes if n.self]
        gs = [n for n in nodes if n.name == "gs"]
        ok(selfs == ["gs"] and gs and gs[0].up and gs[0].gflops > 0,
           "ListNodes: gs is self, up, with a speed", nodes)
        links = st.ListLinks(pb.ListLinksRequest(), timeout=10).links
        ok(all(lk.peer in ("leo-1", "geo") for lk in links) and
           len({lk.peer for lk in links}) == len(links),
           "ListLinks: only gs's neighbours, each once",
           [(lk.peer, lk.state) for lk in links])

        x = np.zeros((4, 8), np.float32)
        n0 = len(allj)
        code, p, det = code_of(st.PlanJob, pb.SubmitJobRequest(
            model="small", inputs=[tensor("x", x)]), timeout=10)
        ok(code == C.OK and p.steps and p.steps[0].node == "gs" and
           p.completion_s >= 0 and p.energy_j >= 0 and p.summary and
           p.steps[0].end_s >= p.steps[0].start_s,
           "PlanJob: a plan on gs with a summary", "%s %s %s" % (code, det, p))
        expect_code(C.INVALID_ARGUMENT, "PlanJob with a bad input -> "
                    "INVALID_ARGUMENT", st.PlanJob, pb.SubmitJobRequest(
                        model="small",
                        inputs=[tensor("x", np.zeros((2, 2), np.float32))]),
                    timeout=10, names=("x",))
        expect_code(C.NOT_FOUND, "PlanJob of an unknown model -> NOT_FOUND",
                    st.PlanJob, pb.SubmitJobRequest(model="nope"), timeout=10)
        ok(len(st.ListJobs(pb.ListJobsRequest(), timeout=10).jobs) == n0,
           "PlanJob makes no job")


def calibrate(d):
    """Seconds per (MatMul + Tanh) layer of chain_model on this machine,
    from the daemon's own job times: the fastest of 3 runs of 10 and of 110
    layers, differenced so that per-job overhead drops out. A calibration
    for sizing the slow models, asserted on by nothing."""
    with d.channel() as ch:
        st = pbg.SchedulerStub(ch)
        x = np.random.default_rng(0).standard_normal((64, 512)) \
            .astype(np.float32)
        best = {}
        for k in (10, 110):
            put_model(st, chain_model(k, name="calib%d" % k), "calib%d" % k)
            for _ in range(3):
                j = wait_job(st, submit(st, "calib%d" % k,
                                        [tensor("x", x)]).id)
                dt = (j.finished_unix_ms - j.started_unix_ms) / 1000.0
                best[k] = dt if k not in best else min(best[k], dt)
        per = max((best[110] - best[10]) / 100, best[110] / 220, 0.0001)
        note("calibration: %.2f ms per layer (64x512 @ 512x512 + tanh); "
             "10 layers %.0f ms, 110 layers %.0f ms" % (
                 per * 1e3, best[10] * 1e3, best[110] * 1e3))
        return per


@group
def queueing(d, per_layer):
    """With JobWorkers=1 and two slow jobs in front: pending states,
    deadlines, cancels, priorities."""
    layers = int(min(max(3.0 / per_layer, 20), 20000))
    slow = chain_model(layers, name="slow")
    with d.channel() as ch:
        st = pbg.SchedulerStub(ch)
        svc = Svc(ch)
        put_model(st, slow, "slow")
        note("slow model: %d layers, about %.1f s a run" % (
            layers, layers * per_layer))
        xs = np.random.default_rng(51).standard_normal((64, 512)) \
            .astype(np.float32)
        s1 = submit(st, "slow", [tensor("x", xs)], name="slow-1")
        s2 = submit(st, "slow", [tensor("x", xs)], name="slow-2")
        j = wait_job(st, s1.id, (pb.RUNNING,) + FINAL, 30)
        ok(j.state == pb.RUNNING and j.reason and j.started_unix_ms > 0 and
           j.attempts == 1,
           "slow job RUNNING with a reason", "%s %r" % (SN(j.state), j.reason))
        j2 = get_job(st, s2.id)
        ok(j2.state == pb.PENDING and j2.reason,
           "second slow job PENDING with a reason",
           "%s %r" % (SN(j2.state), j2.reason))
        x = np.random.default_rng(52).standard_normal((4, 8)).astype(np.float32)
        ref = CTX["small_ref"]

        # A full watch of a job that waits, runs and completes.
        w1 = submit(st, "small", [tensor("x", x)], name="watched")
        events, wend = [], {}

        def watcher():
            try:
                for e in st.WatchJob(pb.WatchJobRequest(job_id=w1.id),
                                     timeout=120):
                    events.append((e.event, e.job.state, e.job.reason))
                wend["code"] = C.OK
            except grpc.RpcError as e:
                wend["code"] = e.code()
                wend["det"] = e.details()
        wt = threading.Thread(target=watcher)
        wt.start()

        p1 = submit(st, "small", [tensor("x", x)], name="p1")
        expect_code(C.FAILED_PRECONDITION, "GetResult of a PENDING job -> "
                    "FAILED_PRECONDITION", lambda: list(st.GetResult(
                        pb.GetResultRequest(job_id=p1.id), timeout=10)))
        expect_code(C.FAILED_PRECONDITION, "GetResult of a RUNNING job -> "
                    "FAILED_PRECONDITION", lambda: list(st.GetResult(
                        pb.GetResultRequest(job_id=s1.id), timeout=10)))

        # WatchJob with a short grpc deadline: the snapshot, then
        # DEADLINE_EXCEEDED at the client; the daemon serves on.
        got = []
        try:
            for e in st.WatchJob(pb.WatchJobRequest(job_id=p1.id),
                                 timeout=1.0):
                got.append((e.event, SN(e.job.state)))
            code = C.OK
        except grpc.RpcError as e:
            code = e.code()
        ok(code == C.DEADLINE_EXCEEDED and got[:1] == [("snapshot",
                                                          "PENDING")],
           "WatchJob with a 1 s deadline: snapshot, then DEADLINE_EXCEEDED",
           "%s %s" % (code, got))
        ok(svc.check(HPB.HealthCheckRequest(), timeout=10).status == SERVING
           and get_job(st, p1.id).state == pb.PENDING,
           "after the deadline: the daemon serves on")
        # A unary call with a deadline too short to be met by anyone is
        # the client's business; one with a sane deadline works.
        code, _, det = code_of(st.ListJobs, pb.ListJobsRequest(limit=1),
                               timeout=5)
        ok(code == C.OK, "ListJobs with a 5 s deadline", det)

        # Client-side cancel of a WatchJob mid-way.
        p2 = submit(st, "small", [tensor("x", x)], name="p2")
        call = st.WatchJob(pb.WatchJobRequest(job_id=p2.id), timeout=60)
        first = next(call)
        call.cancel()
        try:
            next(call)
            rest = "more"
        except grpc.RpcError as e:
            rest = e.code()
        except StopIteration:
            rest = "end"
        ok(first.event == "snapshot" and rest == C.CANCELLED,
           "WatchJob cancelled by the client after the snapshot",
           "%s %s" % (first.event, rest))
        ok(svc.check(HPB.HealthCheckRequest(), timeout=10).status == SERVING,
           "after the client cancel: the daemon serves on")

        # CancelJob on a PENDING job.
        c1 = submit(st, "small", [tensor("x", x)], name="c1")
        code, cj, det = code_of(st.CancelJob, pb.CancelJobRequest(
            job_id=c1.id, reason="test says so"), timeout=10)
        ok(code == C.OK and cj.state == pb.CANCELLED and
           "test says so" in cj.error,
           "CancelJob of a PENDING job -> CANCELLED, the reason kept",
           "%s %s %s" % (code, det, cj))
        ok(get_job(st, c1.id).state == pb.CANCELLED,
           "GetJob after CancelJob: CANCELLED")
        expect_code(C.FAILED_PRECONDITION, "CancelJob again -> "
                    "FAILED_PRECONDITION", st.CancelJob,
                    pb.CancelJobRequest(job_id=c1.id), timeout=10)
        expect_code(C.FAILED_PRECONDITION, "GetResult of a CANCELLED job -> "
                    "FAILED_PRECONDITION", lambda: list(st.GetResult(
                        pb.GetResultRequest(job_id=c1.id), timeout=10)))

        # A job deadline that passes while it waits: EXPIRED, never run.
        e1 = submit(st, "small", [tensor("x", x)], name="e1", deadline_ms=200)
        ok(e1.deadline_unix_ms == e1.created_unix_ms + 200,
           "SubmitJob deadline_ms: deadline_unix_ms = created + 200",
           "%d %d" % (e1.deadline_unix_ms, e1.created_unix_ms))
        ej = wait_job(st, e1.id, FINAL, 30)
        blocked = get_job(st, s1.id).state == pb.RUNNING or \
            get_job(st, s2.id).state == pb.RUNNING
        ok(ej.state == pb.EXPIRED and ej.started_unix_ms == 0 and
           ej.attempts == 0,
           "a job whose deadline passes while PENDING -> EXPIRED, never "
           "started", "%s started %d, a slow job still running: %s" % (
               SN(ej.state), ej.started_unix_ms, blocked))
        expect_code(C.FAILED_PRECONDITION, "GetResult of an EXPIRED job -> "
                    "FAILED_PRECONDITION", lambda: list(st.GetResult(
                        pb.GetResultRequest(job_id=e1.id), timeout=10)))

        # Priorities: a high-priority job submitted last starts before
        # the waiting low-priority ones.
        lo = submit(st, "small", [tensor("x", x)], name="lo", priority=0)
        hi = submit(st, "small", [tensor("x", x)], name="hi", priority=7)

        # DeleteModel of a model a waiting job needs.
        expect_code(C.FAILED_PRECONDITION, "DeleteModel of a model a PENDING "
                    "job uses -> FAILED_PRECONDITION", st.DeleteModel,
                    pb.DeleteModelRequest(model="small"), timeout=10)

        # Cancel the slow job that runs now, and the other if it waits.
        running = [q for q in (s1, s2) if get_job(st, q.id).state ==
                   pb.RUNNING]
        if ok(len(running) == 1, "one slow job still RUNNING at cancel time",
              [SN(get_job(st, q.id).state) for q in (s1, s2)]):
            r = running[0]
            code, cj, det = code_of(st.CancelJob, pb.CancelJobRequest(
                job_id=r.id), timeout=10)
            ok(code == C.OK and cj.state == pb.CANCELLED,
               "CancelJob of a RUNNING job -> CANCELLED", "%s %s %s" % (
                   code, det, cj and SN(cj.state)))
            expect_code(C.FAILED_PRECONDITION, "GetResult of the cancelled "
                        "RUNNING job -> FAILED_PRECONDITION",
                        lambda: list(st.GetResult(pb.GetResultRequest(
                            job_id=r.id), timeout=10)))
            if r is s1 and get_job(st, s2.id).state == pb.PENDING:
                st.CancelJob(pb.CancelJobRequest(job_id=s2.id), timeout=10)
        # Everything behind runs now.
        for q, name in ((w1, "watched"), (p1, "p1"), (p2, "p2"), (lo, "lo"),
                        (hi, "hi")):
            jq = wait_job(st, q.id, FINAL, 120)
            if ok(jq.state == pb.COMPLETED, "queued job %s COMPLETED" % name,
                  "%s %s" % (SN(jq.state), jq.error)):
                if name in ("p1", "p2"):
                    o, _, pr = get_result(st, q.id)
                    g, w = close(o.get("y"), ref(x))
                    ok(g and not pr, "queued job %s: result matches numpy"
                       % name, w)
        jl, jh = get_job(st, lo.id), get_job(st, hi.id)
        jp1 = get_job(st, p1.id)
        ok(jh.started_unix_ms <= jl.started_unix_ms and
           jh.started_unix_ms <= jp1.started_unix_ms,
           "priority 7 submitted last starts no later than the priority-0 "
           "jobs waiting before it", "hi %d, lo %d, p1 %d" % (
               jh.started_unix_ms, jl.started_unix_ms, jp1.started_unix_ms))
        # The cancelled slow job stays CANCELLED once its run ends.
        wait_until(lambda: not st.ListJobs(pb.ListJobsRequest(
            states=[pb.RUNNING]), timeout=10).jobs, 60)
        time.sleep(0.2)
        fin = [SN(get_job(st, q.id).state) for q in (s1, s2)]
        ok(fin.count("CANCELLED") >= 1 and "RUNNING" not in fin and
           "PENDING" not in fin,
           "cancelled slow job still CANCELLED after its run ended", fin)
        wt.join(60)
        states = [s for _, s, _ in events]
        ok(wend.get("code") == C.OK and events and
           events[0][0] == "snapshot" and events[0][1] == pb.PENDING and
           pb.RUNNING in states and states[-1] == pb.COMPLETED and
           states == sorted(states) and states.count(pb.COMPLETED) == 1,
           "WatchJob of a queued job: snapshot PENDING, RUNNING, COMPLETED "
           "last, states in order, stream ends OK",
           "%s %s" % (wend, [(e, SN(s), r) for e, s, r in events]))
        ok(all(r for _, s, r in events if s in (pb.PENDING, pb.RUNNING)),
           "WatchJob: every non-final event carries a reason",
           [(SN(s), r) for _, s, r in events])
        code, evs, det = code_of(st.WatchJob, pb.WatchJobRequest(
            job_id=s1.id), timeout=10)
        ok(code == C.OK and len(evs) == 1 and evs[0].job.state in FINAL,
           "WatchJob of a cancelled job: one snapshot, stream ends",
           "%s %s" % (code, evs))
        ok(d.alive() and svc.check(HPB.HealthCheckRequest(),
                                   timeout=10).status == SERVING,
           "daemon serving after deadlines and cancels")


@group
def bad_clients(d):
    mode = os.stat(d.sock).st_mode & 0o777
    ok(mode == 0o660, "ApiSocket has mode 0660", oct(mode))
    with d.channel() as ch:
        for path in ("/lagrange.v1.Scheduler/Nope", "/no.such.Service/Call",
                     "/grpc.health.v1.Health/Nope"):
            fn = ch.unary_unary(path, request_serializer=lambda b: b,
                                response_deserializer=lambda b: b)
            expect_code(C.UNIMPLEMENTED, "unknown method %s -> UNIMPLEMENTED"
                        % path, fn, b"", timeout=10)
        # A second request message on a unary method.
        two = ch.stream_unary("/lagrange.v1.Scheduler/GetJob",
                              request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)
        code, _, det = code_of(two, iter([b"", b""]), timeout=10)
        ok(code not in (C.OK, C.DEADLINE_EXCEEDED, C.UNAVAILABLE),
           "two request messages on a unary method are refused",
           "%s %r" % (code.name, det))

    def raw(payload, what):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(15)
        s.connect(d.sock)
        s.sendall(payload)
        got, closed = b"", False
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    closed = True
                    break
                got += b
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            pass
        s.close()
        ok(closed, "%s: the daemon closes the connection" % what,
           "got %d bytes, no close in 15 s" % len(got))
        with d.channel() as ch2:
            code, r, det = code_of(Svc(ch2).check, HPB.HealthCheckRequest(),
                                   timeout=10)
            ok(code == C.OK and r.status == SERVING,
               "%s: a new client is served after" % what, det)
        return got

    raw(bytes(range(256)) * 8, "garbage bytes on the unix socket")
    got = raw(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
              "an HTTP/1.1 request on the unix socket")
    note("answer to HTTP/1.1: %r" % got[:60])
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    # A valid preface, then a frame claiming 16 MiB of payload.
    raw(preface + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" +
        b"\xff\xff\xff\x00\x00\x00\x00\x00\x01", "an oversized HTTP/2 frame")
    # A client that connects and leaves without a byte.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.sock)
    s.close()
    # Many connections at once, all answered.
    chans = [d.channel() for _ in range(20)]
    try:
        res = [code_of(Svc(c).check, HPB.HealthCheckRequest(), timeout=20)[0]
               for c in chans]
        ok(all(r == C.OK for r in res), "20 simultaneous connections served",
           res)
    finally:
        for c in chans:
            c.close()


@group
def tls_and_tokens(d, port, tokens):
    with open(os.path.join(TLS, "ca.crt"), "rb") as f:
        ca = f.read()
    creds = grpc.ssl_channel_credentials(root_certificates=ca)
    opts = CHOPTS + [("grpc.ssl_target_name_override", "gs")]
    target = "127.0.0.1:%d" % port
    good = [("authorization", "Bearer " + tokens[0])]
    with grpc.secure_channel(target, creds, options=opts) as ch:
        st = pbg.SchedulerStub(ch)
        svc = Svc(ch)
        code, r, det = code_of(svc.check, HPB.HealthCheckRequest(), timeout=20)
        tls_log = [l.strip() for l in d.grep("TLS")][-1:]
        if not ok(code == C.OK and r.status == SERVING,
                  "TLS: health Check without a token is SERVING",
                  "%s %s; the daemon logged: %s" % (code, det, tls_log)):
            if code == C.UNAVAILABLE:
                note("no TLS connection at all: the other TLS cases skipped")
                return
        code, rs, det = code_of(svc.refl, iter([RPB.ServerReflectionRequest(
            list_services="")]), timeout=20)
        ok(code == C.OK and len(rs) == 1, "TLS: reflection without a token",
           "%s %s" % (code, det))
        code, r, det = code_of(st.ListModels, pb.ListModelsRequest(),
                               timeout=20, metadata=good)
        ok(code == C.OK and CTX.get("small_id") in {m.id for m in r.models},
           "TLS: ListModels with a good token", "%s %s" % (code, det))
        code, r, det = code_of(st.ListJobs, pb.ListJobsRequest(limit=1),
                               timeout=20, metadata=[(
                                   "authorization", "Bearer " + tokens[1])])
        ok(code == C.OK, "TLS: the second token of the file (16 bytes) works",
           "%s %s" % (code, det))
        expect_code(C.UNAUTHENTICATED, "TLS: ListModels without a token -> "
                    "UNAUTHENTICATED", st.ListModels, pb.ListModelsRequest(),
                    timeout=20)
        expect_code(C.UNAUTHENTICATED, "TLS: a wrong token -> "
                    "UNAUTHENTICATED", st.ListModels, pb.ListModelsRequest(),
                    timeout=20, metadata=[("authorization",
                                           "Bearer " + "x" * 32)])
        expect_code(C.UNAUTHENTICATED, "TLS: a token prefix -> "
                    "UNAUTHENTICATED", st.ListModels, pb.ListModelsRequest(),
                    timeout=20, metadata=[("authorization",
                                           "Bearer " + tokens[0][:-1])])
        expect_code(C.UNAUTHENTICATED, "TLS: the token without 'Bearer ' -> "
                    "UNAUTHENTICATED", st.ListModels, pb.ListModelsRequest(),
                    timeout=20, metadata=[("authorization", tokens[0])])
        expect_code(C.UNAUTHENTICATED, "TLS: the comment line as a token -> "
                    "UNAUTHENTICATED", st.ListModels, pb.ListModelsRequest(),
                    timeout=20, metadata=[(
                        "authorization", "Bearer # comment line here ok")])
        expect_code(C.UNAUTHENTICATED, "TLS: SubmitJob without a token -> "
                    "UNAUTHENTICATED (and no job)", submit, st, "small",
                    [tensor("x", np.zeros((4, 8), np.float32))],
                    name="no-token")
        # A whole job over TLS: stream up, submit, watch, stream down.
        small, ref = CTX["small"], CTX["small_ref"]
        code, m, det = code_of(put_model, st, small, "small", chunk=100,
                               md=good)
        ok(code == C.OK and m.id == CTX["small_id"],
           "TLS: PutModel with a token", "%s %s" % (code, det))
        expect_code(C.UNAUTHENTICATED, "TLS: PutModel without a token -> "
                    "UNAUTHENTICATED", put_model, st, small, "small")
        x = np.random.default_rng(61).standard_normal((4, 8)).astype(np.float32)
        j = submit(st, "small", [tensor("x", x)], md=good, name="over-tls")
        evs = list(st.WatchJob(pb.WatchJobRequest(job_id=j.id), timeout=60,
                               metadata=good))
        ok(evs and evs[-1].job.state == pb.COMPLETED,
           "TLS: WatchJob to COMPLETED", [SN(e.job.state) for e in evs])
        o, _, pr = get_result(st, j.id, md=good)
        g, w = close(o.get("y"), ref(x))
        ok(g and not pr, "TLS: GetResult matches numpy", "%s %s" % (w, pr))
        with d.channel() as uch:
            lj = pbg.SchedulerStub(uch).ListJobs(pb.ListJobsRequest(),
                                                 timeout=10).jobs
            ok(not [q for q in lj if q.name == "no-token"] and
               [q.id for q in lj if q.name == "over-tls"] == [j.id],
               "the unix socket sees the TLS job, and no refused one",
               [q.name for q in lj if q.name in ("no-token", "over-tls")])
    # A client that trusts another CA must fail the handshake.
    with open(os.path.join(T, "other", "ca.crt"), "rb") as f:
        other = f.read()
    with grpc.secure_channel(target, grpc.ssl_channel_credentials(
            root_certificates=other), options=opts) as ch:
        expect_code(C.UNAVAILABLE, "TLS: a client trusting another CA cannot "
                    "connect", Svc(ch).check, HPB.HealthCheckRequest(),
                    timeout=10)
    # Plain HTTP/2 to the TLS port: refused, and the daemon serves on.
    with grpc.insecure_channel(target, options=CHOPTS) as ch:
        code, _, det = code_of(Svc(ch).check, HPB.HealthCheckRequest(),
                               timeout=10)
        ok(code != C.OK, "plaintext gRPC on the TLS port fails",
           "%s %s" % (code, det))
    # SIGHUP rereads ApiTokenFile.
    tf = os.path.join(T, "tokens")
    with open(tf, "w") as f:
        f.write("# rotated\n%s\n" % tokens[2])
    d.proc.send_signal(signal.SIGHUP)
    with grpc.secure_channel(target, creds, options=opts) as ch:
        st = pbg.SchedulerStub(ch)

        def new_ok():
            return code_of(st.ListModels, pb.ListModelsRequest(), timeout=10,
                           metadata=[("authorization",
                                      "Bearer " + tokens[2])])[0] == C.OK
        ok(wait_until(new_ok, 20, 0.1),
           "SIGHUP: a token added to ApiTokenFile is accepted")
        expect_code(C.UNAUTHENTICATED, "SIGHUP: a token removed from "
                    "ApiTokenFile is refused", st.ListModels,
                    pb.ListModelsRequest(), timeout=10, metadata=good)
        ok(d.alive(), "daemon alive after SIGHUP")


@group
def limits_and_health_watch(d):
    """ApiMaxMessage=64K; then health Watch across SIGTERM."""
    with d.channel() as ch:
        st = pbg.SchedulerStub(ch)
        svc = Svc(ch)
        small = CTX["small"]
        put_model(st, small, "small", chunk=1024)
        big = np.zeros((4, 6400), np.float32)      # 100 KiB
        expect_code(C.RESOURCE_EXHAUSTED, "a 100 KiB SubmitJob to a 64 KiB "
                    "ApiMaxMessage -> RESOURCE_EXHAUSTED", submit, st, "small",
                    [tensor("x", big)])
        code, _, det = code_of(put_model, st, small, "small-1chunk",
                               chunk=1 << 20)
        ok(code == C.OK, "a message under the limit is fine", det)
        wide = wide_model()
        code, _, det = code_of(put_model, st, wide, "wide", chunk=100 << 10)
        ok(code == C.RESOURCE_EXHAUSTED, "PutModel with 100 KiB chunks -> "
           "RESOURCE_EXHAUSTED", "%s %r" % (code.name, det))
        code, _, det = code_of(put_model, st, wide, "wide", chunk=32 << 10)
        ok(code == C.OK, "PutModel with 32 KiB chunks under a 64 KiB limit",
           "%s %r" % (code.name, det))
        ok(svc.check(HPB.HealthCheckRequest(), timeout=10).status == SERVING,
           "daemon serving after an oversized message")
        # A 128 KiB output with the default 1 MiB chunk: the answer must
        # come (smaller chunks, or RESOURCE_EXHAUSTED), never a hang.
        x = np.ones((1, 16), np.float32)
        j = wait_job(st, submit(st, "wide", [tensor("x", x)]).id)
        if ok(j.state == pb.COMPLETED, "wide job COMPLETED",
              "%s %s" % (SN(j.state), j.error)):
            try:
                chunks = list(st.GetResult(pb.GetResultRequest(job_id=j.id),
                                           timeout=5))
                code, det = C.OK, "%d chunks" % len(chunks)
            except grpc.RpcError as e:
                code, det = e.code(), e.details()
            ok(code in (C.OK, C.RESOURCE_EXHAUSTED),
               "GetResult with a chunk above ApiMaxMessage answers (smaller "
               "chunks or RESOURCE_EXHAUSTED) instead of hanging",
               "%s %r" % (code.name, det))
            code, _, det = code_of(get_result, st, j.id, chunk_size=16384)
            ok(code == C.OK, "GetResult with 16 KiB chunks under the limit",
               "%s %r" % (code.name, det))

        # A long job RUNNING and a small one waiting behind it, across the
        # SIGTERM below (its input through a blob: 128 KiB is above the
        # limit inline).
        lj = CTX.get("long")
        if lj:
            put_model(st, lj["model"], "long", chunk=32 << 10)
            xb = put_blob(st, npy_bytes(lj["x"]), chunk=32 << 10)
            l1 = submit(st, "long", [pb.Tensor(name="x", blob=xb.id)])
            xs = np.random.default_rng(71).standard_normal((4, 8)) \
                .astype(np.float32)
            l2 = submit(st, CTX["small_id"], [tensor("x", xs)])
            j = wait_job(st, l1.id, (pb.RUNNING,) + FINAL, 30)
            ok(j.state == pb.RUNNING, "long job RUNNING before SIGTERM",
               SN(j.state))
            time.sleep(0.3)     # its RUNNING record on disk
            jw = {}

            def jwatch():
                seen = []
                try:
                    for e in st.WatchJob(pb.WatchJobRequest(job_id=l2.id),
                                         timeout=60):
                        seen.append(SN(e.job.state))
                    jw["r"] = (seen, "OK")
                except grpc.RpcError as e:
                    jw["r"] = (seen, e.code().name)
            jt = threading.Thread(target=jwatch)
            jt.start()

        # Health Watch across SIGTERM: SERVING, then NOT_SERVING (or the
        # stream ends UNAVAILABLE), never SERVING again.
        w_all = svc.watch(HPB.HealthCheckRequest(service=""), timeout=60)
        w_sch = svc.watch(HPB.HealthCheckRequest(
            service="lagrange.v1.Scheduler"), timeout=60)
        f1, f2 = next(w_all), next(w_sch)
        ok(f1.status == SERVING and f2.status == SERVING,
           "health Watch: SERVING first", "%s %s" % (f1, f2))
        pend = {}

        def drain(name, call):
            seen = []
            try:
                for r in call:
                    seen.append(HPB.HealthCheckResponse.ServingStatus.Name(
                        r.status))
                pend[name] = (seen, "OK")
            except grpc.RpcError as e:
                pend[name] = (seen, e.code().name)
        ths = [threading.Thread(target=drain, args=(n, c))
               for n, c in (("", w_all), ("lagrange.v1.Scheduler", w_sch))]
        for t in ths:
            t.start()
        time.sleep(0.1)
        t_term = int(time.time() * 1000) + 1
        rc = d.term(60)
        for t in ths:
            t.join(30)
        for name in ("", "lagrange.v1.Scheduler"):
            seen, end = pend.get(name, ([], "no answer"))
            good = (seen[:1] == ["NOT_SERVING"] and "SERVING" not in seen) or \
                (not seen and end == "UNAVAILABLE")
            ok(good, "health Watch %r across SIGTERM: NOT_SERVING (or the "
               "stream ends UNAVAILABLE), never SERVING" % name,
               "after SERVING: %s, stream ended %s" % (seen, end))
        ok(rc == 0, "SIGTERM: lagranged exits 0", "%s: %s" % (rc, d.tail(3)))
        ok(not os.path.exists(d.sock), "SIGTERM: ApiSocket removed")
    if not lj:
        return
    jt.join(30)
    seen, end = jw.get("r", ([], "no answer"))
    ok(seen[:1] == ["PENDING"] and (end != "OK" or seen[-1:] == ["COMPLETED"]),
       "WatchJob open across SIGTERM: the snapshot, then the stream ends "
       "(not OK unless the job is final)", "%s, ended %s" % (seen, end))
    # Restart: the run cut short resumes, the waiting job runs.
    t_restart = int(time.time() * 1000)
    d.start()
    with d.channel() as ch:
        st = pbg.SchedulerStub(ch)
        j1 = wait_job(st, l1.id, FINAL, 120)
        j2 = wait_job(st, l2.id, FINAL, 120)
        # SIGTERM waits for a running inference: the job may complete
        # then (attempts 1, finished before the restart) or stay RUNNING
        # on disk and run again now (attempts 2).
        ok(j1.state == pb.COMPLETED and (
            (j1.attempts == 1 and j1.finished_unix_ms <= t_restart)
            or (j1.attempts == 2 and j1.finished_unix_ms > t_restart)),
           "after SIGTERM and restart: the long job that was RUNNING "
           "COMPLETED once (during the shutdown, or resumed after)",
           "%s attempts %d finished %d, SIGTERM at %d, restart at %d %s" % (
               SN(j1.state), j1.attempts, j1.finished_unix_ms, t_term,
               t_restart, j1.error))
        note("the job RUNNING at SIGTERM: attempts %d (%s)" % (
            j1.attempts, "finished during the shutdown" if j1.attempts == 1
            else "resumed after the restart"))
        ok(j2.state == pb.COMPLETED and j2.attempts == 1,
           "after SIGTERM and restart: the waiting job COMPLETED",
           "%s attempts %d" % (SN(j2.state), j2.attempts))
        if j1.state == pb.COMPLETED:
            o, _, pr = get_result(st, l1.id, chunk_size=32 << 10)
            g, w = close(o.get("y"), lj["ref"])
            ok(g and not pr, "after restart: the resumed job's result equals "
               "lagrange run's", "%s %s" % (w, pr))
    rc = d.term(60)
    ok(rc == 0, "daemon b exits 0 on its second SIGTERM", rc)


@group
def retention(d, per_layer):
    """JobRetention=5s: a finished job, its directory and an uploaded blob
    go by themselves. Also, on this idle daemon: WatchJob of a job that
    runs about 2 s reports the executor's progress as it goes."""
    data, ref = small_model(5)
    with d.channel() as ch:
        st = pbg.SchedulerStub(ch)
        layers = int(min(max(2.0 / per_layer, 20), 20000))
        put_model(st, chain_model(layers, name="prog"), "prog")
        xs = np.random.default_rng(56).standard_normal((64, 512)).astype(
            np.float32)
        pj = submit(st, "prog", [tensor("x", xs)])
        code, evs, det = code_of(st.WatchJob, pb.WatchJobRequest(
            job_id=pj.id), timeout=120)
        prog = [e.job.progress for e in evs or [] if e.event == "progress"]
        ok(code == C.OK and evs[-1].job.state == pb.COMPLETED and
           evs[-1].job.progress == 1.0 and len(prog) >= 1 and
           all(0 < p < 1 for p in prog) and prog == sorted(set(prog)) and
           all(e.job.state == pb.RUNNING for e in evs
               if e.event == "progress"),
           "WatchJob: progress events while RUNNING, increasing in (0, 1), "
           "then COMPLETED at 1", "%s %s %s" % (code, det, [
               (e.event, SN(e.job.state), round(e.job.progress, 3))
               for e in evs or []]))
        put_model(st, data, "ret")
        x = np.random.default_rng(55).standard_normal((4, 8)).astype(
            np.float32)
        blob = put_blob(st, npy_bytes(x))
        j = submit(st, "ret", [pb.Tensor(name="x", blob=blob.id)])
        j = wait_job(st, j.id)
        out, _, probs = get_result(st, j.id)
        ok(j.state == pb.COMPLETED and not probs and "y" in out and
           close(out["y"], ref(x)),
           "retention: the job completes from its blob first", SN(j.state))
        jdir = os.path.join(d.dir, "jobs", j.id)
        bpath = os.path.join(d.dir, "blobs", blob.id)
        ok(os.path.isdir(jdir) and os.path.exists(bpath),
           "retention: job directory and blob exist after completion")

        def gone():
            return code_of(st.GetJob, pb.GetJobRequest(job_id=j.id),
                           timeout=10)[0] == C.NOT_FOUND
        ok(wait_until(gone, 30, 0.2),
           "retention: GetJob says NOT_FOUND once JobRetention passed")
        ok(not os.path.exists(jdir), "retention: its directory is gone",
           jdir)
        ok(wait_until(lambda: not os.path.exists(bpath), 30, 0.2),
           "retention: the uploaded blob is gone", bpath)
        ok(d.grep("removed (JobRetention)"),
           "retention: the removal is logged")
        code, lst, _ = code_of(st.ListJobs, pb.ListJobsRequest(), timeout=10)
        ok(code == C.OK and all(x.id != j.id for x in lst.jobs),
           "retention: ListJobs no longer lists it")


def long_setup(per_layer):
    """A model that runs about a second, an input and its reference by
    `lagrange run`."""
    layers = int(min(max(1.0 / per_layer, 10), 2000))
    m = chain_model(layers, name="long")
    ldir = os.path.join(T, "long")
    os.makedirs(ldir, exist_ok=True)
    path = os.path.join(ldir, "long.onnx")
    with open(path, "wb") as f:
        f.write(m)
    x = np.random.default_rng(7000).standard_normal((64, 512)) \
        .astype(np.float32)
    refs, errs = cli_reference(path, {0: x}, ldir)
    if ok(not errs and 0 in refs, "lagrange run on the long model (%d "
          "layers)" % layers, errs):
        CTX["long"] = {"model": m, "x": x, "ref": refs[0]}


def cli_reference(model_path, inputs, outdir):
    """`lagrange run` on each input: the independent reference."""
    refs = {}
    errs = []
    lock = threading.Lock()
    items = list(inputs.items())

    def worker(part):
        for k, x in part:
            inp = os.path.join(outdir, "in%d.npy" % k)
            out = os.path.join(outdir, "out%d.npy" % k)
            np.save(inp, x)
            p = subprocess.run([LCLI, "run", model_path, "-i", "x=" + inp,
                                "-o", out], capture_output=True, text=True)
            with lock:
                if p.returncode != 0:
                    errs.append("%d: %s" % (k, p.stderr.strip()[:200]))
                else:
                    refs[k] = np.load(out)
    ths = [threading.Thread(target=worker, args=(items[i::2],))
           for i in range(2)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    return refs, errs


@group
def durability(per_layer):
    n = 50
    layers = int(min(max(0.08 / per_layer, 1), 400))
    mid = chain_model(layers, name="mid")
    mdir = os.path.join(T, "durab")
    os.makedirs(mdir, exist_ok=True)
    mpath = os.path.join(mdir, "mid.onnx")
    with open(mpath, "wb") as f:
        f.write(mid)
    inputs = {k: np.random.default_rng(5000 + k).standard_normal((64, 512))
              .astype(np.float32) for k in range(n)}
    refs, errs = cli_reference(mpath, inputs, mdir)
    if not ok(not errs and len(refs) == n,
              "lagrange run gives the %d references" % n, errs[:2]):
        return
    note("mid model: %d layers, about %.0f ms a job" % (
        layers, layers * per_layer * 1e3))
    dc = Daemon("c")
    dc.start()
    with dc.channel() as ch:
        st = pbg.SchedulerStub(ch)
        put_model(st, mid, "mid")
        xb = inputs[0]
        blob = put_blob(st, npy_bytes(xb))
        ids = {}
        for k in range(n):
            j = submit(st, "mid", [tensor("x", inputs[k])],
                       idempotency_key="dur-%d" % k, name="dur-%d" % k)
            ids[k] = j.id
        ok(len(set(ids.values())) == n, "%d submits, %d job ids" % (n, n),
           len(set(ids.values())))
        done_before = {}
        t_kill = [0]

        def half():
            lj = st.ListJobs(pb.ListJobsRequest(states=[pb.COMPLETED]),
                             timeout=10).jobs
            if len(lj) >= n // 2 - 5:
                done_before.update({q.id: q.finished_unix_ms for q in lj})
                return True
            return False
        wait_until(half, 120, 0.01)
    t_kill[0] = int(time.time() * 1000)
    dc.kill9()
    note("killed -9 with %d of %d COMPLETED in the last listing" % (
        len(done_before), n))
    ok(0 < len(done_before) < n, "kill -9 came mid-queue",
       "%d of %d were COMPLETED" % (len(done_before), n))
    dc.start()
    with dc.channel() as ch:
        st = pbg.SchedulerStub(ch)
        ok(any(m.name == "mid" for m in st.ListModels(
            pb.ListModelsRequest(), timeout=10).models),
           "after restart: the model is still there")
        j = submit(st, "mid", [tensor("x", inputs[3])],
                   idempotency_key="dur-3")
        ok(j.id == ids[3], "after restart: the same idempotency_key returns "
           "the job made before the kill", "%s vs %s" % (j.id, ids[3]))

        def all_final():
            lj = st.ListJobs(pb.ListJobsRequest(), timeout=10).jobs
            return all(q.state in FINAL for q in lj) and len(lj) >= n
        wait_until(all_final, 180, 0.05)
        lj = st.ListJobs(pb.ListJobsRequest(), timeout=10).jobs
        listed = [q.id for q in lj]
        ok(sorted(listed) == sorted(ids.values()),
           "after restart: ListJobs has each of the %d jobs exactly once" % n,
           "%d listed, %d distinct, missing %s, extra %s" % (
               len(listed), len(set(listed)),
               sorted(set(ids.values()) - set(listed))[:3],
               sorted(set(listed) - set(ids.values()))[:3]))
        states = {q.id: q for q in lj}
        notdone = [(q.id, SN(q.state)) for q in lj if q.state != pb.COMPLETED]
        ok(not notdone, "after restart: all %d COMPLETED" % n, notdone[:5])
        # A job COMPLETED in memory may still have its record write in
        # flight at the kill (it then runs again, by design): judge only
        # those finished a second or more before the kill.
        old = {i: f for i, f in done_before.items() if f < t_kill[0] - 1000}
        rerun = [i for i, f in old.items()
                 if i in states and (states[i].finished_unix_ms != f or
                                     states[i].attempts != 1)]
        if not old:
            note("no job finished a second before the kill: rerun not judged")
        ok(not rerun, "jobs COMPLETED well before the kill (%d) were not run "
           "again" % len(old), rerun[:3])
        resumed = [q for q in lj if q.attempts > 1]
        note("%d job(s) ran again after the restart (attempts > 1)" %
             len(resumed))
        bad, exact = [], 0
        for k, jid in ids.items():
            if states.get(jid) is None or states[jid].state != pb.COMPLETED:
                continue
            try:
                o, _, pr = get_result(st, jid)
            except grpc.RpcError as e:
                bad.append("%s: %s" % (jid, e.code()))
                continue
            y = o.get("y")
            if y is not None and np.array_equal(y, refs[k]):
                exact += 1
            g, w = close(y, refs[k])
            if not g or pr:
                bad.append("dur-%d %s: %s %s" % (k, jid, w, pr))
        ok(not bad, "after restart: every result equals lagrange run's on the "
           "same input", bad[:3])
        note("%d of %d results bit-identical to lagrange run's" % (exact, n))
        j = wait_job(st, submit(st, "mid", [pb.Tensor(name="x",
                                                      blob=blob.id)]).id)
        if ok(j.state == pb.COMPLETED, "after restart: a blob uploaded before "
              "the kill still feeds a job", "%s %s" % (SN(j.state), j.error)):
            o, _, _ = get_result(st, j.id)
            g, w = close(o.get("y"), refs[0])
            ok(g, "after restart: the blob job's result matches", w)
        lj = CTX.get("long")
        if lj:
            put_model(st, lj["model"], "long")
            l1 = submit(st, "long", [tensor("x", lj["x"])])
            j = wait_job(st, l1.id, (pb.RUNNING,) + FINAL, 30)
            time.sleep(0.3)     # its RUNNING record on disk
            was = SN(get_job(st, l1.id).state)
    if lj:
        dc.kill9()
        dc.start()
        with dc.channel() as ch:
            st = pbg.SchedulerStub(ch)
            j = wait_job(st, l1.id, FINAL, 120)
            ok(was == "RUNNING" and j.state == pb.COMPLETED,
               "kill -9 during a run: after restart the job runs again and "
               "COMPLETES", "at the kill %s; now %s %s" % (
                   was, SN(j.state), j.error))
            # api.proto: attempts = executor starts, "a restart adds one".
            ok(j.attempts == 2, "kill -9 during a run: attempts 2 (the cut "
               "run and the one after the restart)", "attempts %d" %
               j.attempts)
            if j.state == pb.COMPLETED:
                o, _, pr = get_result(st, l1.id)
                g, w = close(o.get("y"), lj["ref"])
                ok(g and not pr, "kill -9 during a run: the result equals "
                   "lagrange run's", "%s %s" % (w, pr))
            n_all = len(st.ListJobs(pb.ListJobsRequest(), timeout=10).jobs)
            ok(n_all == n + 2, "kill -9 during a run: no job added or lost",
               "%d jobs, want %d" % (n_all, n + 2))
    rc = dc.term(30)
    ok(rc == 0, "daemon c exits 0 on SIGTERM", "%s: %s" % (rc, dc.tail(3)))


def main():
    shutil.copy(os.path.join(SRC, "tests/daemon/conf/tiny.topo"),
                os.path.join(T, "tiny.topo"))
    tokens = ["tok-" + hashlib.sha256(b"one").hexdigest()[:28],
              "sixteen-bytes-ok", "tok-" + hashlib.sha256(b"three")
              .hexdigest()[:40]]
    assert len(tokens[1]) == 16
    with open(os.path.join(T, "tokens"), "w") as f:
        f.write("# comment line here ok\n%s\n\n%s\n" % (tokens[0], tokens[1]))
    os.chmod(os.path.join(T, "tokens"), 0o600)
    port = free_port()
    da = Daemon("a", ["TlsCert=%s/gs.crt" % TLS, "TlsKey=%s/gs.key" % TLS,
                      "TlsCA=%s/ca.crt" % TLS,
                      "ApiListen=127.0.0.1:%d" % port,
                      "ApiTokenFile=" + os.path.join(T, "tokens")])
    db = Daemon("b", ["ApiMaxMessage=64K"])
    t0 = time.monotonic()
    try:
        for d in (da, db):
            try:
                d.start()
            except RuntimeError as e:
                ok(False, "lagranged %s starts and serves health" % d.name, e)
                d.print_tail(15)
                print("1..%d" % NTEST)
                return 1
        health_and_reflection(da)
        models(da)
        jobs_basic(da)
        blobs_and_two(da)
        listings_and_plan(da)
        try:
            per = calibrate(da)
        except Exception as e:  # noqa: BLE001
            ok(False, "calibration run", repr(e))
            per = 0.01
        queueing(da, per)
        bad_clients(da)
        tls_and_tokens(da, port, tokens)
        try:
            long_setup(per)
        except Exception as e:  # noqa: BLE001
            ok(False, "the long model and its reference", repr(e))
        limits_and_health_watch(db)
        dr = Daemon("r", ["JobRetention=5s"])
        try:
            dr.start()
            retention(dr, per)
            ok(dr.term(30) == 0, "daemon r exits 0 on SIGTERM", dr.tail(3))
        except RuntimeError as e:
            ok(False, "lagranged r starts", e)
        durability(per)
        ok(da.alive(), "daemon a still running at the end", da.tail(3))
        rc = da.term(30) if da.alive() else "dead"
        ok(rc == 0, "daemon a exits 0 on SIGTERM", "%s: %s" % (rc, da.tail(3)))
        for d in DAEMONS:
            errs = d.grep("AddressSanitizer") + d.grep("runtime error") + \
                d.grep("LeakSanitizer")
            ok(not errs, "daemon %s's log has no sanitizer reports" % d.name,
               errs[:2])
    finally:
        for d in DAEMONS:
            if d.alive():
                d.kill9()
        write_pids()
    print("1..%d" % NTEST)
    note("%d passed, %d failed, %.1f s" % (NTEST - len(FAILED), len(FAILED),
                                           time.monotonic() - t0))
    if FAILED:
        for n, what, det in FAILED:
            note("FAILED %d - %s: %s" % (n, what, det))
        for d in DAEMONS:
            d.print_tail(15)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
