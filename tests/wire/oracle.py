#!/usr/bin/python3
"""oracle.py - Google's protobuf runtime as the oracle for lib/wire.

Run with Debian's /usr/bin/python3 (python3-protobuf). DESC is a
FileDescriptorSet of proto/lagrange/v1/wire.proto, made by Google's own
.proto parser (`protoc -o DESC` or, with the same libprotoc inside,
`protoc-c -o DESC`); the message classes are built from it at run time, so
nothing is generated into the tree. tests/test_wire_oracle.sh drives it:

    oracle.py check  DESC DIR   parse the frames C wrote into DIR (by
                                `check_wire --emit DIR`) and compare what
                                Python sees with C's dump of each (NAME.txt)
    oracle.py emit   DESC DIR   write frames serialized by Python, with a
                                dump of each, for `check_wire --verify DIR`;
                                bad_*.frame come with NAME.err: the error
                                code and message part C must answer with
    oracle.py corpus DESC DIR   write the fuzz seeds of tests/fuzz/fuzz_frame.c
                                (one mode byte, then a stream of frames)

The dump format (key=value lines; bytes and text as hex; payloads by length
and SHA-256) is mirrored by dump() in tests/check_wire.c.
"""
import errno
import hashlib
import os
import random
import struct
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

EBADMSG = errno.EBADMSG
ECHECKSUM = 1101                # WIRE_ECHECKSUM, lib/wire/bundle.h


def load(desc_path):
    """Message classes Frame, Bundle, ... from a FileDescriptorSet."""
    with open(desc_path, "rb") as f:
        fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    out = {}
    for name in ("Frame", "Hello", "Bundle", "Ack", "Heartbeat", "Goodbye"):
        d = pool.FindMessageTypeByName("lagrange.v1." + name)
        if hasattr(message_factory, "GetMessageClass"):
            out[name] = message_factory.GetMessageClass(d)
        else:
            out[name] = factory.GetPrototype(d)
    return out


def dump(fr):
    which = fr.WhichOneof("body")
    out = ["type=%s" % which]
    if which == "hello":
        h = fr.hello
        out += ["node_id=%s" % h.node_id, "version=%d" % h.version,
                "max_frame=%d" % h.max_frame,
                "caps=" + ",".join(h.capabilities)]
    elif which == "bundle":
        b = fr.bundle
        out += ["id=" + b.id.hex(), "src=" + b.src, "dst=" + b.dst,
                "created_unix_ms=%d" % b.created_unix_ms,
                "lifetime_ms=%d" % b.lifetime_ms,
                "priority=%d" % b.priority, "kind=%d" % b.kind,
                "name=" + b.name.encode("utf-8").hex(), "hops=%d" % b.hops,
                "job=" + b.job, "job_epoch=%d" % b.job_epoch,
                "payload_len=%d" % len(b.payload),
                "payload_hash=" + hashlib.sha256(b.payload).hexdigest(),
                "payload_sha256=" + b.payload_sha256.hex(),
                "object_id=" + b.object_id.hex(),
                "object_size=%d" % b.object_size, "offset=%d" % b.offset,
                "chunk_index=%d" % b.chunk_index,
                "chunk_count=%d" % b.chunk_count,
                "object_sha256=" + b.object_sha256.hex()]
    elif which == "ack":
        out += ["ids=" + ",".join(i.hex() for i in fr.ack.ids)]
    elif which == "heartbeat":
        out += ["unix_ms=%d" % fr.heartbeat.unix_ms,
                "seq=%d" % fr.heartbeat.seq]
        out += ["health=%s,%d,%d,%d,%d,%d,%.17g,%.17g,%d,%d,%d,%d" % (
            h.node, h.unix_ms, h.seq, h.boot_unix_ms, h.jobs_running,
            h.jobs_queued, h.load, h.battery_soc, int(h.sunlit),
            h.fault_exec_checksum, h.fault_ecc, h.fault_spool_quarantined)
            for h in fr.heartbeat.health]
    elif which == "goodbye":
        out += ["reason=" + fr.goodbye.reason.encode("utf-8").hex()]
    return "\n".join(out) + "\n"


def frame_bytes(body):
    return struct.pack(">I", len(body)) + body


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def check(M, d):
    """Parse C's frames; compare with C's dumps; check what C claims."""
    names = sorted(n[:-6] for n in os.listdir(d) if n.endswith(".frame"))
    bad = 0
    for name in names:
        with open(os.path.join(d, name + ".frame"), "rb") as f:
            data = f.read()
        with open(os.path.join(d, name + ".txt")) as f:
            want = f.read()
        problems = []
        (n,) = struct.unpack(">I", data[:4])
        if n != len(data) - 4:
            problems.append("length prefix %d for %d bytes" % (n, len(data)))
        body = data[4:]
        fr = M["Frame"]()
        fr.ParseFromString(body)        # raises on malformed protobuf/UTF-8
        try:                            # fields outside the schema?
            if len(fr.UnknownFields()) or (
                    fr.WhichOneof("body") and
                    len(getattr(fr, fr.WhichOneof("body")).UnknownFields())):
                problems.append("fields unknown to the schema")
        except (AttributeError, NotImplementedError):
            pass
        got = dump(fr)
        if got != want:
            problems.append("dump differs:\n--- C\n%s--- python\n%s"
                            % (want, got))
        which = fr.WhichOneof("body")
        if which == "bundle":
            b = fr.bundle
            if hashlib.sha256(b.payload).digest() != b.payload_sha256:
                problems.append("payload_sha256 is not the payload's")
            if len(b.id) != 16:
                problems.append("id of %d bytes" % len(b.id))
            # Our encoder writes the payload field last, else canonical:
            # moving it last in Python's serialization gives our bytes.
            meta = M["Bundle"]()
            meta.CopyFrom(b)
            meta.payload = b""
            mb = meta.SerializeToString()
            if b.payload:
                mb += b"\x42" + varint(len(b.payload)) + b.payload
            if b"\x12" + varint(len(mb)) + mb != body:
                problems.append("bytes differ from Python's (payload last)")
        elif fr.SerializeToString() != body:
            problems.append("bytes differ from Python's serialization")
        if problems:
            bad += 1
            print("oracle: %s: %s" % (name, "; ".join(problems)))
    print("oracle: checked %d C frames: %s" % (len(names),
                                               "FAILED" if bad else "ok"))
    return 1 if bad or not names else 0


def put(d, name, fr_or_body, M=None, err=None):
    body = fr_or_body if isinstance(fr_or_body, bytes) else \
        fr_or_body.SerializeToString()
    with open(os.path.join(d, name + ".frame"), "wb") as f:
        f.write(frame_bytes(body))
    if err is not None:
        with open(os.path.join(d, name + ".err"), "w") as f:
            f.write("%d %s\n" % err)
    else:
        fr = M["Frame"]()
        fr.ParseFromString(body)
        with open(os.path.join(d, name + ".txt"), "w") as f:
            f.write(dump(fr))


def sample_bundle(M, rng, payload, chunked=True):
    b = M["Bundle"]()
    b.id = bytes(rng.randrange(256) for _ in range(16))
    b.src = "leo-gpu-2"
    b.dst = "gs-mad"
    b.created_unix_ms = 1700000001234
    b.lifetime_ms = 7200000
    b.priority = 6
    b.kind = 1
    b.payload = payload
    b.payload_sha256 = hashlib.sha256(payload).digest()
    b.name = "enc\u00f6der/out:0 \u2192 \U0001f680"
    b.hops = 1
    if chunked:
        b.job = "jfedcba987654"
        b.job_epoch = 2
        b.object_id = bytes(rng.randrange(256) for _ in range(16))
        b.object_size = 4 * len(payload) + 1
        b.offset = 2 * len(payload)
        b.chunk_index = 2
        b.chunk_count = 5
        b.object_sha256 = hashlib.sha256(b"whatever").digest()
    return b


def emit(M, d):
    os.makedirs(d, exist_ok=True)
    rng = random.Random(20240601)
    Frame = M["Frame"]

    fr = Frame()
    fr.hello.node_id = "luna-1"
    fr.hello.version = 1
    fr.hello.capabilities.extend(["zstd", "relay.v2", "a_b-c.d"])
    fr.hello.max_frame = 4 << 20
    put(d, "hello", fr, M)

    payload = bytes(rng.randrange(256) for _ in range(300 * 1024))
    fr = Frame()
    fr.bundle.CopyFrom(sample_bundle(M, rng, payload))
    put(d, "bundle_big", fr, M)         # payload mid-message (field order)

    fr = Frame()
    fr.bundle.CopyFrom(sample_bundle(M, rng, payload[:100], chunked=False))
    fr.bundle.kind = 4
    fr.bundle.name = ""
    put(d, "bundle_control", fr, M)

    fr = Frame()
    fr.bundle.CopyFrom(sample_bundle(M, rng, b""))
    fr.bundle.created_unix_ms = 2**64 - 1
    fr.bundle.lifetime_ms = 0
    fr.bundle.priority = 0
    fr.bundle.hops = 0
    fr.bundle.object_size = 0
    fr.bundle.offset = 0
    fr.bundle.chunk_index = 0
    fr.bundle.chunk_count = 1
    put(d, "bundle_empty_object", fr, M)

    # Unknown fields from a "future version", inside Bundle and Frame: a
    # varint (100), a fixed64 (101), a string (102), a fixed32 (103).
    b = sample_bundle(M, rng, payload[:5000])
    unknown = (varint(100 << 3) + varint(2**63) +
               varint(101 << 3 | 1) + b"\x01" * 8 +
               varint(102 << 3 | 2) + varint(3) + b"new" +
               varint(103 << 3 | 5) + b"\x02" * 4)
    bb = unknown + b.SerializeToString() + unknown
    body = b"\x12" + varint(len(bb)) + bb + varint(77 << 3) + b"\x05"
    put(d, "bundle_future_fields", body, M)

    fr = Frame()
    fr.ack.ids.extend(bytes(rng.randrange(256) for _ in range(16))
                      for _ in range(256))
    put(d, "ack", fr, M)

    fr = Frame()
    fr.heartbeat.unix_ms = 1700000002000
    fr.heartbeat.seq = 41
    put(d, "heartbeat", fr, M)

    fr = Frame()
    fr.heartbeat.unix_ms = 1700000002000
    fr.heartbeat.seq = 42
    for i, (node, soc) in enumerate((("leo-gpu-2", 0.55), ("gs-mad", -1.0),
                                     ("luna-1", 1.0))):
        h = fr.heartbeat.health.add()
        h.node = node
        h.unix_ms = 1700000001000 + i
        h.seq = 2 ** 63 + i
        h.boot_unix_ms = 1700000000000
        h.jobs_running = i
        h.jobs_queued = 2 ** 32 - 1
        h.load = 0.1 * i
        h.battery_soc = soc
        h.sunlit = bool(i % 2)
        h.fault_exec_checksum = i
        h.fault_ecc = 2 ** 64 - 1
        h.fault_spool_quarantined = 7
    put(d, "heartbeat_health", fr, M)

    fr = Frame()
    fr.goodbye.reason = "maintenance \u2014 back at 12:00"
    put(d, "goodbye", fr, M)

    # What C must refuse, and how.
    def bad(name, mutate, code, part):
        fr = Frame()
        fr.bundle.CopyFrom(sample_bundle(M, rng, payload[:2000]))
        body = mutate(fr)
        put(d, "bad_" + name, body if body else fr, err=(code, part))

    def flip(fr):
        p = bytearray(fr.bundle.payload)
        p[1000] ^= 4
        fr.bundle.payload = bytes(p)
    bad("checksum", flip, -ECHECKSUM, "payload sha256 mismatch")
    bad("kind", lambda fr: setattr(fr.bundle, "kind", 9), -EBADMSG,
        "unknown kind 9")
    bad("id_len", lambda fr: setattr(fr.bundle, "id", b"x" * 15), -EBADMSG,
        "id is 15 bytes, want 16")
    bad("src", lambda fr: setattr(fr.bundle, "src", "a/b"), -EBADMSG,
        "src 'a/b' is not a node id")
    bad("chunk_index", lambda fr: setattr(fr.bundle, "chunk_index", 5),
        -EBADMSG, "chunk_index 5 is not below chunk_count 5")
    bad("priority", lambda fr: setattr(fr.bundle, "priority", 8), -EBADMSG,
        "priority 8 is above 7")

    def two_bodies(fr):
        h = Frame()
        h.heartbeat.seq = 1
        return h.SerializeToString() + fr.SerializeToString()
    bad("two_bodies", two_bodies, -EBADMSG, "frame holds 2 bodies")
    print("oracle: wrote Python frames into %s" % d)
    return 0


def corpus(M, d):
    """Small seeds: mode byte (slicing) + a stream of frames."""
    os.makedirs(d, exist_ok=True)
    rng = random.Random(7)
    Frame = M["Frame"]
    frames = []
    fr = Frame()
    fr.hello.node_id = "gs-mad"
    fr.hello.version = 1
    fr.hello.capabilities.append("zstd")
    fr.hello.max_frame = 2 << 20
    frames.append(fr.SerializeToString())
    fr = Frame()
    fr.bundle.CopyFrom(sample_bundle(M, rng, b"tensor bytes 0123"))
    frames.append(fr.SerializeToString())
    fr = Frame()
    fr.bundle.CopyFrom(sample_bundle(M, rng, b"ctl", chunked=False))
    frames.append(fr.SerializeToString())
    fr = Frame()
    fr.ack.ids.append(b"\x11" * 16)
    fr.ack.ids.append(b"\x22" * 16)
    frames.append(fr.SerializeToString())
    fr = Frame()
    fr.heartbeat.unix_ms = 1700000000000
    fr.heartbeat.seq = 3
    frames.append(fr.SerializeToString())
    fr = Frame()
    fr.goodbye.reason = "bye"
    frames.append(fr.SerializeToString())
    # A whole object of 3 chunks (10 + 10 + 4 bytes).
    obj = b"0123456789abcdefghijKLMN"
    oid = b"\x0b" * 16
    chunks = []
    for i in range(3):
        b = sample_bundle(M, rng, obj[10 * i:10 * i + 10])
        b.object_id = oid
        b.object_size = len(obj)
        b.offset = 10 * i
        b.chunk_index = i
        b.chunk_count = 3
        b.object_sha256 = hashlib.sha256(obj).digest()
        fr = Frame()
        fr.bundle.CopyFrom(b)
        chunks.append(fr.SerializeToString())

    def write(name, mode, bodies):
        with open(os.path.join(d, name), "wb") as f:
            f.write(bytes([mode]) + b"".join(frame_bytes(x) for x in bodies))
    # The bundle again as lib/wire writes it: payload field last.
    b = Frame.FromString(frames[1]).bundle
    payload, b.payload = b.payload, b""
    mb = b.SerializeToString() + b"\x42" + varint(len(payload)) + payload
    frames.append(b"\x12" + varint(len(mb)) + mb)
    names = ["hello", "bundle", "control", "ack", "heartbeat", "goodbye",
             "bundle_payload_last"]
    for name, body in zip(names, frames):
        write("seed_" + name, 0, [body])
    write("seed_stream_bytewise", 1, frames)
    write("seed_stream_slices", 7, frames)
    write("seed_object", 0, [chunks[2], chunks[0], chunks[0], chunks[1]])
    print("oracle: wrote %d seeds into %s" % (len(names) + 3, d))
    return 0


def main(argv):
    if len(argv) != 4 or argv[1] not in ("check", "emit", "corpus"):
        print(__doc__, file=sys.stderr)
        return 2
    M = load(argv[2])
    return {"check": check, "emit": emit, "corpus": corpus}[argv[1]](
        M, argv[3])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
