#!/usr/bin/python3
"""gen_taskmsg_corpus.py - write the seeds of tests/fuzz/fuzz_taskmsg.c.

Run from the repository root with Debian's /usr/bin/python3 (its protobuf
runtime encodes the messages, independently of protobuf-c):
    protoc-c -Iproto -o /tmp/wire.desc proto/lagrange/v1/wire.proto
    /usr/bin/python3 tests/fuzz/gen_taskmsg_corpus.py /tmp/wire.desc \\
        tests/fuzz/corpus_taskmsg

Each seed is one selector byte (modulo 5: 0 Task, 1 TaskStatus, 2 JobEnd,
3 PartitionStored, 4 TaskResend) and then the message as a CONTROL bundle
carries it. The nodes are those of the fuzzer's built-in topology (gs-a,
geo, moon, gs-b). Every seed but the bad_* ones is valid.
"""
import os
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def load(desc_path):
    with open(desc_path, "rb") as f:
        fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    out = {}
    for name in ("Task", "TaskStatus", "JobEnd", "PartitionStored",
                 "TaskResend"):
        d = pool.FindMessageTypeByName("lagrange.v1." + name)
        if hasattr(message_factory, "GetMessageClass"):
            out[name] = message_factory.GetMessageClass(d)
        else:
            out[name] = factory.GetPrototype(d)
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen_taskmsg_corpus.py WIRE.DESC OUTDIR")
    m = load(sys.argv[1])
    outdir = sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    seeds = {}

    t = m["Task"](job="j0123456789ab", epoch=1, part=1, n_parts=3,
                  controller="gs-a", partition_sha256=SHA,
                  partition_size=123456, priority=3,
                  deadline_unix_ms=1700000000000, partition_follows=True,
                  node="geo")
    t.inputs.extend(["/layer1/Relu_output_0", "x"])
    o = t.outputs.add()
    o.name = "/layer2/Gemm_output_0"
    o.dst.extend(["moon", "gs-b"])
    o = t.outputs.add()
    o.name = "aux"
    o.dst.append("gs-a")
    seeds["task"] = (0, t)
    t2 = m["Task"](job="j1", epoch=7, part=0, n_parts=1, controller="moon",
                   partition_sha256=SHA, node="moon")
    seeds["task_minimal"] = (0, t2)
    bad = m["Task"]()
    bad.CopyFrom(t)
    bad.part = 3
    seeds["bad_task_part"] = (0, bad)

    for state, detail in ((1, "WaitingPower(geo: soc 0.21, needs 0.30)"),
                          (3, ""), (4, "input 'x': short read"), (5, "")):
        st = m["TaskStatus"](job="j0123456789ab", epoch=2, part=63,
                             node="gs-b", state=state, detail=detail,
                             exec_s=0.125 if state == 3 else 0.0)
        seeds["status_%d" % state] = (1, st)

    seeds["end"] = (2, m["JobEnd"](job="j0123456789ab", epoch=0,
                                   why="COMPLETED"))
    seeds["end_replanned"] = (2, m["JobEnd"](job="j0123456789ab", epoch=4,
                                             why="re-planned"))
    seeds["stored"] = (3, m["PartitionStored"](sha256=SHA, node="geo"))

    r = m["TaskResend"](job="j0123456789ab", epoch=3, from_epoch=2, part=1,
                        n_parts=3, controller="gs-a", priority=5)
    o = r.outputs.add()
    o.name = "/layer2/Gemm_output_0"
    o.dst.extend(["moon", "gs-b"])
    o = r.outputs.add()
    o.name = "aux"
    o.dst.append("gs-a")
    seeds["resend"] = (4, r)
    seeds["resend_minimal"] = (4, m["TaskResend"](
        job="j1", epoch=2, from_epoch=1, part=0, n_parts=1,
        controller="moon"))
    bad = m["TaskResend"]()
    bad.CopyFrom(r)
    bad.from_epoch = 3
    seeds["bad_resend_epoch"] = (4, bad)

    for name, (sel, msg) in sorted(seeds.items()):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(bytes([sel]) + msg.SerializeToString())


if __name__ == "__main__":
    main()
