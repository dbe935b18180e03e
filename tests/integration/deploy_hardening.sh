#!/usr/bin/env bash
# The plain build operators run (deploy/bootstrap.sh into build/) is hardened like a Debian
# package: every daemon and carillonctl is a PIE, fully RELRO (BIND_NOW + GNU_RELRO), has stack
# protector calls and fortified (_FORTIFY_SOURCE) libc calls. The sanitizer build is not checked:
# fortify needs optimisation and does not mix with ASan.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
plain=$CARILLON_SOURCE_DIR/build
[ -d "$plain/bin" ] || fail "no plain build in $plain/bin: run deploy/bootstrap.sh first (tests/run.sh does)"
command -v readelf >/dev/null || fail "readelf (binutils) is required"

bins=(carillon-server carillonctl carillon-dialerd)
# daemons that arrive later are checked as soon as they are built
for extra in carillon-agentd carillon-agent; do
    [ -x "$plain/bin/$extra" ] && bins+=("$extra")
done

for b in "${bins[@]}"; do
    f=$plain/bin/$b
    [ -x "$f" ] || fail "$f is not built (deploy/bootstrap.sh builds it)"
    header=$(readelf -h "$f")
    case "$header" in *"DYN (Position-Independent Executable file)"* | *"Type:"*"DYN "*) ;;
    *) fail "$b is not a PIE: $(grep 'Type:' <<<"$header")" ;; esac
    dynamic=$(readelf -d "$f")
    grep -qE 'FLAGS.*BIND_NOW' <<<"$dynamic" || fail "$b: no BIND_NOW (link with -z now)"
    grep -qE 'FLAGS_1.*PIE' <<<"$dynamic" || fail "$b: no PIE flag in its dynamic section"
    readelf -lW "$f" | grep -q GNU_RELRO || fail "$b: no GNU_RELRO segment (link with -z relro)"
    syms=$(readelf --dyn-syms -W "$f")
    grep -q ' __stack_chk_fail' <<<"$syms" || fail "$b: no __stack_chk_fail (-fstack-protector-strong)"
    grep -qE ' __[a-z0-9_]+_chk(@|$)' <<<"$syms" || fail "$b: no fortified *_chk call (-D_FORTIFY_SOURCE)"
    echo "ok $b: PIE, BIND_NOW, RELRO, stack protector, fortified ($(grep -oE ' __[a-z0-9_]+_chk' <<<"$syms" | sort -u | wc -l) *_chk)"
done
echo "PASS deploy_hardening"
