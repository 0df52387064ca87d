#!/usr/bin/python3
"""test_metrics.py - lagranged's /metrics against independent parsers.

Usage: test_metrics.py API_SOCKET METRICS_HOST:PORT PROTO_DIR

Runs two jobs through the gRPC API (python3-grpcio, stubs generated from
our .proto by grpc_tools.protoc), then scrapes /metrics in both formats:
OpenMetrics (Accept: application/openmetrics-text) is parsed by
prometheus_client's OpenMetrics parser, the 0.0.4 text format by its text
parser and by `promtool check metrics` (the prometheus package). The
values must say what happened: two jobs completed, two executor runs of
the model, a latency histogram of count 2 whose buckets never decrease.
Then the HTTP edge cases: 404, 405, 400, HEAD.
Prints TAP-like lines; exit 0 if all pass, 77 if a tool is missing.
"""
import http.client
import io
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import grpc
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    from prometheus_client.openmetrics.parser import \
        text_string_to_metric_families as om_parse
    from prometheus_client.parser import \
        text_string_to_metric_families as text_parse
except ImportError as e:
    print("skip: %s" % e)
    sys.exit(77)
if not shutil.which("promtool"):
    print("skip: promtool not found (apt-get install prometheus)")
    sys.exit(77)

sock, maddr, protodir = sys.argv[1:4]
host, port = maddr.rsplit(":", 1)
n_ok = n_bad = 0


def check(cond, what, detail=""):
    global n_ok, n_bad
    if cond:
        n_ok += 1
        print("ok %d - %s" % (n_ok + n_bad, what))
    else:
        n_bad += 1
        print("not ok %d - %s%s" % (n_ok + n_bad, what,
                                     ": " + str(detail) if detail else ""))


tmp = tempfile.mkdtemp(prefix="lgmetrics.")
subprocess.check_call([sys.executable, "-m", "grpc_tools.protoc",
                       "-I", protodir, "--python_out=" + tmp,
                       "--grpc_python_out=" + tmp,
                       os.path.join(protodir, "lagrange/v1/api.proto")])
sys.path.insert(0, tmp)
from lagrange.v1 import api_pb2 as pb, api_pb2_grpc as pbg  # noqa: E402

# A model nobody here wrote the reference of: numpy computes it.
rng = np.random.default_rng(7)
W = rng.standard_normal((8, 4)).astype(np.float32)
g = helper.make_graph(
    [helper.make_node("MatMul", ["x", "W"], ["y"])], "m",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
    [numpy_helper.from_array(W, "W")])
model = onnx.helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
data = model.SerializeToString()

st = pbg.SchedulerStub(grpc.insecure_channel("unix:" + sock))
m = st.PutModel(iter([pb.PutModelRequest(header=pb.ModelHeader(
    name="metrics-mm", size=len(data))), pb.PutModelRequest(chunk=data)]),
    timeout=30)
for i in range(2):
    x = rng.standard_normal((2, 8)).astype(np.float32)
    j = st.SubmitJob(pb.SubmitJobRequest(model="metrics-mm", inputs=[
        pb.Tensor(name="x", dtype="float32", shape=[2, 8],
                  data=x.tobytes())]), timeout=30)
    last = None
    for ev in st.WatchJob(pb.WatchJobRequest(job_id=j.id), timeout=60):
        last = ev.job.state
    check(last == pb.COMPLETED, "job %d completed" % i, last)
    y = b"".join(c.data for c in st.GetResult(
        pb.GetResultRequest(job_id=j.id), timeout=30))
    check(np.allclose(np.frombuffer(y, np.float32).reshape(2, 4), x @ W,
                      rtol=1e-5, atol=1e-6), "job %d result = numpy" % i)


def get(path, method="GET", accept=None, raw=None):
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    if raw is not None:
        c.connect()
        c.sock.sendall(raw)
        r = http.client.HTTPResponse(c.sock)
        r.begin()
    else:
        c.request(method, path, headers={"Accept": accept} if accept else {})
        r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, r.getheader("Content-Type", ""), body


status, ctype, om = get("/metrics",
                        accept="application/openmetrics-text; version=1.0.0")
check(status == 200 and ctype.startswith("application/openmetrics-text"),
      "OpenMetrics on request", (status, ctype))
check(om.endswith("# EOF\n"), "OpenMetrics ends with # EOF")
try:
    fams = {f.name: f for f in om_parse(om)}
    check(True, "prometheus_client's OpenMetrics parser accepts it")
except Exception as e:  # noqa: BLE001 - the parser's verdict is the test
    fams = {}
    check(False, "prometheus_client's OpenMetrics parser accepts it", e)


def sample(fams, fam, name, **labels):
    f = fams.get(fam)
    for s in (f.samples if f else []):
        if s.name == name and all(s.labels.get(k) == v
                                  for k, v in labels.items()):
            return s.value
    return None


check(sample(fams, "lagrange_jobs", "lagrange_jobs", state="completed") >= 2,
      "lagrange_jobs{state=completed} >= 2")
check(sample(fams, "lagrange_jobs_submitted", "lagrange_jobs_submitted_total")
      == 2, "lagrange_jobs_submitted_total == 2")
check(sample(fams, "lagrange_executor_runs", "lagrange_executor_runs_total",
             model="metrics-mm") == 2, "executor runs of the model == 2")
check((sample(fams, "lagrange_executor_seconds",
              "lagrange_executor_seconds_total", model="metrics-mm") or -1)
      >= 0, "executor seconds of the model present")
h = fams.get("lagrange_job_latency_seconds")
buckets = [s.value for s in (h.samples if h else [])
           if s.name.endswith("_bucket")]
check(h is not None and h.type == "histogram" and buckets and
      buckets == sorted(buckets) and buckets[-1] == 2,
      "latency histogram: cumulative, +Inf bucket == 2", buckets)
check(sample(fams, "lagrange_job_latency_seconds",
             "lagrange_job_latency_seconds_count") == 2,
      "latency histogram count == 2")
for fam in ("lagrange_spool_bundles", "lagrange_bundles_forwarded",
            "lagrange_bundles_expired", "lagrange_link_up",
            "lagrange_link_transmit_bytes", "lagrange_spool_bytes"):
    check(fam in fams, "family %s exported" % fam)

status, ctype, text = get("/metrics")
check(status == 200 and ctype.startswith("text/plain; version=0.0.4"),
      "text format by default", (status, ctype))
try:
    tf = {f.name: f for f in text_parse(text)}
    check(sample(tf, "lagrange_jobs_submitted",
                 "lagrange_jobs_submitted_total") == 2,
          "text parser reads the same submitted count")
except Exception as e:  # noqa: BLE001
    check(False, "prometheus_client's text parser accepts it", e)
p = subprocess.run(["promtool", "check", "metrics"], input=text,
                   capture_output=True, text=True)
check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
      "promtool check metrics: clean", (p.returncode, p.stdout, p.stderr))

check(get("/nope")[0] == 404, "404 for another path")
check(get("/metrics", method="POST")[0] == 405, "405 for POST")
status, _, body = get("/metrics", method="HEAD")
check(status == 200 and body == "", "HEAD: headers only")
check(get(None, raw=b"garbage\r\n\r\n")[0] == 400, "400 for a bad request")
check(get("/metrics")[0] == 200, "still serving after bad requests")

shutil.rmtree(tmp, ignore_errors=True)
print("%d passed, %d failed" % (n_ok, n_bad))
sys.exit(1 if n_bad else 0)
