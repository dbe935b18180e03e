#!/usr/bin/env bash
# Certificates and roles: each certificate deploy/pki.sh makes has the extended key usage of
# its role; a server that presents a dialer's (or an agentd listener's) certificate and key is
# refused by carillonctl and by carillon-dialerd even though our CA signed it for the right host
# name; a daemon whose certificate is in the CRL configured with [tls] crl is refused.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
cr_stack_up
pki=$CARILLON_STACK_DIR/pki
pkish=$CARILLON_SOURCE_DIR/deploy/pki.sh
local_san="DNS:localhost,IP:127.0.0.1"
"$pkish" node "$pki" dialer dialer1 >/dev/null
"$pkish" node "$pki" agentd agentd1 >/dev/null
"$pkish" listener "$pki" agentd1-listen "$local_san" >/dev/null
# the impostor: a dialer's certificate that names the server's host
"$pkish" node "$pki" dialer posing "$local_san" >/dev/null

# --- extended key usage of each role's certificate -----------------------------------------
eku() { openssl x509 -in "$pki/$1.pem" -noout -ext extendedKeyUsage | sed -n '2s/^ *//p'; }
for c in server1 agentd1-listen; do
    [ "$(eku $c)" = "TLS Web Server Authentication" ] || fail "$c: EKU '$(eku $c)', not serverAuth only"
done
for c in dialer1 agentd1 posing; do
    [ "$(eku $c)" = "TLS Web Client Authentication" ] || fail "$c: EKU '$(eku $c)', not clientAuth only"
done
assert_contains "$(openssl x509 -in "$pki/agentd1-listen.pem" -noout -subject)" "OU = agentd"
# localhost only where the caller asked (the test stack's server1 did, dialer1 did not)
assert_contains "$(openssl x509 -in "$pki/server1.pem" -noout -ext subjectAltName)" "DNS:localhost"
assert_not_contains "$(openssl x509 -in "$pki/dialer1.pem" -noout -text)" "localhost"

# start_other NAME CERT [TLS_LINES]: another carillon-server on the stack's database presenting
# $pki/CERT.pem, with TLS_LINES added to its [tls] section; sets other_port.
start_other() {
    local name=$1 cert=$2 extra=${3:-}
    other_port=$(CARILLON_CLAIM_OWNER=$$ "$CARILLON_SOURCE_DIR/tests/lib/free-port.sh")
    sed -e "s|^listen = .*|listen = 127.0.0.1:$other_port|" \
        -e "s|^pid_file = .*|pid_file = $CARILLON_STACK_DIR/$name.pid|" \
        -e "s|^cert = .*|cert = $pki/$cert.pem|" -e "s|^key = .*|key = $pki/$cert.key|" \
        -e "s|^\[tls\]$|[tls]\n$extra|" "$CARILLON_STACK_DIR/server.conf" >"$CARILLON_STACK_DIR/$name.conf"
    carillon-server --config "$CARILLON_STACK_DIR/$name.conf" >"$CARILLON_STACK_DIR/$name.log" 2>&1 &
    local pid=$!
    trap_add "kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
        ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error: ' '$CARILLON_STACK_DIR/$name.log' ||
        _trap_failed='sanitizer report in $CARILLON_STACK_DIR/$name.log'"
    wait_for_log "$CARILLON_STACK_DIR/$name.log" ' ready ' 30
}

# --- carillonctl refuses a server that is not one ----------------------------------------------
# control: the real server answers
assert_exit 0 carillonctl ping
start_other posing posing
assert_exit 3 carillonctl --server "127.0.0.1:$other_port" ping
assert_contains "$ERR" "TLS handshake failed"
assert_contains "$ERR" "unsuitable certificate purpose"
# a server certificate (serverAuth) that names another role: the role check refuses it
start_other listener agentd1-listen
assert_exit 3 carillonctl --server "127.0.0.1:$other_port" ping
assert_contains "$ERR" "TLS handshake failed"
assert_contains "$ERR" 'tls_peer_role_refused role="agentd" expected="server"'

# --- carillon-dialerd refuses it too; the real server takes the same dialer ------------------
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"
dir=$CARILLON_STACK_DIR/dialer
mkdir -p "$dir"
cp "$pki/ca.pem" "$pki/dialer1.pem" "$pki/dialer1.key" "$dir/"
dl_node=dialer1
pids=()
trap_add dl_release_claims # what dl_setup does, this test making its own $dir
trap_add dl_stop_all
start_other posing2 posing
inj_port=$other_port
start_dialerd 9
wait_for_log "$dir/dialerd.log" "tls_handshake_failed .*unsuitable certificate purpose"
if grep -q "daemon_connected" "$CARILLON_STACK_DIR/posing2.log"; then
    fail "dialerd said Hello to a server holding a dialer's certificate"
fi
stop_dialerd
inj_port=${CARILLON_SERVER##*:}
start_dialerd 9
wait_for_log "$CARILLON_STACK_DIR/server.log" "daemon_connected .*role=dialer"
stop_dialerd

# --- a revoked daemon certificate is refused by a server given the CRL --------------------------
"$pkish" node "$pki" dialer gone >/dev/null
"$pkish" revoke "$pki" gone >/dev/null
start_other withcrl server1 "crl = $pki/crl.pem"
probe() { cr-probe --server "127.0.0.1:$other_port" --ca "$pki/ca.pem" "$@"; }
assert_exit 0 probe --cert "$pki/gone.pem" --key "$pki/gone.key" hello dialer
assert_not_contains "$OUT" "welcome"
assert_contains "$OUT" "closed error=Protocol error"
wait_for_log "$CARILLON_STACK_DIR/withcrl.log" "tls_handshake_failed .*certificate revoked"
# an unrevoked one still comes in
assert_exit 0 probe --cert "$pki/dialer1.pem" --key "$pki/dialer1.key" hello dialer ping
assert_contains "$OUT" "welcome node=server1"
# a CRL file that is not there: the server does not start, and says which file
sed "s|^\[tls\]$|[tls]\ncrl = $pki/missing.pem|" "$CARILLON_STACK_DIR/withcrl.conf" >"$CARILLON_STACK_DIR/badcrl.conf"
sed -i "s|^crl = $pki/crl.pem$||" "$CARILLON_STACK_DIR/badcrl.conf"
assert_exit 2 carillon-server --config "$CARILLON_STACK_DIR/badcrl.conf"
assert_contains "$ERR" "missing.pem"
echo "PASS security_tls"
