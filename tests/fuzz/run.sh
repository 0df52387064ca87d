#!/bin/sh
# run.sh - build the libFuzzer targets and run each one for SECONDS.
#
#   sh tests/fuzz/run.sh [SECONDS] [TARGET...]      (from the repo root)
#
# SECONDS defaults to 60 per target; TARGET is npy, onnx, frame, h2rpc or
# taskmsg (default: all five).
#
# Everything is built with clang -fsanitize=fuzzer,address,undefined into
# $FUZZ_BUILD (default build-fuzz/, outside the autotools build): every
# lib/**/*.c, found afresh on each run so new modules are picked up, goes
# into one static archive, with the protobuf-c code generated from
# proto/onnx/onnx-subset.proto; a target links only what it needs, so the
# npy fuzzer works while the ONNX side is still being written. Targets link
# libnghttp2 too (the gRPC front end, lib/api/h2rpc.c, needs it).
#
# Seeds are read from tests/fuzz/corpus_<target>/ (committed, never written);
# what the fuzzer finds goes to $FUZZ_BUILD/corpus/<target>/, kept between
# runs, and crashes to $FUZZ_BUILD/artifacts/<target>-crash-*. Reproduce one
# with: $FUZZ_BUILD/fuzz_<target> <artifact>. Extra libFuzzer flags go in
# FUZZ_ARGS (e.g. FUZZ_ARGS='-jobs=4 -workers=4').
#
# Exit status: 0 when every requested target built and ran without finding
# anything; 1 otherwise.
set -u

secs=${1:-60}
[ $# -gt 0 ] && shift
case $secs in
'' | *[!0-9]*) echo "usage: sh tests/fuzz/run.sh [SECONDS] [npy|onnx|frame|h2rpc|taskmsg]..." >&2
               exit 2 ;;
esac
targets=${*:-npy onnx frame h2rpc taskmsg}
B=${FUZZ_BUILD:-build-fuzz}
CC=${CC:-clang}
FUZZ_ARGS=${FUZZ_ARGS:-}

if [ ! -d lib ] || [ ! -d tests/fuzz ]; then
    echo "run.sh: run from the repository root" >&2
    exit 2
fi
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "run.sh: $CC not found (libFuzzer needs clang)" >&2
    exit 2
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $SAN"
INC="-I$B/proto"
for d in $(find lib -name '*.h' -exec dirname {} \; | sort -u); do
    INC="$INC -I$d"
done
DEPS_CFLAGS=$(pkg-config --cflags libprotobuf-c openblas openssl 2>/dev/null)
DEPS_LIBS=$(pkg-config --libs libprotobuf-c openblas openssl 2>/dev/null)
DEPS_CFLAGS="$DEPS_CFLAGS $(pkg-config --cflags libnghttp2 2>/dev/null)"
DEPS_LIBS="$DEPS_LIBS $(pkg-config --libs libnghttp2 2>/dev/null || echo -lnghttp2)"

mkdir -p "$B/obj" "$B/proto" "$B/artifacts"
rm -f "$B"/obj/*.o "$B/liblagrange-fuzz.a"

# protobuf-c code for the ONNX subset, the wire protocol and the API.
if command -v protoc-c >/dev/null 2>&1 &&
   protoc-c --c_out="$B/proto" -Iproto proto/onnx/onnx-subset.proto \
       proto/lagrange/v1/wire.proto proto/lagrange/v1/api.proto \
       proto/lagrange/v1/store.proto proto/grpc/health/v1/health.proto \
       proto/grpc/reflection/v1/reflection.proto; then
    gen=$(find "$B/proto" -name '*.pb-c.c')
else
    echo "run.sh: warning: protoc-c failed; onnx and frame will not link" >&2
    gen=
fi

# Compile lib/**/*.c. A file that does not compile (someone is mid-edit) is
# reported and left out: only the targets that need it fail to link.
broken=
for src in $(find lib -name '*.c' | sort) $gen; do
    obj="$B/obj/$(echo "$src" | tr '/' '_' | sed 's/\.c$/.o/')"
    if ! $CC $CFLAGS -fsanitize=fuzzer-no-link $INC $DEPS_CFLAGS \
            -c "$src" -o "$obj" 2>"$obj.log"; then
        echo "run.sh: warning: $src does not compile (see $obj.log)" >&2
        head -5 "$obj.log" >&2
        broken="$broken $src"
    fi
done
ar rcs "$B/liblagrange-fuzz.a" "$B"/obj/*.o || exit 1

# Dictionaries: the tokens a mutator is unlikely to invent by itself.
cat >"$B/npy.dict" <<'EOF'
magic="\x93NUMPY\x01\x00"
magic2="\x93NUMPY\x02\x00"
magic3="\x93NUMPY\x03\x00"
k1="'descr'"
k2="'fortran_order'"
k3="'shape'"
t="True"
f="False"
d1="'<f4'"
d2="'<f8'"
d3="'<i8'"
d4="'<i4'"
d5="'|b1'"
d6="'|u1'"
d7="'|i1'"
d8="'>f4'"
d9="'=i4'"
s1="(2, 3)"
s2="(1,)"
s3="()"
s4="9223372036854775807"
EOF
cat >"$B/onnx.dict" <<'EOF'
o1="Conv"
o2="Relu"
o3="Gemm"
o4="Reshape"
o5="Add"
o6="MatMul"
o7="Constant"
o8="ConstantOfShape"
o9="Transpose"
o10="Concat"
o11="Gather"
o12="Shape"
o13="Slice"
o14="Softmax"
a1="kernel_shape"
a2="pads"
a3="strides"
a4="axis"
a5="perm"
EOF

cat >"$B/frame.dict" <<'EOF'
hello="\x0a"
bundle="\x12"
ack="\x1a"
heartbeat="\x22"
goodbye="\x2a"
payload="\x42"
name="\x82\x01"
hops="\x88\x01"
sha="\x4a\x20"
id="\x0a\x10"
objid="\x52\x10"
objsha="\x7a\x20"
node="gs-mad"
big="\xff\xff\xff\xff\x0f"
EOF

# h2rpc: frame headers (length, type, flags, stream), HPACK bits, paths.
cat >"$B/h2rpc.dict" <<'EOF'
preface="PRI * HTTP/2.0\x0d\x0a\x0d\x0aSM\x0d\x0a\x0d\x0a"
settings="\x00\x00\x00\x04\x00\x00\x00\x00\x00"
settings_ack="\x00\x00\x00\x04\x01\x00\x00\x00\x00"
headers1="\x01\x05\x00\x00\x00\x01"
data1="\x00\x00\x00\x00\x01"
data1_end="\x00\x01\x00\x00\x00\x01"
rst1="\x00\x00\x04\x03\x00\x00\x00\x00\x01\x00\x00\x00\x08"
wu0="\x00\x00\x04\x08\x00\x00\x00\x00\x00\x7f\xff\x00\x00"
goaway="\x00\x00\x08\x07\x00\x00\x00\x00\x00"
ping="\x00\x00\x08\x06\x00\x00\x00\x00\x00"
msg0="\x00\x00\x00\x00\x00"
msgc="\x01\x00\x00\x00\x01"
post="\x83"
scheme="\x86"
path_unary="/t.Echo/Unary"
path_quick="/t.Echo/Quick"
path_stream="/t.Echo/Stream"
path_collect="/t.Echo/Collect"
path_chat="/t.Echo/Chat"
path_secure="/t.Echo/Secure"
path_refuse="/t.Echo/Refuse"
path_slow="/t.Echo/Slow"
ctype="application/grpc"
timeout="grpc-timeout"
t1="1m"
t2="99999999H"
auth="authorization"
bearer="Bearer good"
EOF

# taskmsg: selectors, tags of Task/TaskStatus/JobEnd/PartitionStored/
# TaskResend, the fuzzer's node names, a job id and a SHA-256.
cat >"$B/taskmsg.dict" <<'EOF'
sel_task="\x00"
sel_status="\x01"
sel_end="\x02"
sel_stored="\x03"
sel_resend="\x04"
job="\x0a\x0dj0123456789ab"
epoch="\x10\x01"
part="\x18"
n_parts="\x20"
controller="\x2a\x04gs-a"
psha="\x32\x40"
inputs="\x42"
outputs="\x4a"
node_task="\x6a\x03geo"
st_node="\x22\x04moon"
st_state="\x28\x05"
st_detail="\x32"
st_exec="\x39"
why="\x1a"
rs_from_epoch="\x18\x01"
rs_controller="\x32\x04gs-a"
rs_outputs="\x3a"
rs_priority="\x40\x07"
n1="gs-a"
n2="geo"
n3="moon"
n4="gs-b"
sha="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
big="\xff\xff\xff\xff\x0f"
EOF

status=0
for t in $targets; do
    src=tests/fuzz/fuzz_$t.c
    bin=$B/fuzz_$t
    if [ ! -f "$src" ]; then
        echo "run.sh: no target $t ($src)" >&2
        status=1
        continue
    fi
    echo "== fuzz_$t: building"
    if ! $CC $CFLAGS -fsanitize=fuzzer $INC $DEPS_CFLAGS "$src" \
            "$B/liblagrange-fuzz.a" $DEPS_LIBS -lm -lpthread -o "$bin" \
            2>"$bin.build.log"; then
        echo "== fuzz_$t: BUILD FAILED (see $bin.build.log)"
        grep -m 10 -E 'error|undefined reference' "$bin.build.log"
        status=1
        continue
    fi
    mkdir -p "$B/corpus/$t"
    seeds=tests/fuzz/corpus_$t
    [ -d "$seeds" ] || seeds=
    echo "== fuzz_$t: running for ${secs}s (log: $B/fuzz_$t.log)"
    # New inputs land in the first corpus directory only, never in seeds.
    # shellcheck disable=SC2086
    OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        "$bin" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
        -dict="$B/$t.dict" -artifact_prefix="$B/artifacts/$t-" $FUZZ_ARGS \
        "$B/corpus/$t" $seeds >"$B/fuzz_$t.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        echo "== fuzz_$t: ok ($(grep -c . "$B/fuzz_$t.log") log lines," \
             "$(ls "$B/corpus/$t" | wc -l) corpus files)"
        grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|cov: ' \
            "$B/fuzz_$t.log" | tail -3
    else
        echo "== fuzz_$t: FOUND A PROBLEM (exit $rc); artifacts:"
        ls -1 "$B/artifacts" | grep "^$t-" | sed "s|^|   $B/artifacts/|"
        grep -n -m 1 -E '^==[0-9]+==ERROR|runtime error|deadly signal|out-of-memory|timeout' "$B/fuzz_$t.log"
        tail -40 "$B/fuzz_$t.log"
        status=1
    fi
done
[ -n "$broken" ] && echo "run.sh: note: these files did not compile:$broken"
exit $status
