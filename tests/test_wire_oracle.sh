#!/bin/sh
# test_wire_oracle.sh - lib/wire against Google's protobuf runtime, both
# ways: frames encoded by lib/wire (check_wire --emit) must parse in Python
# to the same values, byte for byte what Python would write (payload field
# last); frames serialized by Python, field order and unknown fields
# included, must decode in C to the same values, and the broken ones must
# be refused with the documented error (check_wire --verify).
#
# Needs /usr/bin/python3 with google.protobuf (Debian python3-protobuf) and
# a .proto parser to make the descriptor set: protoc (Debian
# protobuf-compiler) or, failing that, protoc-c (protobuf-c-compiler, a
# build dependency anyway), which embeds the same libprotoc parser.
# Skipped (exit 77) only when one of those is missing.
# Run by `make check`; uses LG_SRCDIR and ./tests/check_wire.
set -u
src=${LG_SRCDIR:-$(dirname "$0")/..}
CW=${CHECK_WIRE:-./tests/check_wire}
PY=/usr/bin/python3

if command -v protoc >/dev/null 2>&1; then
    PROTOC=protoc
elif command -v protoc-c >/dev/null 2>&1; then
    PROTOC=protoc-c
else
    echo "test_wire_oracle: SKIP: neither protoc (protobuf-compiler) nor" \
         "protoc-c (protobuf-c-compiler) is installed"
    exit 77
fi
if ! $PY -c 'import google.protobuf' >/dev/null 2>&1; then
    echo "test_wire_oracle: SKIP: $PY cannot import google.protobuf" \
         "(apt-get install python3-protobuf)"
    exit 77
fi
if [ ! -x "$CW" ]; then
    echo "test_wire_oracle: $CW not built" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

$PROTOC -I"$src/proto" -o "$tmp/wire.desc" \
    "$src/proto/lagrange/v1/wire.proto" || exit 1
echo "test_wire_oracle: descriptors from $PROTOC"

mkdir "$tmp/c" "$tmp/py"
"$CW" --emit "$tmp/c" || fail=1
$PY "$src/tests/wire/oracle.py" check "$tmp/wire.desc" "$tmp/c" || fail=1
$PY "$src/tests/wire/oracle.py" emit "$tmp/wire.desc" "$tmp/py" || fail=1
"$CW" --verify "$tmp/py" || fail=1

[ $fail -eq 0 ] && echo "test_wire_oracle: PASS" || echo "test_wire_oracle: FAIL"
exit $fail
