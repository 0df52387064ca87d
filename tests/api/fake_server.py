#!/usr/bin/python3
"""fake_server.py - an in-memory lagrange.v1.Scheduler on grpcio, for
testing the CLI's gRPC client (cli/grpcc.c) against a gRPC implementation
we did not write. Not the daemon: no planner, no executor, no disk.

    fake_server.py SOCKET [--token T] [--tls CERT KEY --port-file F]
    fake_server.py SOCKET --raw MODE

Listens on unix:SOCKET (and, with --tls, on localhost:0 with TLS, writing
the port to F). Stubs are generated at start from proto/ into a temporary
directory with grpc_tools.protoc. Each call is logged on stderr as
"call METHOD ua=USER-AGENT timeout=SECONDS".

Behaviour, enough for the verbs and the tests:
  - models and blobs are stored in memory, their id the SHA-256 of the
    bytes, computed here and checked against the header's size and sha256;
    an upload above 12 MiB is refused on its header (RESOURCE_EXHAUSTED),
    before its bytes come;
  - a model has one input "input" -> output "output", or, when its name
    starts with "two", inputs "a", "b" -> outputs "a_out", "b_out"; each
    output is its input, unchanged (an echo);
  - a job runs PENDING -> PLANNED -> STAGING -> RUNNING -> COMPLETED in
    steps of 50 ms; model name "slow": stays PLANNED until cancelled;
    "fail": ends FAILED; "trunc": COMPLETED, but GetResult breaks off
    with DATA_LOSS after the first chunk;
  - GetJob of job id "jsleep" sleeps 5 s first (for deadlines);
  - --token T: every call needs "authorization: Bearer T".

--raw MODE is not gRPC at all but a hand-made HTTP/2 server (prior
knowledge, one connection at a time) that answers every request with
what grpcio never sends, to test the client's handling of it:
  http415     :status 415, text/plain
  html        :status 200, text/html and a body
  nostatus    :status 200, application/grpc, one empty message, no trailers
  huge        a message length prefix of 2 GiB
  compressed  a message with the compressed flag set
  message     Trailers-Only NOT_FOUND with a percent-encoded UTF-8
              grpc-message ("no job \u2713 100%")
"""
import argparse
import hashlib
import io
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc
import numpy as np

MAX_UPLOAD = 12 << 20    # uploads above: RESOURCE_EXHAUSTED on the header
SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def load_stubs():
    d = tempfile.mkdtemp(prefix="lg-fake-")
    proto = os.path.join(SRC, "proto")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", proto,
                    "--python_out=" + d, "--grpc_python_out=" + d,
                    os.path.join(proto, "lagrange/v1/api.proto")],
                   check=True)
    sys.path.insert(0, d)
    from lagrange.v1 import api_pb2, api_pb2_grpc
    return d, api_pb2, api_pb2_grpc


STUB_DIR, pb, pbg = load_stubs()
S = pb.JobState
FINAL = (S.Value("COMPLETED"), S.Value("FAILED"), S.Value("CANCELLED"),
         S.Value("EXPIRED"))


def now_ms():
    return int(time.time() * 1000)


def log(context, method):
    md = dict(context.invocation_metadata())
    rem = context.time_remaining()
    print("call %s ua=%s timeout=%s" % (
        method, md.get("user-agent", "-"),
        "none" if rem is None or rem > 1e9 else "%.1f" % rem),
        file=sys.stderr, flush=True)


def read_upload(it, context, kind):
    """Header then chunks; returns (header, bytes)."""
    first = next(it, None)
    if first is None or first.WhichOneof("part") != "header":
        context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      "the first %s message must be the header" % kind)
    h = first.header
    if h.size > MAX_UPLOAD:
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                      "%s of %d bytes is above the limit of %d" % (
                          kind, h.size, MAX_UPLOAD))
    buf = bytearray()
    for m in it:
        if m.WhichOneof("part") != "chunk":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "a second header in %s" % kind)
        buf += m.chunk
        if len(buf) > h.size:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "%s: more than the %d bytes announced" % (kind,
                                                                    h.size))
    if len(buf) != h.size:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      "%s: %d bytes announced, %d came" % (kind, h.size,
                                                            len(buf)))
    sha = hashlib.sha256(buf).hexdigest()
    if h.sha256 and h.sha256 != sha:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                      "%s: sha256 %s announced, the bytes have %s" % (
                          kind, h.sha256, sha))
    return h, bytes(buf), sha


class Fake(pbg.SchedulerServicer):
    def __init__(self):
        self.lock = threading.Condition()
        self.models = {}        # id -> Model
        self.blobs = {}         # id -> bytes
        self.jobs = {}          # id -> Job
        self.results = {}       # id -> [(name, dtype, shape, bytes)]
        self.keys = {}          # idempotency key -> job id

    # ---- models and blobs --------------------------------------------------
    def PutModel(self, it, context):
        log(context, "PutModel")
        h, data, sha = read_upload(it, context, "PutModel")
        ins = ["a", "b"] if h.name.startswith("two") else ["input"]
        outs = [n + "_out" for n in ins] if len(ins) > 1 else ["output"]
        with self.lock:
            m = self.models.get(sha)
            if m is None:
                m = pb.Model(id=sha, size=len(data), created_unix_ms=now_ms(),
                             nodes=len(data) % 97, gflops=1.5)
                for n in ins:
                    m.inputs.add(name=n, dtype="float32", shape=[-1])
                for n in outs:
                    m.outputs.add(name=n, dtype="float32", shape=[-1])
                self.models[sha] = m
            m.name = h.name
            return m

    def resolve_model(self, ref, context):
        with self.lock:
            if ref in self.models:
                return self.models[ref]
            by_name = [m for m in self.models.values() if m.name == ref]
            if by_name:
                return by_name[-1]
            if len(ref) >= 8:
                hits = [m for i, m in self.models.items() if i.startswith(ref)]
                if len(hits) == 1:
                    return hits[0]
        context.abort(grpc.StatusCode.NOT_FOUND, "no model '%s'" % ref)

    def ListModels(self, req, context):
        log(context, "ListModels")
        with self.lock:
            return pb.ListModelsResponse(models=list(self.models.values()))

    def DeleteModel(self, req, context):
        log(context, "DeleteModel")
        m = self.resolve_model(req.model, context)
        with self.lock:
            self.models.pop(m.id, None)
        return pb.DeleteModelResponse(id=m.id)

    def PutBlob(self, it, context):
        log(context, "PutBlob")
        h, data, sha = read_upload(it, context, "PutBlob")
        with self.lock:
            self.blobs[sha] = data
        return pb.Blob(id=sha, size=len(data))

    # ---- jobs --------------------------------------------------------------
    def SubmitJob(self, req, context):
        log(context, "SubmitJob")
        m = self.resolve_model(req.model, context)
        if req.priority > 7:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "priority %d is above 7" % req.priority)
        with self.lock:
            if req.idempotency_key and req.idempotency_key in self.keys:
                return self.jobs[self.keys[req.idempotency_key]]
        names = [i.name for i in m.inputs]
        outs = []
        for t in req.inputs:
            name = t.name
            if not name:
                if len(names) != 1:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                  "model %s has %d inputs: name each" % (
                                      m.name, len(names)))
                name = names[0]
            if name not in names:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              "model %s has no input '%s' (inputs: %s)" % (
                                  m.name, name, ", ".join(names)))
            if t.blob:
                with self.lock:
                    data = self.blobs.get(t.blob)
                if data is None:
                    context.abort(grpc.StatusCode.NOT_FOUND,
                                  "no blob %s" % t.blob)
                a = np.load(io.BytesIO(data), allow_pickle=False)
                dtype, shape, raw = str(a.dtype), list(a.shape), a.tobytes()
            else:
                try:
                    want = int(np.prod(t.shape, dtype=np.int64)) * \
                        np.dtype(t.dtype).itemsize
                except TypeError:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                  "input %s: unknown dtype '%s'" % (name,
                                                                    t.dtype))
                if want != len(t.data):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                  "input %s: %d bytes for %s%s" % (
                                      name, len(t.data), t.dtype,
                                      list(t.shape)))
                dtype, shape, raw = t.dtype, list(t.shape), t.data
            out = name + "_out" if len(names) > 1 else "output"
            outs.append((out, dtype, shape, raw))
        jid = "j" + secrets.token_hex(6)
        t0 = now_ms()
        j = pb.Job(id=jid, model=m.id, model_name=m.name,
                   state=S.Value("PENDING"), reason="WaitingPlan",
                   created_unix_ms=t0, updated_unix_ms=t0,
                   priority=req.priority, objective=req.objective,
                   idempotency_key=req.idempotency_key, name=req.name,
                   deadline_unix_ms=t0 + req.deadline_ms if req.deadline_ms
                   else 0)
        with self.lock:
            self.jobs[jid] = j
            self.results[jid] = outs
            if req.idempotency_key:
                self.keys[req.idempotency_key] = jid
        threading.Thread(target=self.drive, args=(jid, m.name),
                         daemon=True).start()
        return j

    def update(self, jid, **kw):
        with self.lock:
            j = self.jobs[jid]
            if j.state in FINAL:
                return False
            for k, v in kw.items():
                if k == "nodes":
                    del j.nodes[:]
                    j.nodes.extend(v)
                elif k == "outputs":
                    del j.outputs[:]
                    j.outputs.extend(v)
                else:
                    setattr(j, k, v)
            j.updated_unix_ms = now_ms()
            self.lock.notify_all()
            return True

    def drive(self, jid, model):
        steps = [dict(state=S.Value("PLANNED"),
                      reason="WaitingContact(leo-gpu-1, 41s)",
                      nodes=["gs-mad", "leo-gpu-1"])]
        if model == "slow":
            time.sleep(0.05)
            self.update(jid, **steps[0])
            return
        steps += [dict(state=S.Value("STAGING"), reason="Staging(weights 1/1)"),
                  dict(state=S.Value("RUNNING"), reason="", progress=0.5,
                       started_unix_ms=now_ms(), attempts=1)]
        if model == "fail":
            steps.append(dict(state=S.Value("FAILED"), reason="",
                              error="executor: out of memory on leo-gpu-1",
                              finished_unix_ms=now_ms()))
        else:
            outs = [pb.TensorInfo(name=n, dtype=d, shape=s)
                    for n, d, s, _ in self.results[jid]]
            steps.append(dict(state=S.Value("COMPLETED"), reason="",
                              progress=1.0, finished_unix_ms=now_ms(),
                              outputs=outs))
        for st in steps:
            time.sleep(0.05)
            if not self.update(jid, **st):
                return

    def job(self, jid, context):
        with self.lock:
            j = self.jobs.get(jid)
            if j is not None:
                c = pb.Job()
                c.CopyFrom(j)
                return c
        context.abort(grpc.StatusCode.NOT_FOUND, "no job '%s'" % jid)

    def GetJob(self, req, context):
        log(context, "GetJob")
        if req.job_id == "jsleep":
            time.sleep(5)
        return self.job(req.job_id, context)

    def ListJobs(self, req, context):
        log(context, "ListJobs")
        with self.lock:
            js = sorted(self.jobs.values(), key=lambda j: j.created_unix_ms)
            if req.states:
                js = [j for j in js if j.state in req.states]
            if req.limit:
                js = js[-req.limit:]   # the most recent, as lagranged
            return pb.ListJobsResponse(jobs=js)

    def WatchJob(self, req, context):
        log(context, "WatchJob")
        j = self.job(req.job_id, context)
        yield pb.JobEvent(job=j, event="snapshot")
        last = j
        while last.state not in FINAL and context.is_active():
            with self.lock:
                self.lock.wait_for(
                    lambda: self.jobs[req.job_id].updated_unix_ms !=
                    last.updated_unix_ms or
                    self.jobs[req.job_id].state != last.state, timeout=0.5)
            j = self.job(req.job_id, context)
            if j == last:
                continue
            ev = "state" if j.state != last.state else "progress"
            last = j
            yield pb.JobEvent(job=j, event=ev)

    def CancelJob(self, req, context):
        log(context, "CancelJob")
        j = self.job(req.job_id, context)
        if j.state in FINAL:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          "job %s already ended %s" % (
                              j.id, S.Name(j.state)))
        self.update(req.job_id, state=S.Value("CANCELLED"), reason="",
                    error=req.reason or "cancelled by user",
                    finished_unix_ms=now_ms())
        return self.job(req.job_id, context)

    def GetResult(self, req, context):
        log(context, "GetResult")
        j = self.job(req.job_id, context)
        if j.state != S.Value("COMPLETED"):
            context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                          "job %s is %s: no result" % (j.id,
                                                       S.Name(j.state)))
        size = req.chunk_size or (1 << 20)
        if size > (4 << 20):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "chunk_size above 4 MiB")
        outs = self.results[j.id]
        if req.output:
            outs = [o for o in outs if o[0] == req.output]
            if not outs:
                context.abort(grpc.StatusCode.NOT_FOUND,
                              "job %s has no output '%s'" % (j.id,
                                                             req.output))
        sent = 0
        for name, dtype, shape, raw in outs:
            off = 0
            while True:
                piece = raw[off:off + size]
                first = off == 0
                c = pb.ResultChunk(name=name, offset=off, data=piece,
                                   last=off + len(piece) >= len(raw))
                if first:
                    c.dtype, c.size = dtype, len(raw)
                    c.shape.extend(shape)
                yield c
                sent += 1
                if j.model_name == "trunc" and sent == 1:
                    context.abort(grpc.StatusCode.DATA_LOSS,
                                  "spool entry of %s damaged" % name)
                off += len(piece)
                if off >= len(raw):
                    break

    # ---- the constellation -------------------------------------------------
    def ListNodes(self, req, context):
        log(context, "ListNodes")
        r = pb.ListNodesResponse()
        r.nodes.add(name="gs-mad", kind="ground", self=True, up=True,
                    gflops=50000, power_w=5000)
        for i in (1, 2, 3):
            r.nodes.add(name="leo-gpu-%d" % i, kind="leo", up=i != 3,
                        gflops=30000, power_w=1000)
        r.nodes.add(name="geo-relay", kind="geo", up=True)
        r.nodes.add(name="luna-1", kind="lunar", gflops=8000, power_w=400)
        return r

    def ListLinks(self, req, context):
        log(context, "ListLinks")
        return pb.ListLinksResponse()


class Auth(grpc.ServerInterceptor):
    def __init__(self, token):
        self.want = "Bearer " + token

    def intercept_service(self, continuation, hcd):
        h = continuation(hcd)
        if h is None or dict(hcd.invocation_metadata).get(
                "authorization") == self.want:
            return h

        def deny(_req, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          "missing or wrong bearer token")
        if h.request_streaming and h.response_streaming:
            return grpc.stream_stream_rpc_method_handler(deny)
        if h.request_streaming:
            return grpc.stream_unary_rpc_method_handler(deny)
        if h.response_streaming:
            return grpc.unary_stream_rpc_method_handler(deny)
        return grpc.unary_unary_rpc_method_handler(deny)


# ---- --raw: hand-made HTTP/2 answers ---------------------------------------

def h2_frame(ftype, flags, stream, payload):
    return (len(payload).to_bytes(3, "big") + bytes([ftype, flags]) +
            stream.to_bytes(4, "big") + payload)


def hpack(headers):
    """Literal header fields without indexing, new names, no Huffman."""
    out = b""
    for name, value in headers:
        n, v = name.encode(), value.encode()
        assert len(n) < 127 and len(v) < 127
        out += b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v
    return out


RAW = {
    "http415": ([(":status", "415"), ("content-type", "text/plain")],
                None, None),
    "html": ([(":status", "200"), ("content-type", "text/html")],
             b"<html>not grpc</html>", None),
    "nostatus": ([(":status", "200"), ("content-type", "application/grpc")],
                 b"\x00\x00\x00\x00\x00", None),
    "huge": ([(":status", "200"), ("content-type", "application/grpc")],
             b"\x00\x80\x00\x00\x00" + b"x" * 100, [("grpc-status", "0")]),
    "compressed": ([(":status", "200"), ("content-type", "application/grpc")],
                   b"\x01\x00\x00\x00\x02ab", [("grpc-status", "0")]),
    "message": ([(":status", "200"), ("content-type", "application/grpc"),
                 ("grpc-status", "5"),
                 ("grpc-message", "no%20job%20%E2%9C%93%20100%25")],
                None, None),
}


def serve_raw(path, mode):
    import socket
    heads, body, trailers = RAW[mode]
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen(8)
    print("ready", file=sys.stderr, flush=True)
    while True:
        c, _ = s.accept()
        c.settimeout(5)
        buf = b""
        try:
            # the preface, then frames until the request's HEADERS (type 1)
            while True:
                d = c.recv(65536)
                if not d:
                    break
                buf += d
                i, got = 24, False
                while i + 9 <= len(buf):
                    n = int.from_bytes(buf[i:i + 3], "big")
                    if buf[i + 3] == 1:
                        got = True
                    i += 9 + n
                if got:
                    break
            out = h2_frame(4, 0, 0, b"") + h2_frame(4, 1, 0, b"")
            end = 0x1 if body is None and trailers is None else 0
            out += h2_frame(1, 0x4 | end, 1, hpack(heads))
            if body is not None:
                out += h2_frame(0, 0 if trailers else 1, 1, body)
            if trailers:
                out += h2_frame(1, 0x5, 1, hpack(trailers))
            c.sendall(out)
            while c.recv(65536):
                pass
        except OSError:
            pass
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("--raw", choices=sorted(RAW))
    ap.add_argument("--token")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--port-file")
    a = ap.parse_args()
    if a.raw:
        serve_raw(a.socket, a.raw)
        return
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32),
                         interceptors=[Auth(a.token)] if a.token else [])
    pbg.add_SchedulerServicer_to_server(Fake(), server)
    server.add_insecure_port("unix:" + a.socket)
    if a.tls:
        with open(a.tls[0], "rb") as f:
            cert = f.read()
        with open(a.tls[1], "rb") as f:
            key = f.read()
        port = server.add_secure_port(
            "localhost:0", grpc.ssl_server_credentials([(key, cert)]))
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(a.port_file + ".tmp", a.port_file)
    server.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print("ready", file=sys.stderr, flush=True)
    done.wait()
    server.stop(0)
    shutil.rmtree(STUB_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
