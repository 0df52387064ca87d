#!/usr/bin/python3
"""bench_api.py - the gRPC API's cost, measured with a real gRPC client.

Usage: bench_api.py SOCKET PROTO_DIR LAGRANGE_CLI WORKDIR RUNS N CLIENTS PID

Latency: a trivial model (x[1,16] @ W[16,16] + b) is pushed once. Each run
then times, in the same run:
  run     `lagrange run MODEL -i x.npy --repeat N --json`: the executor's
          median per inference, in process (load excluded);
  api     N times SubmitJob -> WatchJob until COMPLETED -> GetResult, from
          python3-grpcio on the unix socket: the median round trip.
  floor   N times GetJob + WatchJob + GetResult of a job already
          COMPLETED (outputs in memory): what the three calls cost the
          client and the server without any job work.
added = api - run is what the API, the durable job record (fsyncs) and the
thread pool hop add to one inference; api - floor is the server's share
of it (job record, fsyncs, thread pool), the rest is the three calls.

Throughput: CLIENTS separate processes (no shared GIL), each with its own
channel, call GetJob (unary, a small answer) for 3 s; calls/s summed, for
1 .. CLIENTS processes, with the CPU the daemon used meanwhile (from
/proc/PID/stat: 100% = one core, its whole event loop).

Prints one table row per run and the medians; never fails on a slow
result.
"""
import json
import os
import statistics
import subprocess
import sys
import time

import grpc  # noqa: E402

if sys.argv[1] == "--hammer":
    # One client process of the throughput part: its own channel, no GIL
    # shared with the others.
    sock, work, job_id, secs = sys.argv[2:6]
    sys.path.insert(0, work)
    from lagrange.v1 import api_pb2 as pb, api_pb2_grpc as pbg
    c = pbg.SchedulerStub(grpc.insecure_channel("unix:" + sock))
    q = pb.GetJobRequest(job_id=job_id)
    c.GetJob(q, timeout=30)
    calls, end = 0, time.perf_counter() + float(secs)
    while time.perf_counter() < end:
        c.GetJob(q, timeout=30)
        calls += 1
    print(calls)
    sys.exit(0)

sock, protodir, cli, work, runs, n, clients, dpid = sys.argv[1:9]
runs, n, clients = int(runs), int(n), int(clients)


def cpu_s(pid):
    with open("/proc/%s/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import helper, numpy_helper, TensorProto  # noqa: E402

subprocess.check_call([sys.executable, "-m", "grpc_tools.protoc", "-I",
                       protodir, "--python_out=" + work,
                       "--grpc_python_out=" + work,
                       os.path.join(protodir, "lagrange/v1/api.proto")])
sys.path.insert(0, work)
from lagrange.v1 import api_pb2 as pb, api_pb2_grpc as pbg  # noqa: E402

rng = np.random.default_rng(3)
W = rng.standard_normal((16, 16)).astype(np.float32)
B = rng.standard_normal((16,)).astype(np.float32)
g = helper.make_graph(
    [helper.make_node("MatMul", ["x", "W"], ["h"]),
     helper.make_node("Add", ["h", "B"], ["y"])], "trivial",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
    [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")])
model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
mpath = os.path.join(work, "trivial.onnx")
onnx.save(model, mpath)
x = rng.standard_normal((1, 16)).astype(np.float32)
xpath = os.path.join(work, "x.npy")
np.save(xpath, x)

ch = grpc.insecure_channel("unix:" + sock)
st = pbg.SchedulerStub(ch)
data = open(mpath, "rb").read()
st.PutModel(iter([pb.PutModelRequest(header=pb.ModelHeader(
    name="trivial", size=len(data))), pb.PutModelRequest(chunk=data)]),
    timeout=30)
req = pb.SubmitJobRequest(model="trivial", inputs=[pb.Tensor(
    name="x", dtype="float32", shape=[1, 16], data=x.tobytes())])


def api_once():
    t0 = time.perf_counter()
    j = st.SubmitJob(req, timeout=30)
    for ev in st.WatchJob(pb.WatchJobRequest(job_id=j.id), timeout=30):
        if ev.job.state >= pb.COMPLETED:
            if ev.job.state != pb.COMPLETED:
                raise SystemExit("job %s ended %s" % (
                    j.id, pb.JobState.Name(ev.job.state)))
    y = b"".join(c.data for c in st.GetResult(
        pb.GetResultRequest(job_id=j.id), timeout=30))
    t1 = time.perf_counter()
    if not np.allclose(np.frombuffer(y, np.float32), (x @ W + B).ravel(),
                       rtol=1e-5, atol=1e-6):
        raise SystemExit("wrong result from job %s" % j.id)
    return t1 - t0, j.id


def floor_once(job_id):
    t0 = time.perf_counter()
    st.GetJob(pb.GetJobRequest(job_id=job_id), timeout=30)
    for _ in st.WatchJob(pb.WatchJobRequest(job_id=job_id), timeout=30):
        pass
    b"".join(c.data for c in st.GetResult(
        pb.GetResultRequest(job_id=job_id), timeout=30))
    return time.perf_counter() - t0


def run_once():
    out = subprocess.run([cli, "run", mpath, "-i", "x=" + xpath, "--repeat",
                          str(n), "--json"], capture_output=True, text=True,
                         check=True)
    r = json.loads(out.stdout)
    return r["median_ms"] / 1e3


_, warm = api_once()   # warm: the executor is prepared once and cached
print("%-4s %10s %10s %10s %10s %12s" % ("run", "run ms", "api ms",
                                         "floor ms", "added ms",
                                         "server ms"))
rows = []
for r in range(runs):
    t_run = run_once()
    t_api = statistics.median(api_once()[0] for _ in range(n))
    t_floor = statistics.median(floor_once(warm) for _ in range(n))
    rows.append((t_run, t_api, t_floor))
    print("%-4d %10.4f %10.3f %10.3f %10.3f %12.3f" % (
        r + 1, t_run * 1e3, t_api * 1e3, t_floor * 1e3,
        (t_api - t_run) * 1e3, (t_api - t_floor) * 1e3))
mr, ma, mf = (statistics.median(x[i] for x in rows) for i in range(3))
print("%-4s %10.4f %10.3f %10.3f %10.3f %12.3f   (goal: added <= 1 ms)" % (
    "med", mr * 1e3, ma * 1e3, mf * 1e3, (ma - mr) * 1e3, (ma - mf) * 1e3))

_, jid = api_once()
print("\nunary GetJob throughput, %s client processes, 3 s each:" % clients)
print("%-8s %12s %12s %14s" % ("clients", "calls/s", "per client",
                                "daemon CPU"))
k = 1
while k <= clients:
    c0 = cpu_s(dpid)
    ps = [subprocess.Popen([sys.executable, __file__, "--hammer", sock, work,
                            jid, "3"], stdout=subprocess.PIPE, text=True)
          for _ in range(k)]
    calls = sum(int(p.communicate()[0]) for p in ps)
    print("%-8d %12.0f %12.0f %13.0f%%" % (k, calls / 3.0, calls / 3.0 / k,
                                            (cpu_s(dpid) - c0) / 3.0 * 100))
    k *= 2
