#!/bin/sh
# test_man.sh - the man pages are lint-clean, complete and agree with the
# programs and the sources they document:
#
#  1. lint: groff -ww (and man --warnings, mandoc -T lint, where installed)
#     print nothing for any page;
#  2. sections: every page has NAME, SYNOPSIS, DESCRIPTION, EXAMPLES and
#     SEE ALSO, lagranged(8) also SIGNALS, FILES, ENVIRONMENT and EXIT
#     STATUS, lagrange(1) EXIT STATUS and ENVIRONMENT; each EXAMPLES holds
#     at least one example block (.EX or .nf);
#  3. lagranged(8) against `lagranged --help`: every long option of the
#     help is in OPTIONS, every long option of OPTIONS is in the help;
#     every EXIT_* of daemon/main.c is in EXIT STATUS;
#  4. lagrange(1) against `lagrange --help`: every verb is in the
#     SYNOPSIS and has its subsection (or its own page, lagrange-VERB(1));
#     every long option of `lagrange VERB --help` is in that subsection,
#     or in one of the subsections of shared options (Models, Control
#     socket options, Connection options, Listings), or in the verb's own
#     page; every EXIT_* of cli/cli.h is in EXIT STATUS;
#  5. lagranged.conf(5) against daemon/config.c: every key of key_names[]
#     is a tagged item of KEYS whose text says its default (or that it is
#     required), and that default is the one `lagranged -n` prints for a
#     configuration that leaves the key out;
#  6. lagrange-topology(5) against lib/plan/topology.c: every entity
#     (is_key(w[0], "...")), every key of the Node, Profile and Link key
#     tables, every kind and every unit suffix of lib/common/units.c is
#     documented.
#
# Keys, options, verbs and exit codes are read from the sources and the
# programs each run, so a new one fails here until its page says it.
# Uses LG_SRCDIR, LAGRANGED and LAGRANGE like test_lagranged.sh.
set -u
src=$(cd "${LG_SRCDIR:-$(dirname "$0")/..}" && pwd)
LD=${LAGRANGED:-./daemon/lagranged}
L=${LAGRANGE:-./cli/lagrange}
case $LD in /*) ;; *) LD=$(pwd)/$LD ;; esac
case $L in /*) ;; *) L=$(pwd)/$L ;; esac
M=$src/man
PAGES="lagranged.8 lagranged.conf.5 lagrange-topology.5 lagrange.1
lagrange-contacts.1"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*"; }
note() { echo "# $*"; }
have() { command -v "$1" >/dev/null 2>&1; }

for p in $PAGES; do
    [ -f "$M/$p" ] && ok || { bad "$p: missing"; exit 1; }
done

# ---- 1. lint ---------------------------------------------------------------

if have groff; then
    for p in $PAGES; do
        groff -ww -z -t -man -Tutf8 "$M/$p" >"$T/lint" 2>&1
        [ -s "$T/lint" ] && bad "$p: groff -ww: $(head -5 "$T/lint")" || ok
    done
else
    note "groff not installed: groff -ww lint skipped"
fi
if have man; then
    for p in $PAGES; do
        MANWIDTH=80 man --warnings -l -E UTF-8 "$M/$p" >/dev/null 2>"$T/lint"
        [ -s "$T/lint" ] && bad "$p: man --warnings: $(head -5 "$T/lint")" || ok
    done
else
    note "man not installed: man --warnings -l skipped"
fi
if have mandoc; then
    for p in $PAGES; do
        mandoc -T lint -W warning "$M/$p" >"$T/lint" 2>&1
        [ -s "$T/lint" ] && bad "$p: mandoc -T lint: $(head -5 "$T/lint")" || ok
    done
else
    note "mandoc not installed: mandoc -T lint skipped"
fi

# ---- rendering -------------------------------------------------------------
# Plain text, one paragraph per line (no filling, no hyphenation), so that
# an option is never split across lines: sections at column 0, subsections
# at 3, text at 7 or more. Without groff, mandoc; without either, a crude
# sed rendering of the roff source that keeps the same layout.

crude() {
    sed -e 's/\\-/-/g; s/\\f[BIRP]//g; s/\\f(..//g; s/\\(em/--/g' \
        -e 's/\\(..//g; s/\\&//g; s/\\e/\\/g; s/\\ / /g' "$1" |
    awk '/^\.SH/ { sub(/^\.SH +/, ""); gsub(/"/, ""); print; next }
         /^\.SS/ { sub(/^\.SS +/, ""); gsub(/"/, ""); print "   " $0; next }
         /^\.(B|I|BR|RB|BI|IB|IR|RI) / {
             sub(/^\.[A-Z]+ /, "")
             if ($0 ~ /^\.(B|I) /) print "       " $0
             else { s = ""; q = 0
                 for (i = 1; i <= length($0); i++) {
                     c = substr($0, i, 1)
                     if (c == "\"") { q = !q; continue }
                     if (c == " " && !q) continue
                     s = s c }
                 print "       " s }
             next }
         /^\.(B|I) / { sub(/^\.[A-Z] /, ""); print "       " $0; next }
         /^\./ { next }
         { print "       " $0 }'
}
render() {
    if have groff; then
        groff -man -t -Tascii -rLL=2000n -rHY=0 -P-c -P-b -P-u "$1" 2>/dev/null
    elif have mandoc; then
        mandoc -T ascii -O width=2000 "$1" 2>/dev/null | col -b
    else
        crude "$1"
    fi
}
have groff || have mandoc || note "neither groff nor mandoc: crude rendering"
for p in $PAGES; do
    render "$M/$p" >"$T/$p.txt"
    [ -s "$T/$p.txt" ] && ok || bad "$p: renders to nothing"
done

# sect PAGE NAME: the rendered text of section NAME (without its heading).
sect() {
    awk -v s="$2" '/^[A-Z]/ { on = ($0 == s); next } on' "$T/$1.txt"
}
# subsect PAGE NAME: the text of subsection NAME, in any section.
subsect() {
    awk -v s="$2" '/^[^ ]/ || /^   [^ ]/ { h = $0; sub(/^ +/, "", h)
                        on = (h == s) && /^   /; next } on' "$T/$1.txt"
}
# longopts: the long options in standard input, one per line.
longopts() {
    grep -o -- '\(^\|[^A-Za-z0-9-]\)--[a-z][a-z0-9-]*' |
        sed 's/^[^-]*--/--/' | sort -u
}
# has_opt OPT: standard input mentions OPT as a whole word.
has_opt() {
    grep -q -- "$1\\([^a-z0-9-]\\|\$\\)"
}

# ---- 2. sections -----------------------------------------------------------

for p in $PAGES; do
    need="NAME SYNOPSIS DESCRIPTION EXAMPLES SEE_ALSO"
    case $p in
        lagranged.8) need="$need SIGNALS FILES ENVIRONMENT EXIT_STATUS" ;;
        lagrange.1) need="$need EXIT_STATUS ENVIRONMENT" ;;
    esac
    for s in $need; do
        s=$(echo "$s" | tr _ ' ')
        grep -q "^\\.SH \"\\?$s\"\\?\$" "$M/$p" && ok ||
            bad "$p: no $s section"
    done
    # An example block: .EX or .nf inside EXAMPLES.
    awk '/^\.SH/ { on = ($0 ~ /EXAMPLES/); next }
         on && /^\.(EX|nf)/ { n++ } END { exit !n }' "$M/$p" && ok ||
        bad "$p: EXAMPLES has no example block (.EX or .nf)"
done

# ---- 3. lagranged(8) and lagranged --help ----------------------------------

if "$LD" --help >"$T/ld.help" 2>&1; then
    ok
else
    bad "lagranged --help failed: $(head -3 "$T/ld.help")"
fi
sect lagranged.8 OPTIONS >"$T/ld.opts"
n=0
for o in $(longopts <"$T/ld.help"); do
    n=$((n+1))
    has_opt "$o" <"$T/ld.opts" && ok ||
        bad "lagranged.8: OPTIONS lacks $o (in lagranged --help)"
done
[ $n -ge 4 ] && ok || bad "lagranged --help: only $n long options found"
for o in $(longopts <"$T/ld.opts"); do
    has_opt "$o" <"$T/ld.help" && ok ||
        bad "lagranged.8: OPTIONS documents $o, which lagranged --help lacks"
done

# exit_codes FILE: the values of its EXIT_* enumerators.
exit_codes() {
    sed -n 's/^[[:space:]]*EXIT_[A-Z_]*[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$1" |
        sort -un
}
# check_exit PAGE SOURCE
check_exit() {
    sect "$1" "EXIT STATUS" >"$T/exit.txt"
    codes=$(exit_codes "$2")
    [ -n "$codes" ] && ok || bad "no EXIT_* values found in $2"
    for c in $codes; do
        grep -Eq "^ +$c( |\$)" "$T/exit.txt" && ok ||
            bad "$1: EXIT STATUS lacks $c (EXIT_* in ${2#$src/})"
    done
}
check_exit lagranged.8 "$src/daemon/main.c"

# ---- 4. lagrange(1) and lagrange --help ------------------------------------

if "$L" --help >"$T/l.help" 2>&1; then ok; else bad "lagrange --help failed"; fi
verbs=$(awk '/^verbs:/ { on = 1; next } on && /^  [a-z]/ { print $1 }
             on && /^$/ { on = 0 }' "$T/l.help")
nv=$(echo "$verbs" | wc -w)
[ "$nv" -ge 10 ] && ok || bad "lagrange --help: only $nv verbs found"
sect lagrange.1 SYNOPSIS >"$T/l.syn"
# Options that several verbs share have their own subsections.
for s in Models "Control socket options" "Connection options" Listings; do
    subsect lagrange.1 "$s"
done >"$T/l.shared"
for v in $verbs; do
    grep -q "lagrange $v\\( \\|\$\\)" "$T/l.syn" && ok ||
        bad "lagrange.1: SYNOPSIS lacks 'lagrange $v'"
    if [ -f "$M/lagrange-$v.1" ]; then
        page=lagrange-$v.1
        cp "$T/$page.txt" "$T/v.txt"
        grep -q "lagrange-$v(1)" "$T/lagrange.1.txt" && ok ||
            bad "lagrange.1: does not refer to lagrange-$v(1)"
    else
        page=lagrange.1
        subsect lagrange.1 "$v" >"$T/v.txt"
        [ -s "$T/v.txt" ] && ok || bad "lagrange.1: no subsection for '$v'"
        cat "$T/l.shared" >>"$T/v.txt"
    fi
    "$L" "$v" --help >"$T/v.help" 2>&1 ||
        bad "lagrange $v --help exited $?"
    for o in $(longopts <"$T/v.help"); do
        [ "$o" = --help ] && continue
        has_opt "$o" <"$T/v.txt" && ok ||
            bad "$page: '$v' does not document $o (in lagrange $v --help)"
    done
done
check_exit lagrange.1 "$src/cli/cli.h"

# ---- 5. lagranged.conf(5) and daemon/config.c ------------------------------

keys=$(awk '/key_names\[/ { on = 1 } on { print } on && /};/ { exit }' \
           "$src/daemon/config.c" | grep -o '"[A-Za-z0-9]*"' | tr -d '"')
nk=$(echo "$keys" | wc -w)
[ "$nk" -ge 20 ] && ok || bad "daemon/config.c: only $nk keys in key_names[]"
# The tagged items of KEYS, as "KEY<tab>item text" (one line each).
awk '/^\.SH/ { on = ($0 ~ /^\.SH "?KEYS/); next }
     !on { next }
     /^\.(TP|SS)/ { if (k != "") print k "\t" body; k = ""; body = ""
                    tag = ($0 ~ /^\.TP/); next }
     tag { t = $0; sub(/^\.[A-Z]+ +/, "", t); gsub(/\\f[BIRP]|"/, "", t)
           sub(/=.*/, "", t); sub(/ .*/, "", t); k = t; tag = 0; next }
     { body = body " " $0 }
     END { if (k != "") print k "\t" body }' "$M/lagranged.conf.5" \
    >"$T/items"
# The normal form of a configuration that sets only what it must: the
# defaults as lagranged prints them (without the systemd directories,
# which move some of them).
printf 'Horizon=1d\nNode=a Kind=ground\n' >"$T/a.topo"
printf 'NodeId=a\nTopology=a.topo\n' >"$T/a.conf"
env -u STATE_DIRECTORY -u RUNTIME_DIRECTORY -u CONFIGURATION_DIRECTORY \
    -u LOGS_DIRECTORY "$LD" -n -f "$T/a.conf" >"$T/nf" 2>"$T/nf.err" &&
    ok || bad "lagranged -n on a minimal configuration: $(head -3 "$T/nf.err")"
for k in $keys; do
    item=$(awk -F '\t' -v k="$k" 'tolower($1) == tolower(k) { print $2 }' \
               "$T/items")
    if [ -z "$item" ]; then
        bad "lagranged.conf.5: KEYS has no item for $k (key_names[] in daemon/config.c)"
        continue
    fi
    ok
    echo "$item" | grep -Eqi 'default|required' && ok ||
        bad "lagranged.conf.5: $k does not state its default"
    case $k in NodeId|Topology) continue ;; esac
    v=$(sed -n "s/^$k=//p" "$T/nf" | head -1)
    if [ -z "$v" ]; then
        bad "lagranged -n does not print $k"
        continue
    fi
    # The page's words, unescaped, and the value as a whole word.
    words=$(echo "$item" | sed 's/\\-/-/g; s/\\f[BIRP]//g; s/\\&//g')
    echo " $words " | grep -Fq -- "$v" && ok ||
        bad "lagranged.conf.5: $k: the default lagranged prints, $v, is not in its item"
done
for k in $(cut -f1 "$T/items"); do
    echo "$keys" | grep -qix "$k" || case $k in
        Peer) ;;
        *) note "lagranged.conf.5 documents $k ahead of daemon/config.c" ;;
    esac
done

# ---- 6. lagrange-topology(5) and lib/plan/topology.c -----------------------

topo=$src/lib/plan/topology.c
tp=lagrange-topology.5
# array NAME FILE: the strings of the static array NAME.
array() {
    awk -v a="$1" 'index($0, a "[") && /=/ { on = 1 } on { print }
                   on && /};/ { exit }' "$2" | sed 's/.*= *{//' |
        grep -o '"[^"]*"' | tr -d '"'
}
ents=$(grep -o 'is_key(w\[0\], "[A-Za-z]*")' "$topo" | sed 's/.*"\(.*\)")/\1/' |
           sort -u)
[ "$(echo "$ents" | wc -w)" -ge 5 ] && ok || bad "$topo: entities not found"
sect $tp ENTITIES >"$T/ents.txt"
for e in $ents; do
    grep -q "\\(^\\| \\)$e\\(=\\|\$\\)" "$T/ents.txt" && ok ||
        bad "$tp: ENTITIES does not document the entity $e="
done
# Every key, as a tagged item (the line after .TP) somewhere in the page.
awk '/^\.TP/ { getline; print }' "$M/$tp" |
    sed 's/\\-/-/g; s/\\f[BIRP]//g; s/"//g; s/^\.[A-Z]* //' >"$T/tags"
for arr in node_keys prof_keys link_keys; do
    ks=$(array $arr "$topo")
    [ -n "$ks" ] && ok || bad "$topo: $arr[] not found"
    for k in $ks; do
        grep -q "\\(^\\|[ ,]\\)$k=" "$T/tags" && ok ||
            bad "$tp: no item for $k= ($arr[] in lib/plan/topology.c)"
    done
done
for kind in $(array kind_names "$topo"); do
    grep -q "\\b$kind\\b" "$T/ents.txt" && ok ||
        bad "$tp: the node kind $kind is not documented"
done
# Unit suffixes, in the Units subsection.
subsect $tp Units >"$T/units.txt"
for tab in lg_units_dur lg_units_dec lg_units_bin; do
    sfx=$(awk -v a="$tab" 'index($0, a "[]") { on = 1 } on { print }
                           on && /};/ { exit }' "$src/lib/common/units.c" |
              grep -o '{ "[A-Za-z]\+"' | sed 's/{ "//; s/"//')
    [ -n "$sfx" ] && ok || bad "units.c: $tab[] not found"
    for s in $sfx; do
        grep -q "\\(^\\|[^A-Za-z]\\)$s\\([^A-Za-z]\\|\$\\)" "$T/units.txt" && ok ||
            bad "$tp: Units does not document the suffix $s ($tab[])"
    done
done
# Schedules and power sources the parser accepts by name.
for w in always none every: orbit grid solar; do
    grep -q -- "$w" "$T/$tp.txt" && ok || bad "$tp: '$w' is not documented"
done
# ION commands: those read and those skipped.
sect $tp "ION CONTACT PLANS" >"$T/ion.txt"
for c in "a contact" "a range" "@"; do
    grep -qF -- "$c" "$T/ion.txt" && ok ||
        bad "$tp: ION CONTACT PLANS does not document '$c'"
done
sk=$(sed -n 's/^static const char skipped\[\] = "\(.*\)";/\1/p' \
         "$src/lib/plan/ion.c")
[ -n "$sk" ] && ok || bad "lib/plan/ion.c: skipped[] not found"
for c in $(echo "$sk" | sed 's/./& /g'); do
    grep -q "\\(^\\|[^A-Za-z0-9]\\)$c\\([^A-Za-z0-9]\\|\$\\)" "$T/ion.txt" && ok ||
        bad "$tp: ION CONTACT PLANS does not say that '$c' is skipped"
done

echo "test_man: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
