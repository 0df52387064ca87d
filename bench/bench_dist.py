#!/usr/bin/python3
"""bench_dist.py - the measuring half of bench/bench_dist.sh (which starts
and stops the daemons): distributed jobs timed with a real gRPC client
(python3-grpcio) on the controller's unix socket.

Usage:
  bench_dist.py gen CACHE_DIR BATCH LAYERS WIDTH
      make (once; kept in CACHE_DIR, outside git) the bench model
      mlp-BATCHxWIDTHxLAYERS.onnx: LAYERS x (Linear(WIDTH, WIDTH) + ReLU)
      then Linear(WIDTH, 1000), its input x[BATCH, WIDTH] and torch's
      output; prints the model's path.
  bench_dist.py overhead SOCK CTL NODES MODEL RUNS K LAGRANGE JSON
  bench_dist.py predict  SOCK TOPO_NAME PLACEMENTS MODEL K COLD JSON
  bench_dist.py throughput SOCK NODES MODEL RUNS N PIDS JSON
      (PIDS: NAME:PID,... of the daemons, for their CPU time per job)
  bench_dist.py summary JSON...
The gRPC stubs are generated (grpc_tools.protoc) into $BENCH_PY_WORK.
Every figure is a median over runs with its min and max; a job's times are
both the daemon's (finished_unix_ms - created_unix_ms: SubmitJob's
acceptance to COMPLETED as the controller records it, whole ms) and the
client's (perf_counter around SubmitJob -> WatchJob until final ->
GetResult). Every output is checked against torch's (allclose). Never
fails on a slow result; exits 1 on a wrong or failed job.
"""
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def med(v):
    return statistics.median(v) if v else float("nan")


def spread(v):
    """median, min, max of v."""
    return {"median": med(v), "min": min(v) if v else float("nan"),
            "max": max(v) if v else float("nan"), "n": len(v)}


def fmt(s, unit=1.0, prec=1):
    if not s["n"]:
        return "-"
    return "%.*f [%.*f-%.*f]" % (prec, s["median"] * unit, prec,
                                 s["min"] * unit, prec, s["max"] * unit)


# ---- gen ---------------------------------------------------------------------

def gen(cache, batch, layers, width):
    batch, layers, width = int(batch), int(layers), int(width)
    tag = "mlp-%dx%dx%d" % (batch, width, layers)
    path = os.path.join(cache, tag + ".onnx")
    if all(os.path.exists(os.path.join(cache, tag + s))
           for s in (".onnx", "-x.npy", "-y.npy")):
        print(path)
        return
    import torch
    import onnx
    os.makedirs(cache, exist_ok=True)
    torch.manual_seed(20261122)
    mods = []
    for _ in range(layers):
        mods += [torch.nn.Linear(width, width), torch.nn.ReLU()]
    mods.append(torch.nn.Linear(width, 1000))
    m = torch.nn.Sequential(*mods).eval()
    x = torch.randn(batch, width, generator=torch.Generator().manual_seed(7))
    tmp = path + ".tmp%d" % os.getpid()
    with torch.no_grad():
        torch.onnx.export(m, (x,), tmp, input_names=["x"],
                          output_names=["y"], opset_version=13,
                          do_constant_folding=True,
                          training=torch.onnx.TrainingMode.EVAL)
        np.save(os.path.join(cache, tag + "-x.npy"), x.numpy())
        np.save(os.path.join(cache, tag + "-y.npy"), m(x).numpy())
    onnx.checker.check_model(onnx.load(tmp))
    os.rename(tmp, path)
    print(path)


# ---- the client ----------------------------------------------------------------

pb = pbg = None


def stubs(sock):
    global pb, pbg
    import grpc
    work = os.environ["BENCH_PY_WORK"]
    if pb is None:
        if not os.path.exists(os.path.join(work, "lagrange/v1/api_pb2.py")):
            proto = os.environ["BENCH_PROTO"]
            subprocess.check_call([sys.executable, "-m", "grpc_tools.protoc",
                                   "-I", proto, "--python_out=" + work,
                                   "--grpc_python_out=" + work,
                                   os.path.join(proto,
                                                "lagrange/v1/api.proto")])
        sys.path.insert(0, work)
        from lagrange.v1 import api_pb2, api_pb2_grpc
        pb, pbg = api_pb2, api_pb2_grpc
    opts = [("grpc.max_receive_message_length", 256 << 20),
            ("grpc.max_send_message_length", 256 << 20)]
    return pbg.SchedulerStub(grpc.insecure_channel("unix:" + sock,
                                                   options=opts))


class Model:
    def __init__(self, st, path):
        base = path[:-len(".onnx")]
        self.path = path
        self.x = np.load(base + "-x.npy")
        self.y = np.load(base + "-y.npy")
        data = open(path, "rb").read()
        self.size = len(data)
        name = os.path.basename(base)
        chunks = [pb.PutModelRequest(header=pb.ModelHeader(
            name=name, size=len(data)))]
        for o in range(0, len(data), 1 << 20):
            chunks.append(pb.PutModelRequest(chunk=data[o:o + (1 << 20)]))
        self.id = st.PutModel(iter(chunks), timeout=120).id
        self.inputs = [pb.Tensor(name="x", dtype="float32",
                                 shape=list(self.x.shape),
                                 data=self.x.tobytes())]


def finished(pbjob):
    return pbjob.state >= pb.COMPLETED


def check_job(j, model, y):
    if j.state != pb.COMPLETED:
        raise SystemExit("bench_dist: job %s ended %s: %s" % (
            j.id, pb.JobState.Name(j.state), j.error))
    if y is not None:
        got = np.frombuffer(y, np.float32).reshape(model.y.shape)
        if not np.allclose(got, model.y, rtol=1e-4, atol=1e-5):
            raise SystemExit("bench_dist: job %s: wrong output, max |diff| "
                             "%.3g against torch" % (
                                 j.id, float(np.abs(got - model.y).max())))


def job_once(st, model, place):
    """One job, submit -> COMPLETED -> result. (client s, Job)."""
    t0 = time.perf_counter()
    j = st.SubmitJob(pb.SubmitJobRequest(model=model.id, inputs=model.inputs,
                                         placement=place), timeout=600)
    last = j
    for ev in st.WatchJob(pb.WatchJobRequest(job_id=j.id), timeout=600):
        last = ev.job
        if finished(ev.job):
            break
    y = b"".join(c.data for c in st.GetResult(
        pb.GetResultRequest(job_id=j.id), timeout=600))
    t1 = time.perf_counter()
    check_job(last, model, y)
    full = st.GetJob(pb.GetJobRequest(job_id=j.id), timeout=60)
    return t1 - t0, full


def daemon_s(j):
    return (j.finished_unix_ms - j.created_unix_ms) / 1e3


def plan_s(j):
    """Acceptance to the start: for a placed job the PREP phase (the
    model loaded, split and predicted, on the thread pool), for a local
    job the wait for the executor."""
    if not j.started_unix_ms:
        return 0.0
    return max(0, j.started_unix_ms - j.created_unix_ms) / 1e3


def run_cli(cli, model, repeat):
    out = subprocess.run([cli, "run", model.path, "-i", "x=" + os.path.join(
        os.environ["BENCH_PY_WORK"], "x.npy"), "--repeat", str(repeat),
        "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("bench_dist: lagrange run: " + out.stderr.strip())
    # the last JSON object on stdout
    txt = out.stdout.strip()
    return json.loads(txt[txt.index("{"):])


# ---- 1. overhead ------------------------------------------------------------------

def overhead(sock, ctl, nodes, mpath, runs, k, cli, jout):
    st = stubs(sock)
    model = Model(st, mpath)
    np.save(os.path.join(os.environ["BENCH_PY_WORK"], "x.npy"), model.x)
    runs, k = int(runs), int(k)
    dist = nodes.split(",")
    variants = [("local", []), ("one", [ctl]), ("dist", dist)]
    res = {"model_bytes": model.size, "nodes": dist, "controller": ctl,
           "runs": runs, "k": k, "cold": {}}
    # Cold: the first job of each kind. `local` prepares the executor;
    # `one` loads the model, cuts and hashes the (single) partition and
    # stores it in ModelDir; `dist` cuts four, stores them and ships each
    # to its node (about the model's size over loopback, fsynced into the
    # workers' spools, imported into their ModelDirs), and each worker
    # prepares its executor.
    for name, place in variants:
        c, j = job_once(st, model, place)
        res["cold"][name] = {"client_s": c, "daemon_s": daemon_s(j),
                             "predicted_s": j.predicted_s,
                             "plan_s": plan_s(j), "job": j.id,
                             "partitions": j.partitions,
                             "nodes": list(j.nodes)}
    # `lagrange run` once cold, for the reference of a whole process
    t0 = time.perf_counter()
    run_cli(cli, model, 1)
    res["cold"]["run_process_s"] = time.perf_counter() - t0
    per = {n: {"client": [], "daemon": [], "plan": []} for n, _ in variants}
    per["run"] = {"exec": [], "process": []}
    ratios = {"dist/run": [], "dist/one": [], "dist/local": [],
              "one/run": [], "local/run": [], "dist/run client": [],
              "dist/one client": []}
    print("%-4s %9s %9s %9s %9s %9s %9s %8s %8s" % (
        "run", "run ms", "local ms", "one ms", "dist ms", "dist cl",
        "dist pln", "d/run", "d/one"))
    for r in range(runs):
        order = ["run"] + [n for n, _ in variants]
        order = order[r % len(order):] + order[:r % len(order)]
        row = {}
        for name in order:
            if name == "run":
                t0 = time.perf_counter()
                rj = run_cli(cli, model, k)
                row["run"] = rj["median_ms"] / 1e3
                row["run_process"] = time.perf_counter() - t0
                per["run"]["exec"].append(row["run"])
                per["run"]["process"].append(row["run_process"])
                continue
            place = dict(variants)[name]
            cs, ds, ps = [], [], []
            for _ in range(k):
                c, j = job_once(st, model, place)
                if len(place) and j.partitions != len(place):
                    raise SystemExit("bench_dist: job %s has %d partitions, "
                                     "not %d" % (j.id, j.partitions,
                                                 len(place)))
                if name == "dist":
                    res["dist_predicted_s"] = j.predicted_s
                cs.append(c)
                ds.append(daemon_s(j))
                ps.append(plan_s(j))
            row[name] = (med(cs), med(ds), med(ps))
            per[name]["client"].append(med(cs))
            per[name]["daemon"].append(med(ds))
            per[name]["plan"].append(med(ps))
        d = row["dist"][1]
        ratios["dist/run"].append(d / row["run"])
        ratios["dist/one"].append(d / row["one"][1])
        ratios["dist/local"].append(d / row["local"][1])
        ratios["one/run"].append(row["one"][1] / row["run"])
        ratios["local/run"].append(row["local"][1] / row["run"])
        ratios["dist/run client"].append(row["dist"][0] / row["run"])
        ratios["dist/one client"].append(row["dist"][0] / row["one"][0])
        print("%-4d %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %8.2f %8.2f" % (
            r + 1, row["run"] * 1e3, row["local"][1] * 1e3,
            row["one"][1] * 1e3, d * 1e3, row["dist"][0] * 1e3,
            row["dist"][2] * 1e3, d / row["run"], d / row["one"][1]))
        sys.stdout.flush()
    res["warm"] = {n: {kk: spread(v) for kk, v in d.items()}
                   for n, d in per.items()}
    res["ratios"] = {n: spread(v) for n, v in ratios.items()}
    json.dump(res, open(jout, "w"), indent=1)


# ---- 2. prediction ------------------------------------------------------------------

def predict(sock, topo, placements, mpath, k, cold, jout):
    """Per placement (";"-separated, nodes ","-separated): a first job
    (cold when COLD is 1: partitions cut and shipped) then K warm ones."""
    st = stubs(sock)
    model = Model(st, mpath)
    k, first = int(k), "cold" if cold == "1" else "first"
    res = {"topology": topo, "placements": {}}
    print("%-14s %5s %9s %9s %9s %9s %9s %9s" % (
        "placement", "job", "measured", "exec", "predicted", "meas/pred",
        "rel err", "exec/pred"))

    def pct(m, p):
        return "%+.1f%%" % ((m - p) / p * 100) if p > 0 else "-"

    def rat(m, p):
        return "%.3f" % (m / p) if p > 0 else "-"

    for place in placements.split(";"):
        nodes = place.split(",")
        rows = []
        for i in range(k + 1):
            c, j = job_once(st, model, nodes)
            if j.partitions != len(nodes) or list(j.nodes) != nodes:
                raise SystemExit("bench_dist: job %s ran as %d partitions on "
                                 "%s, not %s" % (j.id, j.partitions,
                                                 list(j.nodes), nodes))
            m, p = daemon_s(j), j.predicted_s
            e = (j.finished_unix_ms - j.started_unix_ms) / 1e3
            rows.append({"measured_s": m, "exec_s": e, "client_s": c,
                         "predicted_s": p, "plan_s": plan_s(j), "job": j.id})
            print("%-14s %5s %9.3f %9.3f %9.3f %9s %9s %9s" % (
                place, first if i == 0 else i, m, e, p, rat(m, p), pct(m, p),
                rat(e, p)))
            sys.stdout.flush()
        warm = rows[1:]
        ratio = [w["measured_s"] / w["predicted_s"] for w in warm
                 if w["predicted_s"] > 0]
        eratio = [w["exec_s"] / w["predicted_s"] for w in warm
                  if w["predicted_s"] > 0]
        res["placements"][place] = {
            "first": rows[0], "first_is_cold": cold == "1",
            "measured_s": spread([w["measured_s"] for w in warm]),
            "exec_s": spread([w["exec_s"] for w in warm]),
            "predicted_s": spread([w["predicted_s"] for w in warm]),
            "plan_s": spread([w["plan_s"] for w in warm]),
            "gap_s": spread([w["measured_s"] - w["predicted_s"]
                             for w in warm]),
            "ratio": spread(ratio),
            "rel_err": spread([abs(x - 1) for x in ratio]),
            "exec_ratio": spread(eratio),
            "jobs": warm}
    json.dump(res, open(jout, "w"), indent=1)


# ---- 3. throughput -------------------------------------------------------------------

def batch(st, model, place, n):
    """n jobs submitted at once (one SubmitJob after another, no waiting),
    then waited for. (jobs/s by the client's clock, jobs/s by the
    daemon's, [Job])."""
    t0 = time.perf_counter()
    futs = [st.SubmitJob.future(pb.SubmitJobRequest(
        model=model.id, inputs=model.inputs, placement=place), timeout=600)
        for _ in range(n)]
    ids = [f.result().id for f in futs]
    done = {}
    while len(done) < n:
        for i in ids:
            if i in done:
                continue
            j = st.GetJob(pb.GetJobRequest(job_id=i), timeout=60)
            if finished(j):
                done[i] = j
        if len(done) < n:
            time.sleep(0.02)
    t1 = time.perf_counter()
    jobs = [done[i] for i in ids]
    for j in jobs:
        check_job(j, model, None)
    y = b"".join(c.data for c in st.GetResult(
        pb.GetResultRequest(job_id=ids[-1]), timeout=600))
    check_job(jobs[-1], model, y)
    span = (max(j.finished_unix_ms for j in jobs) -
            min(j.created_unix_ms for j in jobs)) / 1e3
    return n / (t1 - t0), n / span, jobs


def cpu_s(pid):
    """utime + stime of pid, s (from /proc)."""
    with open("/proc/%s/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def throughput(sock, nodes, mpath, runs, n, pids, jout):
    st = stubs(sock)
    model = Model(st, mpath)
    runs, n = int(runs), int(n)
    dist = nodes.split(",")
    variants = [("one node", []), ("pipeline", dist)]
    # warm both paths (executors prepared, partitions shipped)
    for _, place in variants:
        job_once(st, model, place)
    per = {v: {"client": [], "daemon": []} for v, _ in variants}
    pids = [p.split(":") for p in pids.split(",")]
    cpu = {v: {name: [] for name, _ in pids} for v, _ in variants}
    ratio = []
    print("%-4s %14s %14s %8s" % ("run", "one node j/s", "pipeline j/s",
                                  "ratio"))
    for r in range(runs):
        row = {}
        for name, place in (variants if r % 2 == 0 else variants[::-1]):
            c0 = {nm: cpu_s(p) for nm, p in pids}
            c, d, _ = batch(st, model, place, n)
            for nm, p in pids:
                cpu[name][nm].append((cpu_s(p) - c0[nm]) / n)
            row[name] = d
            per[name]["client"].append(c)
            per[name]["daemon"].append(d)
        ratio.append(row["pipeline"] / row["one node"])
        print("%-4d %14.2f %14.2f %8.2f" % (r + 1, row["one node"],
                                           row["pipeline"], ratio[-1]))
        sys.stdout.flush()
    res = {"n": n, "runs": runs, "nodes": dist,
           "jobs_per_s": {v: {kk: spread(x) for kk, x in d.items()}
                          for v, d in per.items()},
           "ratio": spread(ratio),
           "cpu_s_per_job": {v: {nm: spread(x) for nm, x in d.items()}
                             for v, d in cpu.items()}}
    json.dump(res, open(jout, "w"), indent=1)


# ---- summary -----------------------------------------------------------------------

def summary(files):
    res = {}
    for f in files:
        if os.path.exists(f):
            res[os.path.basename(f)[:-5]] = json.load(open(f))
    print("\n== bench_dist summary (median [min-max]) ==")
    o = res.get("overhead")
    if o:
        w, r = o["warm"], o["ratios"]
        print("\n1. overhead, %d runs x %d jobs, model %.1f MB, "
              "4 partitions on %s, controller %s" % (
                  o["runs"], o["k"], o["model_bytes"] / 1e6,
                  ",".join(o["nodes"]), o["controller"]))
        print("   %-34s %s" % ("lagrange run, executor ms",
                                fmt(w["run"]["exec"], 1e3)))
        print("   %-34s %s" % ("lagrange run, whole process ms",
                                fmt(w["run"]["process"], 1e3)))
        for name, what in (("local", "local job (no placement)"),
                           ("one", "1-partition job (--place ctl)"),
                           ("dist", "4-partition job")):
            print("   %-34s daemon %s  client %s  planning %s" % (
                what + " ms", fmt(w[name]["daemon"], 1e3),
                fmt(w[name]["client"], 1e3), fmt(w[name]["plan"], 1e3)))
        for name in ("dist/run", "dist/one", "dist/local", "one/run",
                     "local/run", "dist/run client", "dist/one client"):
            print("   %-34s %s%s" % ("ratio " + name, fmt(r[name], 1, 2),
                                     "   (goal <= 1.1)"
                                     if name == "dist/run" else ""))
        if o.get("dist_predicted_s"):
            pr = o["dist_predicted_s"]
            print("   %-34s %.1f ms: measured/predicted %.1f" % (
                "4-partition job predicted_s", pr * 1e3,
                w["dist"]["daemon"]["median"] / pr))
        c = o["cold"]
        print("   cold (first job) ms: local %.0f, one %.0f (planning %.0f),"
              " dist %.0f (planning %.0f)" % (
                  c["local"]["daemon_s"] * 1e3, c["one"]["daemon_s"] * 1e3,
                  c["one"]["plan_s"] * 1e3, c["dist"]["daemon_s"] * 1e3,
                  c["dist"]["plan_s"] * 1e3))
    for key in sorted(k for k in res if k.startswith("predict")):
        p = res[key]
        print("\n2. prediction, %s (warm jobs; measured = finished - "
              "created, s)" % p["topology"])
        for place, v in p["placements"].items():
            print("   %-12s measured %s  predicted %s  meas/pred %s  |err| "
                  "%s%%  gap %s s  (exec/pred %s)" % (
                      place, fmt(v["measured_s"], 1, 3),
                      fmt(v["predicted_s"], 1, 3), fmt(v["ratio"], 1, 2),
                      fmt(v["rel_err"], 100, 0), fmt(v["gap_s"], 1, 2),
                      fmt(v["exec_ratio"], 1, 2)))
            f = v["first"]
            if v.get("first_is_cold"):
                print("   %-12s cold job: measured %.3f s, predicted %.3f s"
                      % ("", f["measured_s"], f["predicted_s"]))
    t = res.get("throughput")
    if t:
        j = t["jobs_per_s"]
        print("\n3. throughput, %d runs x %d jobs submitted at once "
              "(jobs/s, daemon clock; client clock after)" % (
                  t["runs"], t["n"]))
        print("   %-26s %s   client %s" % ("one node (JobWorkers=1)",
                                           fmt(j["one node"]["daemon"], 1, 2),
                                           fmt(j["one node"]["client"], 1,
                                               2)))
        print("   %-26s %s   client %s" % ("pipeline " + ",".join(t["nodes"]),
                                           fmt(j["pipeline"]["daemon"], 1, 2),
                                           fmt(j["pipeline"]["client"], 1,
                                               2)))
        print("   %-26s %s" % ("ratio pipeline/one", fmt(t["ratio"], 1, 2)))
        for v, d in t.get("cpu_s_per_job", {}).items():
            print("   CPU ms per job, %-9s %s" % (v + ":", "  ".join(
                "%s %.0f" % (nm, x["median"] * 1e3) for nm, x in d.items())))


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "gen":
        gen(*a)
    elif cmd == "overhead":
        overhead(*a)
    elif cmd == "predict":
        predict(*a)
    elif cmd == "throughput":
        throughput(*a)
    elif cmd == "summary":
        summary(a)
    else:
        raise SystemExit("bench_dist.py: unknown command " + cmd)


if __name__ == "__main__":
    main()
