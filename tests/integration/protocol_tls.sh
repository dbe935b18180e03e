#!/usr/bin/env bash
# The server's transport: TLS 1.3 only (TLS 1.2 and plaintext refused), daemon roles need a
# certificate from our CA naming the role, and protocol errors (oversized frame, malformed
# frame, unknown message, wrong version) get an Error, then a close where the protocol says so.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
cr_stack_up
host=${CARILLON_SERVER%:*}
port=${CARILLON_SERVER##*:}
pki="$CARILLON_STACK_DIR/pki"
probe() { cr-probe --server "$CARILLON_SERVER" --ca "$CARILLON_CA" "$@"; }

# TLS 1.3 handshake works; TLS 1.2 is refused
assert_exit 0 timeout 10 openssl s_client -connect "$CARILLON_SERVER" -CAfile "$CARILLON_CA" -tls1_3 -brief </dev/null
assert_contains "$ERR$OUT" "TLSv1.3"
assert_exit 1 timeout 10 openssl s_client -connect "$CARILLON_SERVER" -CAfile "$CARILLON_CA" -tls1_2 -brief </dev/null
wait_for_log "$CARILLON_STACK_DIR/server.log" "tls_handshake_failed"

# plaintext: the server closes the connection and never answers in clear
reply=$(timeout 10 bash -c "exec 3<>/dev/tcp/$host/$port; printf 'HELLO plaintext\r\n\r\n' >&3; cat <&3" | head -c 100 | od -c | head -3 || true)
case "$reply" in *HELLO*|*Welcome*) fail "plaintext got an answer: $reply" ;; esac
assert_exit 0 probe ping expect-close
assert_contains "$OUT" "FAILED_PRECONDITION"  # first message must be Hello

# people: hello, then ping; wrong protocol version refused with a clear message
assert_exit 0 probe hello supervisor ping
assert_contains "$OUT" "welcome node=server1 version=1"
assert_contains "$OUT" "pong"
assert_exit 0 probe hello supervisor 2 expect-close
assert_contains "$OUT" "code=FAILED_PRECONDITION field=protocol_version"
assert_contains "$OUT" "unsupported protocol version 2"
assert_contains "$OUT" "closed"

# unknown message: UNIMPLEMENTED, and the connection stays up (the ping after it answers)
assert_exit 0 probe hello supervisor unknown ping
assert_contains "$OUT" "code=UNIMPLEMENTED"
assert_contains "$OUT" "pong"

# malformed frame: Error then close
assert_exit 0 probe hello supervisor garbage expect-close
assert_contains "$OUT" "code=INVALID_ARGUMENT"
assert_contains "$OUT" "closed"

# oversized frame (2 MiB announced, max 1 MiB): Error then close
assert_exit 0 probe hello supervisor oversize 2097152 expect-close
assert_contains "$OUT" "code=RESOURCE_EXHAUSTED"
assert_contains "$OUT" "closed"

# daemon roles: no certificate -> refused
assert_exit 0 probe hello dialer expect-close
assert_contains "$OUT" "code=PERMISSION_DENIED field=role"
assert_contains "$OUT" "none was sent"

# a certificate for another role -> refused
"$CARILLON_SOURCE_DIR"/deploy/pki.sh node "$pki" agentd agentd1 >/dev/null
assert_exit 0 probe --cert "$pki/agentd1.pem" --key "$pki/agentd1.key" hello dialer expect-close
assert_contains "$OUT" "code=PERMISSION_DENIED field=role"

# a certificate from another CA -> the server fails the handshake (in TLS 1.3 the client
# learns it from the alert after its side finished): never a Welcome
other="$CARILLON_STACK_DIR/other-pki"
"$CARILLON_SOURCE_DIR"/deploy/pki.sh ca "$other" >/dev/null
"$CARILLON_SOURCE_DIR"/deploy/pki.sh node "$other" dialer rogue >/dev/null
assert_exit 0 probe --cert "$other/rogue.pem" --key "$other/rogue.key" hello dialer
assert_not_contains "$OUT" "welcome"
assert_contains "$OUT" "closed error=Protocol error"
wait_for_log "$CARILLON_STACK_DIR/server.log" "tls_handshake_failed .*certificate verify failed"

# the right certificate -> welcome as dialer, and people APIs are closed to it
"$CARILLON_SOURCE_DIR"/deploy/pki.sh node "$pki" dialer dialer1 >/dev/null
assert_exit 0 probe --cert "$pki/dialer1.pem" --key "$pki/dialer1.key" hello dialer ping login admin "$CARILLON_PASSWORD"
assert_contains "$OUT" "welcome node=server1"
assert_contains "$OUT" "pong"
assert_contains "$OUT" "code=PERMISSION_DENIED"
wait_for_log "$CARILLON_STACK_DIR/server.log" "daemon_connected .*role=dialer"
echo "PASS protocol_tls"
