#!/usr/bin/env bash
# Answering-machine detection in dialerd: SIPp trunks answer and play a customer's voice
# (tests/sipp/amd_answer_play.xml), made here with espeak-ng and sox (no recording of anyone):
# a person ("Allô ?" then silence) and an answering machine (a 9 s announcement, then a
# 1000 Hz beep, then silence). Checks the DETECTED verdicts; HANG_UP hangs up a machine
# (outcome machine) and never a person; REPORT keeps a machine's call up; LEAVE_MESSAGE plays
# the message after the beep (the trunk's sink receives it whole, and it started after the
# beep's end); an unknown message name refuses the order.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"
[ -x "$CARILLON_BUILD_DIR/bin/cr-rtp-sink" ] || fail "cr-rtp-sink is not built"
command -v espeak-ng >/dev/null || fail "espeak-ng is required (deploy/bootstrap.sh installs it)"
command -v sox >/dev/null || fail "sox is required (deploy/bootstrap.sh installs it)"

dl_setup dialer-amd

# The voices, 8 kHz raw A-law as SIPp's rtp_stream plays them.
espeak-ng -v fr -s 160 -w "$dir/hello.wav" "Allô ?"
sox "$dir/hello.wav" -r 8000 -c 1 -t al "$dir/human.al" pad 0.2 6
espeak-ng -v fr -s 160 -w "$dir/vm.wav" "Bonjour, vous êtes bien sur la messagerie de Claire \
Martin. Je ne suis pas disponible pour le moment. Laissez-moi un message après le bip sonore, \
je vous rappellerai dès que possible."
sox "$dir/vm.wav" -r 8000 -c 1 -b 16 "$dir/vm8.wav"
sox -n -r 8000 -c 1 -b 16 "$dir/gap.wav" trim 0 0.3
sox -n -r 8000 -c 1 -b 16 "$dir/beep.wav" synth 0.5 sine 1000 vol 0.4
sox -n -r 8000 -c 1 -b 16 "$dir/tail.wav" trim 0 8
sox "$dir/vm8.wav" "$dir/gap.wav" "$dir/beep.wav" "$dir/tail.wav" -t al "$dir/machine.al"
# where the beep ends in the machine's audio, in ms
beep_end=$(awk -v s="$(soxi -D "$dir/vm8.wav")" 'BEGIN { printf "%d", (s + 0.8) * 1000 }')
# The message: 1 s of A-law samples 0x2A (50 packets the sink counts as "marked").
{
    printf 'RIFF\x64\x1f\x00\x00WAVEfmt \x10\x00\x00\x00\x06\x00\x01\x00'
    printf '\x40\x1f\x00\x00\x40\x1f\x00\x00\x01\x00\x08\x00data\x40\x1f\x00\x00'
    head -c 8000 /dev/zero | tr '\0' '\052'
} >"$dir/promo.wav"

# customer NAME human|machine: a trunk in $dir/NAME playing that voice, its audio to a sink
# ($dir/sink_NAME.out, pid sink[NAME]).
declare -A sink
customer() {
    local s
    mkdir -p "$dir/$1"
    cp "$dir/$2.al" "$dir/$1/amd_customer.al"
    s=$(free_port)
    cr-rtp-sink --listen "127.0.0.1:$s" --timeout 90 --mark 0x2A >"$dir/sink_$1.out" 2>&1 &
    sink[$1]=$!
    pids+=($!)
    wait_for_log "$dir/sink_$1.out" '^listening$' 10
    pushd "$dir/$1" >/dev/null
    start_trunk "$1" amd_answer_play.xml 1 -set sink "$s"
    popd >/dev/null
}
customer person human    # amd=hang_up: a person, not hung up
customer vm_hang machine # amd=hang_up: hung up as a machine
customer vm_msg machine  # amd=leave_message: the message after the beep
customer vm_rep machine  # amd=report: a machine, kept up

u() { echo "sip:0612345678@127.0.0.1:${port[$1]}"; }
cat >"$dir/script" <<EOF
call 4 $(u person) amd=leave_message amd_message=nope
wait 4 ended
call 1 $(u person) amd=hang_up
call 2 $(u vm_hang) amd=hang_up
call 3 $(u vm_msg) amd=leave_message amd_message=promo
call 5 $(u vm_rep) amd=report
wait 1 detected
sleep 2000
hangup 1
wait 1 ended
wait 2 ended
wait 5 detected
sleep 1000
hangup 5
wait 5 ended
wait 3 ended
EOF
INJ_TIMEOUT=50 start_injector
start_dialerd "${port[person]}" "max_calls = 10" "[messages]\npromo = $dir/promo.wav"
injector_ok
out=$(cat "$dir/injector.out")

# amd_line ID STATE: the attempt's AMD line for that state
amd_line() { grep "^amd attempt=$1 state=$2 " "$dir/injector.out" || fail "attempt $1: no AMD line for $2"; }

assert_contains "$(ended_line 4)" "outcome=refused"
assert_contains "$(ended_line 4)" 'amd_message \"nope\" is not one of'

# a person: human, after the silence that follows "Allô ?", and the call stays up
assert_contains "$(amd_line 1 detected)" "verdict=human reason=\"after_greeting_silence\""
assert_contains "$(ended_line 1)" "outcome=answered sip_status=200 hung_up_by=dialer"
assert_contains "$(amd_line 1 ended)" "verdict=human"

# HANG_UP on a machine: verdict, then outcome machine at once
assert_contains "$(amd_line 2 detected)" "verdict=machine"
assert_contains "$(ended_line 2)" "outcome=machine sip_status=200 hung_up_by=dialer"
assert_contains "$(ended_line 2)" "hung up, no message"
ms2=$(sed -n 's/.* ms=\([0-9]*\).*/\1/p' <<<"$(amd_line 2 detected)")
[ "$ms2" -le 5000 ] || fail "machine verdict after $ms2 ms"

# REPORT: a machine verdict, the call kept until the server hangs up
assert_contains "$(amd_line 5 detected)" "verdict=machine"
assert_contains "$(ended_line 5)" "outcome=answered sip_status=200 hung_up_by=dialer"

# LEAVE_MESSAGE: after the beep, the whole message reached the trunk, then the hang-up
assert_contains "$(amd_line 3 detected)" "verdict=machine"
assert_contains "$(ended_line 3)" "outcome=machine sip_status=200 hung_up_by=dialer"
assert_contains "$(ended_line 3)" "after a beep (1000 Hz)"
at=$(sed -n 's/.*amd_message_started attempt=3 .*at_ms=\([0-9]*\).*/\1/p' "$dir/dialerd.log")
[ -n "$at" ] && [ "$at" -ge "$beep_end" ] && [ "$at" -le $((beep_end + 1500)) ] ||
    fail "the message started at ${at:-never} ms, the beep ends at $beep_end ms of the audio"
kill -TERM "${sink[vm_msg]}"
wait_for_log "$dir/sink_vm_msg.out" '^rtp ' 10
assert_contains "$(grep '^rtp ' "$dir/sink_vm_msg.out")" "audio=50 dtmf=0 ssrcs=1 seq_jumps=0"
assert_contains "$(grep '^rtp ' "$dir/sink_vm_msg.out")" "marked=50"
# nobody else heard anything from the dialer
kill -TERM "${sink[vm_hang]}"
wait_for_log "$dir/sink_vm_hang.out" '^rtp ' 10
assert_contains "$(grep '^rtp ' "$dir/sink_vm_hang.out")" "rtp packets=0 "

for t in person vm_hang vm_msg vm_rep; do trunk_ok "$t"; done
stop_dialerd
echo "PASS dialer_amd"
