#!/bin/sh
# test_systemd.sh - the systemd units make generates from systemd/*.in:
#  - lagranged.service and lagranged.socket pass `systemd-analyze verify
#    --man=no` with nothing on stderr (it only warns about unknown keys,
#    so an empty stderr is the test); verify checks that ExecStart's
#    binary exists, so the copy checked runs the one under test;
#  - the service's exposure score (`systemd-analyze security
#    --offline=yes`, 0 locked down to 10) stays at or below 2.0;
#  - the configured paths were filled in (no @...@ left), the directories
#    come from StateDirectory= and friends rather than written-out paths,
#    and the service runs as the account the sysusers.d file declares;
#  - systemd-sysusers creates that account in a scratch root.
# Skips (exit 77) where systemd-analyze is not installed. Uses LG_BUILDDIR
# (the build tree, default .) and LAGRANGED like test_lagranged.sh.
set -u
B=${LG_BUILDDIR:-.}
LD=${LAGRANGED:-$B/daemon/lagranged}
case $LD in /*) ;; *) LD=$(pwd)/$LD ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd-analyze not installed: the units are not checked"
    exit 77
fi
for f in lagranged.service lagranged.socket lagrange.conf; do
    [ -s "$B/systemd/$f" ] || { echo "FAIL: $B/systemd/$f was not generated"; exit 1; }
done
svc=$B/systemd/lagranged.service
sock=$B/systemd/lagranged.socket
users=$B/systemd/lagrange.conf

# Paths filled in: no placeholder left, ExecStart names sbindir's lagranged.
grep -n '@[a-z_]*@' "$svc" "$sock" "$users" >"$T/left" && bad "placeholders left: $(cat "$T/left")" || ok
exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$svc")
case $exe in /*/sbin/lagranged) ok ;; *) bad "ExecStart runs '$exe', not sbindir's lagranged" ;; esac
grep -q '^ExecStart=[^ ]* -f /[^ ]*/lagrange/lagranged.conf$' "$svc" && ok ||
    bad "ExecStart does not name the configured lagranged.conf: $(grep ^ExecStart "$svc")"

# systemd owns the directories: they are declared, not written out.
for k in StateDirectory RuntimeDirectory LogsDirectory ConfigurationDirectory; do
    grep -q "^$k=lagrange\$" "$svc" && ok || bad "$k=lagrange missing"
done
grep -n '^ReadWritePaths=\|^[^#]*/var/lib/lagrange\|^[^#]*/run/lagrange' "$svc" >"$T/hard" &&
    bad "hard-coded state or runtime paths: $(cat "$T/hard")" || ok
for k in 'Type=notify' 'WatchdogSec=' 'ExecReload=' 'ProtectSystem=strict' \
        'PrivateDevices=yes' 'RestrictAddressFamilies=' \
        'SystemCallFilter=@system-service' 'CapabilityBoundingSet=$' \
        'UMask=0077' 'NoNewPrivileges=yes'; do
    grep -q "^$k" "$svc" && ok || bad "lagranged.service lacks $k"
done

# The account: the unit's User= is the sysusers.d file's user, and
# systemd-sysusers creates it (in a scratch root, not this machine's).
user=$(sed -n 's/^User=//p' "$svc")
[ -n "$user" ] && grep -q "^u $user " "$users" && ok ||
    bad "User=$user is not declared in sysusers.d/lagrange.conf"
if command -v systemd-sysusers >/dev/null 2>&1; then
    mkdir -p "$T/root/etc"
    if systemd-sysusers --root="$T/root" "$(cd "$(dirname "$users")" && pwd)/lagrange.conf" \
            >"$T/su.out" 2>&1; then
        grep -q "^$user:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin\$" "$T/root/etc/passwd" &&
            grep -q "^$user:x:[0-9]*:" "$T/root/etc/group" && ok ||
            bad "systemd-sysusers made no $user account: $(cat "$T/root/etc/passwd" 2>&1)"
    else
        bad "systemd-sysusers: $(cat "$T/su.out")"
    fi
fi

# The socket: a unix stream socket named "api" for lagranged.service.
grep -q '^ListenStream=%t/lagrange/api.sock$' "$sock" && ok || bad "socket: ListenStream"
grep -q '^FileDescriptorName=api$' "$sock" && ok || bad "socket: FileDescriptorName=api"

# verify, with ExecStart pointing at the binary under test.
mkdir -p "$T/u"
sed "s|^ExecStart=[^ ]*|ExecStart=$LD|" "$svc" >"$T/u/lagranged.service"
cp "$sock" "$T/u/lagranged.socket"
systemd-analyze verify --man=no "$T/u/lagranged.service" "$T/u/lagranged.socket" \
    >"$T/out" 2>"$T/err" && [ ! -s "$T/err" ] && ok ||
    bad "systemd-analyze verify: $(cat "$T/err")"

# Hardening: exposure at or below 2.0.
if systemd-analyze security --offline=yes "$T/u/lagranged.service" >"$T/out" 2>"$T/err"; then
    score=$(sed -n 's/.*Overall exposure level for lagranged.service: \([0-9.]*\).*/\1/p' "$T/out")
    echo "# systemd-analyze security: exposure $score"
    [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' && ok ||
        bad "systemd-analyze security: exposure '$score' > 2.0: $(tail -3 "$T/out")"
else
    bad "systemd-analyze security --offline=yes failed: $(tail -3 "$T/err")"
fi

# A unit that verify must reject: proves the check can fail.
sed 's/^Type=notify/Type=bogus/' "$T/u/lagranged.service" >"$T/u/broken.service"
systemd-analyze verify --man=no "$T/u/broken.service" >/dev/null 2>"$T/err"
[ -s "$T/err" ] && ok || bad "verify accepted Type=bogus"

echo "# test_systemd: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
