#!/usr/bin/env bash
# The dialer part of the demo (deploy/demo.sh runs it): carillon-dialerd places four customer
# calls through a SIPp trunk on loopback, keeps agent Camille's softphone (SIPp, auto-answer) on
# a nailed-up call, bridges the customer who answers to her, and reports every outcome. Until the
# campaign engine exists, cr-injector (tests/lib) plays the server's side of dialerd's link.
#   deploy/demo-dialer.sh DIR      work files in DIR/dialer (certificates, config, logs)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
bin=${CARILLON_BUILD_DIR:-$repo/build}/bin
[ $# -eq 1 ] || { echo "usage: deploy/demo-dialer.sh DIR" >&2; exit 2; }
command -v sipp >/dev/null || { echo "demo: sipp (Debian package sip-tester) is missing" >&2; exit 1; }
d=$1/dialer
rm -rf "$d"
mkdir -p "$d"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

used=" "
port() { # a TCP and UDP loopback port nothing holds, below the kernel's ephemeral range
    local p
    while :; do
        p=$((20000 + RANDOM % 12700))
        case "$used" in *" $p "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && ! ss -Hlun "sport = :$p" | grep -q .; then
            used+="$p "
            echo "$p"
            return
        fi
    done
}
wait_line() { # FILE REGEX SECONDS
    local t=$((SECONDS + $3))
    until grep -qE "$2" "$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$t" ] || { echo "demo: no '$2' in $1" >&2; cat "$1" >&2; exit 1; }
        sleep 0.1
    done
}

deploy/pki.sh ca "$d" >/dev/null
deploy/pki.sh node "$d" server injector "DNS:localhost,IP:127.0.0.1" >/dev/null
deploy/pki.sh node "$d" dialer dialer-demo >/dev/null

sipp_run() { # NAME SCENARIO CALLS [ARGS...]: a SIPp UAS on a free port; sets sport
    local name=$1 scen=$2 calls=$3
    shift 3
    sport=$(port)
    sipp -sf "tests/sipp/$scen" -i 127.0.0.1 -p "$sport" -mp "$(port)" -m "$calls" -nostdin \
        -timeout 60s "$@" >"$d/sipp_$name.out" 2>&1 &
    pids+=($!)
}
sipp_run trunk bench_uas.xml 2 # the number's first digit: 2 busy, 3 rings (no answer)
trunk=$sport
sipp_run talk uas_answer_play.xml 1 # answers, speaks (SIPp's 6 s A-law sample), hangs up
talk=$sport
media=$(port)
"$bin/cr-rtp-sink" --listen "127.0.0.1:$media" --timeout 60 >"$d/camille_media.out" 2>&1 &
pids+=($!)
sink=$!
sipp_run camille softphone_autoanswer.xml 1 -set sink "$media"
camille=$sport

cat >"$d/orders" <<EOF
agent 1 sip:camille@127.0.0.1:$camille
waitagent 1 up
call 101 sip:0612345678@127.0.0.1:$talk
call 102 2022334455
call 103 3033445566 ring_timeout_ms=3000
call 104 06-12
wait 101 answered
bridge 101 1
wait 101 ended
wait 102 ended
wait 103 ended
wait 104 ended
agentclose 1
waitagent 1 closed
EOF
"$bin/cr-injector" --listen 127.0.0.1:0 --ca "$d/ca.pem" --cert "$d/injector.pem" \
    --key "$d/injector.key" --timeout 60 --script "$d/orders" >"$d/server_side.out" 2>&1 &
inj=$!
pids+=("$inj")
wait_line "$d/server_side.out" '^listening port=' 10
# RTP: 100 ports of 10000-19999 that nothing holds (where the dialer tests take theirs too;
# dialerd skips a port another program has taken meanwhile)
for _ in $(seq 1 50); do
    rtp=$((10000 + RANDOM % 100 * 100))
    ss -Hlun "sport >= :$rtp and sport <= :$((rtp + 99))" | grep -q . || break
done
cat >"$d/dialerd.conf" <<EOF
[dialer]
node_name = dialer-demo
sip_address = 127.0.0.1
sip_port = $(port)
rtp_port_min = $rtp
rtp_port_max = $((rtp + 99))
max_calls = 100
max_cps = 10
ring_timeout = 30s
abandon_after = 2s
[trunk]
uri = sip:127.0.0.1:$trunk
caller_id = 0187654321
[server]
address = 127.0.0.1:$(sed -n 's/^listening port=//p' "$d/server_side.out")
tls_ca = $d/ca.pem
tls_cert = $d/dialer-demo.pem
tls_key = $d/dialer-demo.key
EOF
echo "demo: carillon-dialerd --config $d/dialerd.conf (trunk sip:127.0.0.1:$trunk, agent Camille's softphone on port $camille)"
"$bin/carillon-dialerd" --config "$d/dialerd.conf" >"$d/dialerd.log" 2>&1 &
dialerd=$!
pids+=("$dialerd")
wait_line "$d/server_side.out" '^done' 40
kill -TERM "$dialerd"
wait "$dialerd" || { tail -20 "$d/dialerd.log" >&2; exit 1; }
kill -TERM "$sink"
wait_line "$d/camille_media.out" '^rtp ' 10

echo "demo: what the server was told (one line per call):"
printf '  %-8s %-15s %-10s %-12s %-8s %-8s %s\n' attempt outcome sip_status hung_up_by ring_ms talk_ms detail
sed -n 's/^event attempt=\([0-9]*\) state=ended outcome=\([a-z_]*\) sip_status=\([0-9]*\) hung_up_by=\([a-z]*\) call_id=[^ ]* ring_ms=\([0-9-]*\) talk_ms=\([0-9-]*\) .* detail=\(.*\) seq=.*/\1 \2 \3 \4 \5 \6 \7/p' \
    "$d/server_side.out" | sort -n | while read -r a o s h r t detail; do
    printf '  %-8s %-15s %-10s %-12s %-8s %-8s %s\n' "$a" "$o" "$s" "$h" "$r" "$t" "$detail"
done
grep '^agent_event agent=1 ' "$d/server_side.out" | sed 's/ call_id=[^ ]*//; s/^/  /'
audio=$(sed -n 's/^rtp .* audio=\([0-9]*\) .*/\1/p' "$d/camille_media.out")
dtmf=$(sed -n 's/^rtp .* dtmf=\([0-9]*\) .*/\1/p' "$d/camille_media.out")
echo "demo: Camille's softphone received $audio audio packets (the customer's voice, relayed while bridged, and silence while idle) and $dtmf RFC 4733 packets (the customer pressed 1)"
