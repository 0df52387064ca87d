#!/bin/sh
# test_install.sh - `make install DESTDIR=...` of this build tree, then:
#  - every file a user expects is where the configured paths say: lagranged
#    in sbindir, lagrange in bindir, liblagrange.a, the public headers,
#    lagrange.pc, the man pages in their sections, the systemd units and
#    the sysusers.d file, the example configuration in sysconfdir/lagrange
#    and the examples in pkgdatadir;
#  - each public header compiles on its own (-std=c11 -Wall -Wextra
#    -Werror -pedantic);
#  - examples/embed.c, as installed, builds with `pkg-config --cflags
#    --libs lagrange` alone and reproduces tinynet's output computed by
#    torch (examples/tinynet-expected.npy, made by examples/make_tinynet.py);
#  - the installed configuration passes `lagranged -n`;
#  - a second install keeps an operator's edited configuration, and
#    uninstall removes everything else, leaving that file.
# Uses LG_BUILDDIR (the build tree, default .) and LG_SRCDIR.
set -u
B=$(cd "${LG_BUILDDIR:-.}" && pwd)
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
T=$(mktemp -d)
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
MAKE=${MAKE:-make}
R=$T/root

# The configured directories, as make expands them.
dirs() {
    printf 'print-dirs:\n\t@echo "$(%s)"\n' "$1" |
        $MAKE -s --no-print-directory -C "$B" -f Makefile -f - print-dirs
}
prefix=$(dirs prefix); sbindir=$(dirs sbindir); bindir=$(dirs bindir)
libdir=$(dirs libdir); includedir=$(dirs includedir); mandir=$(dirs mandir)
sysconfdir=$(dirs sysconfdir); pkgdatadir=$(dirs pkgdatadir)
unitdir=$(dirs systemdsystemunitdir); sysusersdir=$(dirs sysusersdir)
[ -n "$prefix" ] && [ -n "$libdir" ] && ok || { echo "FAIL: cannot read the configured directories"; exit 1; }
echo "# prefix $prefix, units in $unitdir"

if ! $MAKE -s -C "$B" install DESTDIR="$R" >"$T/install.log" 2>&1; then
    echo "FAIL: make install:"; tail -20 "$T/install.log"; exit 1
fi
ok

for f in "$sbindir/lagranged" "$bindir/lagrange"; do
    [ -x "$R$f" ] && ok || bad "not installed (executable): $f"
done
[ ! -e "$R$bindir/lagranged" ] && ok || bad "lagranged also in bindir"
for f in "$libdir/liblagrange.a" "$libdir/pkgconfig/lagrange.pc" \
        "$includedir/lagrange/exec.h" "$includedir/lagrange/model.h" \
        "$includedir/lagrange/plan.h" "$includedir/lagrange/npy.h" \
        "$mandir/man1/lagrange.1" "$mandir/man1/lagrange-contacts.1" \
        "$mandir/man5/lagranged.conf.5" "$mandir/man5/lagrange-topology.5" \
        "$mandir/man8/lagranged.8" \
        "$unitdir/lagranged.service" "$unitdir/lagranged.socket" \
        "$sysusersdir/lagrange.conf" \
        "$sysconfdir/lagrange/lagranged.conf" "$sysconfdir/lagrange/topology.topo" \
        "$pkgdatadir/examples/tinynet.onnx" "$pkgdatadir/examples/embed.c" \
        "$pkgdatadir/examples/default.topo"; do
    [ -s "$R$f" ] && ok || bad "not installed: $f"
done
grep -q "^ExecStart=$sbindir/lagranged -f $sysconfdir/lagrange/lagranged.conf\$" \
    "$R$unitdir/lagranged.service" && ok ||
    bad "installed unit's ExecStart: $(grep ^ExecStart "$R$unitdir/lagranged.service")"

# Each public header on its own.
CC=${CC:-cc}
for h in "$R$includedir"/lagrange/*.h; do
    name=lagrange/$(basename "$h")
    printf '#include <%s>\nint lg_header_check_%s;\n' "$name" \
        "$(basename "$h" .h | tr -c 'a-z0-9\n' _)" >"$T/h.c"
    $CC -std=c11 -Wall -Wextra -Werror -pedantic -I"$R$includedir" -c "$T/h.c" \
        -o "$T/h.o" 2>"$T/h.err" && ok || bad "<$name> does not compile alone: $(head -3 "$T/h.err")"
done

# pkg-config alone is enough to build and link a program that embeds the
# executor; its answer is torch's.
export PKG_CONFIG_PATH="$R$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$R"
flags=$(pkg-config --cflags --libs lagrange 2>"$T/pc.err") && ok ||
    bad "pkg-config lagrange: $(cat "$T/pc.err")"
[ "$(pkg-config --modversion lagrange)" = "$(dirs PACKAGE_VERSION)" ] && ok ||
    bad "lagrange.pc version $(pkg-config --modversion lagrange)"
# shellcheck disable=SC2086
# The build's own CFLAGS and LDFLAGS too: an ASan build's library needs
# its runtime.
bcflags=$(dirs CFLAGS); bldflags=$(dirs LDFLAGS)
# shellcheck disable=SC2086
if $CC -std=c11 -Wall -Wextra -Werror $bcflags -o "$T/embed" "$R$pkgdatadir/examples/embed.c" \
        $flags $bldflags 2>"$T/cc.err"; then
    ok
    ex=$R$pkgdatadir/examples
    if "$T/embed" "$ex/tinynet.onnx" "$ex/tinynet-input.npy" "$T/out.npy" 2>"$T/run.err"; then
        /usr/bin/python3 - "$T/out.npy" "$ex/tinynet-expected.npy" <<'PY' && ok || bad "embed's output differs from torch's"
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
ok = a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5)
print("# embed vs torch: shape %s, max abs diff %.3g" % (a.shape, float(np.max(np.abs(a - b))) if a.shape == b.shape else -1))
sys.exit(0 if ok else 1)
PY
    else
        bad "embed failed: $(cat "$T/run.err")"
    fi
    "$T/embed" "$T/none.onnx" "$ex/tinynet-input.npy" "$T/x.npy" 2>"$T/run.err"
    [ $? -eq 1 ] && grep -q 'none.onnx' "$T/run.err" && ok ||
        bad "embed on a missing model: $(cat "$T/run.err")"
else
    bad "embed.c does not build with pkg-config's flags ($flags): $(head -5 "$T/cc.err")"
fi
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

# The installed configuration is valid as it stands.
if "$R$sbindir/lagranged" -n -f "$R$sysconfdir/lagrange/lagranged.conf" >"$T/n.out" 2>"$T/n.err"; then
    grep -q '^NodeId=gs-mad$' "$T/n.out" && ok || bad "lagranged -n: $(head -3 "$T/n.out")"
else
    bad "the installed lagranged.conf is refused: $(cat "$T/n.err")"
fi

# An operator's edit survives a reinstall and an uninstall.
echo "LogLevel=debug  # edited" >>"$R$sysconfdir/lagrange/lagranged.conf"
cp "$R$sysconfdir/lagrange/lagranged.conf" "$T/edited"
$MAKE -s -C "$B" install DESTDIR="$R" >"$T/install2.log" 2>&1 && ok || bad "second make install failed"
cmp -s "$T/edited" "$R$sysconfdir/lagrange/lagranged.conf" && ok || bad "reinstall overwrote the edited lagranged.conf"
grep -q 'keeping .*lagranged.conf' "$T/install2.log" && ok || bad "reinstall did not say it kept lagranged.conf"
$MAKE -s -C "$B" uninstall DESTDIR="$R" >"$T/uninstall.log" 2>&1 && ok || bad "make uninstall failed: $(tail -5 "$T/uninstall.log")"
left=$(cd "$R" && find . -type f | sort)
[ "$left" = ".$sysconfdir/lagrange/lagranged.conf" ] && ok ||
    bad "after uninstall, files left: $left"

echo "# test_install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
