#!/bin/sh
# test_cert.sh - `lagrange cert`, checked by the openssl command-line tool
# (an oracle nobody here wrote):
#  - a CA and node certificates verify (`openssl verify`), for TLS server
#    and client use, with CN and subjectAltName DNS equal to the node's
#    name, EC P-256 keys of mode 0600 that match their certificates;
#  - a certificate from another CA does not verify;
#  - two nodes complete a mutual TLS 1.3 handshake (openssl s_server and
#    s_client on loopback), and a node of another CA is refused;
#  - files are never overwritten without --force; names, --days and bad
#    CA files give the documented exit codes.
# Run by `make check`; uses ./cli/lagrange (or $LAGRANGE). Skipped (exit
# 77) without the openssl tool.
set -u
L=${LAGRANGE:-./cli/lagrange}
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
command -v openssl >/dev/null 2>&1 || { echo "openssl not installed: skipped"; exit 77; }
tmp=$(mktemp -d)
spid=
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
pass=0
fail=0

ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }

# expect CODE PATTERN CMD...: exit code CODE and stderr matching PATTERN.
expect() {
    code=$1; pat=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne "$code" ]; then
        bad "$* -> exit $rc, want $code: $(head -c 300 "$tmp/err")"
    elif [ -n "$pat" ] && ! grep -q -- "$pat" "$tmp/err"; then
        bad "$* -> stderr lacks '$pat': $(head -c 300 "$tmp/err")"
    else
        ok
    fi
}

mode() { stat -c %a "$1"; }

# ---- a CA and two nodes ---------------------------------------------------

expect 0 "" "$L" cert ca --out pki/ca --name demo-ca
grep -q "^wrote pki/ca/ca.key (mode 0600) and pki/ca/ca.crt, valid until " out &&
    ok || bad "cert ca output: $(cat out)"
[ "$(mode pki/ca/ca.key)" = 600 ] && ok || bad "ca.key mode $(mode pki/ca/ca.key)"
[ "$(mode pki/ca)" = 700 ] && ok || bad "pki/ca mode $(mode pki/ca)"
openssl x509 -in pki/ca/ca.crt -noout -subject | grep -q '^subject=CN = demo-ca$' &&
    ok || bad "CA subject"
openssl x509 -in pki/ca/ca.crt -noout -ext basicConstraints,keyUsage >x 2>&1 &&
    grep -q 'critical' x && grep -q 'CA:TRUE' x && grep -q 'Certificate Sign' x &&
    ok || bad "CA extensions: $(cat x)"
openssl verify -CAfile pki/ca/ca.crt pki/ca/ca.crt >/dev/null 2>&1 &&
    ok || bad "the CA does not verify itself"

expect 0 "" "$L" cert node gs-mad --ca pki/ca --out pki/nodes
expect 0 "" "$L" cert node leo-gpu-1 --ca pki/ca --out pki/nodes
for n in gs-mad leo-gpu-1; do
    c=pki/nodes/$n.crt
    k=pki/nodes/$n.key
    openssl verify -CAfile pki/ca/ca.crt "$c" >x 2>&1 && grep -q ': OK$' x &&
        ok || bad "$n: openssl verify: $(cat x)"
    for p in sslserver sslclient; do
        openssl verify -purpose "$p" -CAfile pki/ca/ca.crt "$c" >/dev/null 2>&1 &&
            ok || bad "$n: not valid for $p"
    done
    openssl verify -verify_hostname "$n" -CAfile pki/ca/ca.crt "$c" >/dev/null 2>&1 &&
        ok || bad "$n: does not verify as host $n"
    openssl verify -verify_hostname other-node -CAfile pki/ca/ca.crt "$c" >/dev/null 2>&1 &&
        bad "$n: verifies as another node" || ok
    openssl x509 -in "$c" -noout -subject | grep -q "^subject=CN = $n\$" &&
        ok || bad "$n: subject $(openssl x509 -in "$c" -noout -subject)"
    openssl x509 -in "$c" -noout -ext subjectAltName | grep -q "^ *DNS:$n\$" &&
        ok || bad "$n: subjectAltName"
    openssl x509 -in "$c" -noout -ext basicConstraints | grep -q 'CA:FALSE' &&
        ok || bad "$n: a node certificate must not be a CA"
    [ "$(mode "$k")" = 600 ] && ok || bad "$n.key mode $(mode "$k")"
    openssl pkey -in "$k" -noout -text 2>/dev/null | grep -q 'ASN1 OID: prime256v1' &&
        ok || bad "$n: key is not P-256"
    [ "$(openssl pkey -in "$k" -pubout 2>/dev/null)" = "$(openssl x509 -in "$c" -noout -pubkey)" ] &&
        ok || bad "$n: key does not match the certificate"
    # 365 days by default: valid for 364 more, not for 366.
    openssl x509 -in "$c" -noout -checkend $((364 * 86400)) >/dev/null && ok || bad "$n: expires too soon"
    openssl x509 -in "$c" -noout -checkend $((366 * 86400)) >/dev/null && bad "$n: valid too long" || ok
done

# --san: extra names after DNS:NAME, for the API listener's clients.
expect 0 "" "$L" cert node api-gs --ca pki/ca --out pki/san --san gs.example.net \
    --san 127.0.0.1 --san ::1
openssl x509 -in pki/san/api-gs.crt -noout -ext subjectAltName |
    grep -q '^ *DNS:api-gs, DNS:gs.example.net, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1$' &&
    ok || bad "--san: $(openssl x509 -in pki/san/api-gs.crt -noout -ext subjectAltName)"
openssl verify -verify_ip 127.0.0.1 -CAfile pki/ca/ca.crt pki/san/api-gs.crt >/dev/null 2>&1 &&
    ok || bad "--san 127.0.0.1 does not verify as that address"
openssl verify -verify_hostname gs.example.net -CAfile pki/ca/ca.crt pki/san/api-gs.crt >/dev/null 2>&1 &&
    ok || bad "--san gs.example.net does not verify as that host"
expect 2 "--san 'no such host' is neither a host name nor an IP address" \
    "$L" cert node x --ca pki/ca --out pki/san --san 'no such host'
expect 2 "--san is for 'cert node'" "$L" cert ca --out pki/sanca --san h
expect 2 "more than 8 --san" "$L" cert node y --ca pki/ca --out pki/san \
    --san a --san b --san c --san d --san e --san f --san g --san h --san i

# Another CA: its nodes do not verify against the first.
expect 0 "" "$L" cert ca --out pki/other
expect 0 "" "$L" cert node gs-mad --ca pki/other --out pki/rogue
openssl verify -CAfile pki/ca/ca.crt pki/rogue/gs-mad.crt >x 2>&1 &&
    bad "a certificate of another CA verifies: $(cat x)" || ok
openssl x509 -in pki/other/ca.crt -noout -subject | grep -q '^subject=CN = lagrange-ca$' &&
    ok || bad "default CA name"

# ---- mutual TLS 1.3 between two nodes ----------------------------------------

# tls_server NAME: s_server as node NAME, requiring a client certificate
# of pki/ca; one connection. Sets spid and port.
tls_server() {
    openssl s_server -accept 127.0.0.1:0 -tls1_3 -www -naccept 1 \
        -cert "pki/nodes/$1.crt" -key "pki/nodes/$1.key" \
        -CAfile pki/ca/ca.crt -Verify 1 -verify_return_error \
        </dev/null >srv.log 2>&1 &
    spid=$!
    port=
    i=0
    while [ -z "$port" ] && [ "$i" -lt 300 ] && kill -0 "$spid" 2>/dev/null; do
        port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' srv.log)
        [ -n "$port" ] || sleep 0.1
        i=$((i+1))
    done
    [ -n "$port" ]
}

# tls_client CERTDIR NAME: connect as NAME, expecting the server gs-mad.
tls_client() {
    printf 'GET / HTTP/1.0\r\n\r\n' |
        openssl s_client -connect "127.0.0.1:$port" -tls1_3 -quiet \
            -cert "$1/$2.crt" -key "$1/$2.key" -CAfile pki/ca/ca.crt \
            -verify_return_error -verify_hostname gs-mad >cli.log 2>&1
}

if tls_server gs-mad; then
    tls_client pki/nodes leo-gpu-1
    wait "$spid"
    spid=
    grep -q 'depth=0 CN = leo-gpu-1' srv.log &&
        grep -q '1 server accepts that finished' srv.log &&
        grep -q 'depth=0 CN = gs-mad' cli.log && ok ||
        bad "mutual TLS 1.3 handshake: $(cat srv.log cli.log | head -20)"
else
    bad "openssl s_server did not start: $(cat srv.log)"
fi
if tls_server gs-mad; then
    tls_client pki/rogue gs-mad
    wait "$spid"
    spid=
    grep -q '0 server accepts that finished' srv.log && ok ||
        bad "a node of another CA was accepted: $(head -20 srv.log)"
else
    bad "openssl s_server did not start: $(cat srv.log)"
fi

# ---- overwriting, names, days, bad CA files ---------------------------------

cp pki/nodes/gs-mad.crt before.crt
expect 1 "pki/nodes/gs-mad.key exists (use --force to replace it)" \
    "$L" cert node gs-mad --ca pki/ca --out pki/nodes
cmp -s before.crt pki/nodes/gs-mad.crt && ok || bad "a refused cert changed the file"
expect 1 "pki/ca/ca.key exists" "$L" cert ca --out pki/ca
expect 0 "" "$L" cert node gs-mad --ca pki/ca --out pki/nodes --force
cmp -s before.crt pki/nodes/gs-mad.crt && bad "--force did not replace" || ok
[ "$(mode pki/nodes/gs-mad.key)" = 600 ] && ok || bad "--force key mode"
openssl verify -CAfile pki/ca/ca.crt pki/nodes/gs-mad.crt >/dev/null 2>&1 &&
    ok || bad "a --force certificate does not verify"
ls -a pki/nodes | grep -q '^\.' && [ "$(ls -a pki/nodes | grep -c '^\.gs')" -eq 0 ] &&
    ok || bad "temporary files left: $(ls -a pki/nodes)"

n47=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJK
expect 0 "" "$L" cert node "$n47" --ca pki/ca --out pki/nodes
expect 2 "bad node name" "$L" cert node "${n47}L" --ca pki/ca --out pki/nodes
expect 2 "bad node name 'a/b'" "$L" cert node a/b --ca pki/ca --out pki/nodes
expect 2 "bad node name" "$L" cert node "" --ca pki/ca --out pki/nodes
expect 2 "bad node name" "$L" cert node 'gs mad' --ca pki/ca --out pki/nodes
expect 2 "bad CA name" "$L" cert ca --out pki/x --name 'my ca'
expect 2 "needs the node's NAME" "$L" cert node --ca pki/ca --out pki/nodes
expect 2 "--ca DIR is required" "$L" cert node n1 --out pki/nodes
expect 2 "--out DIR is required" "$L" cert ca
expect 2 "unknown cert command" "$L" cert frob --out x
expect 2 "say 'ca' or 'node NAME'" "$L" cert
expect 2 "--days must be" "$L" cert ca --out pki/d --days 0
expect 2 "--days must be" "$L" cert ca --out pki/d --days 36501
expect 2 "--days must be" "$L" cert ca --out pki/d --days 1x
expect 2 "would replace ca.key" "$L" cert node ca --ca pki/ca --out pki/ca --force
expect 0 "" "$L" cert --help

# --days, and a node never outlives its CA.
expect 0 "" "$L" cert ca --out pki/short --days 10
expect 0 "validity shortened to the CA's end" "$L" cert node n1 --ca pki/short --out pki/short-nodes --days 100
[ "$(openssl x509 -in pki/short/ca.crt -noout -enddate)" = "$(openssl x509 -in pki/short-nodes/n1.crt -noout -enddate)" ] &&
    ok || bad "node validity not clamped to the CA's"
expect 0 "" "$L" cert node n2 --ca pki/ca --out pki/nodes --days 1
openssl x509 -in pki/nodes/n2.crt -noout -checkend 3600 >/dev/null && ok || bad "--days 1 expires within the hour"
openssl x509 -in pki/nodes/n2.crt -noout -checkend 172800 >/dev/null && bad "--days 1 valid for two days" || ok

# Bad CA directories: missing, garbage, a key of another CA, not a CA.
expect 1 "pki/none/ca.key: No such file" "$L" cert node n3 --ca pki/none --out pki/nodes
mkdir -p pki/garbage && echo junk >pki/garbage/ca.key && cp pki/ca/ca.crt pki/garbage/
expect 3 "not a PEM private key" "$L" cert node n3 --ca pki/garbage --out pki/nodes
mkdir -p pki/mixed && cp pki/other/ca.key pki/mixed/ && cp pki/ca/ca.crt pki/mixed/
expect 3 "does not belong to" "$L" cert node n3 --ca pki/mixed --out pki/nodes
mkdir -p pki/leaf && cp pki/nodes/leo-gpu-1.key pki/leaf/ca.key && cp pki/nodes/leo-gpu-1.crt pki/leaf/ca.crt
expect 3 "is not a CA certificate" "$L" cert node n3 --ca pki/leaf --out pki/nodes
[ ! -e pki/nodes/n3.key ] && [ ! -e pki/nodes/n3.crt ] && ok || bad "files written from a bad CA"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
