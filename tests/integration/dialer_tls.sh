#!/usr/bin/env bash
# carillon-dialerd towards a trunk over TLS (transport = tls): calls by number to a sips: trunk
# and to a sip: URI both go out over TLS and are answered; a trunk whose certificate another CA
# signed is refused (the handshake fails: trunk_failure), and nothing is sent to it in clear.
# The trunks are cr-sip-tls-uas (sofia-sip), since Debian's SIPp is built without TLS.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"
[ -x "$CARILLON_BUILD_DIR/bin/cr-sip-tls-uas" ] || fail "cr-sip-tls-uas is not built"

dl_setup dialer-tls
pki=$CARILLON_SOURCE_DIR/deploy/pki.sh
"$pki" node "$dir" server trunk "DNS:localhost,IP:127.0.0.1" >/dev/null
mkdir -p "$dir/rogue" "$dir/trunk-certs" "$dir/rogue-certs" "$dir/dialer-certs"
"$pki" ca "$dir/rogue" >/dev/null
"$pki" node "$dir/rogue" server trunk "DNS:localhost,IP:127.0.0.1" >/dev/null
# sofia-sip's layout: agent.pem = certificate then key; cafile.pem = the CAs trusted.
cat "$dir/trunk.pem" "$dir/trunk.key" >"$dir/trunk-certs/agent.pem"
cat "$dir/rogue/trunk.pem" "$dir/rogue/trunk.key" >"$dir/rogue-certs/agent.pem"
cat "$dir/dialer-tls.pem" "$dir/dialer-tls.key" >"$dir/dialer-certs/agent.pem"
for d in trunk-certs rogue-certs dialer-certs; do cp "$dir/ca.pem" "$dir/$d/cafile.pem"; done
chmod 600 "$dir"/*-certs/agent.pem

good=$(free_port)
rogue=$(free_port)
cr-sip-tls-uas --listen "127.0.0.1:$good" --certs "$dir/trunk-certs" --calls 2 --timeout 60 \
    >"$dir/good.out" 2>&1 &
good_pid=$!
pids+=("$good_pid")
cr-sip-tls-uas --listen "127.0.0.1:$rogue" --certs "$dir/rogue-certs" --timeout 60 \
    >"$dir/rogue.out" 2>&1 &
pids+=($!)
wait_for_log "$dir/good.out" '^listening$' 10
wait_for_log "$dir/rogue.out" '^listening$' 10

cat >"$dir/script" <<EOF
call 1 0612345678
wait 1 answered
hangup 1
wait 1 ended
call 2 sip:0612345678@127.0.0.1:$good
wait 2 answered
hangup 2
wait 2 ended
call 3 sip:0612345678@127.0.0.1:$rogue ring_timeout_ms=2000
wait 3 ended
EOF
start_injector
# sofia-sip's TLS transport leaks its OpenSSL objects at exit (see the file).
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$CARILLON_SOURCE_DIR/tests/lib/lsan-sofia-tls.supp:print_suppressions=0"
start_dialerd "sips:127.0.0.1:$good" "transport = tls\ntls_dir = $dir/dialer-certs"
injector_ok

assert_contains "$(ended_line 1)" "outcome=answered sip_status=200 hung_up_by=dialer"
assert_contains "$(ended_line 2)" "outcome=answered sip_status=200 hung_up_by=dialer"
# The handshake fails: no SIP response at all, the call ends as a trunk failure.
assert_contains "$(ended_line 3)" "outcome=trunk_failure"
assert_contains "$(ended_line 3)" "answered_at_us=0"
[ "$(grep -c '^invite .* transport=SIP/2.0/TLS$' "$dir/good.out")" = 2 ] ||
    fail "the trunk did not get two INVITEs over TLS: $(cat "$dir/good.out")"
if grep -q '^invite' "$dir/rogue.out"; then fail "an INVITE reached the trunk with the wrong CA"; fi
wait_for_exit "$good_pid" 10

# No tls_dir with transport = tls: a clear refusal at start.
printf '[dialer]\ntransport = tls\n[trunk]\nuri = sips:127.0.0.1:5061\n[server]\naddress = 127.0.0.1:1\ntls_ca = %s\ntls_cert = %s\ntls_key = %s\n' \
    "$dir/ca.pem" "$dir/dialer-tls.pem" "$dir/dialer-tls.key" >"$dir/bad.conf"
rc=0
carillon-dialerd --config "$dir/bad.conf" >"$dir/bad.log" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "dialerd started with transport = tls and no tls_dir"
assert_contains "$(cat "$dir/bad.log")" "tls_dir: needed with transport = tls"
stop_dialerd
echo "PASS dialer_tls"
