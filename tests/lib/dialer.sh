#!/usr/bin/env bash
# Helpers for the carillon-dialerd integration tests: certificates, free loopback ports, SIPp
# trunks, cr-injector playing the server, and a dialerd configured against them. Sourced after
# common.sh; every process started here is stopped when the test exits.

command -v sipp >/dev/null || fail "sipp (Debian package sip-tester) is required"
for b in carillon-dialerd cr-injector; do
    [ -x "$CARILLON_BUILD_DIR/bin/$b" ] || fail "$CARILLON_BUILD_DIR/bin/$b is not built"
done

# dl_setup NAME: a work directory in $dir with a CA, the injector's and dialer NAME's certificates.
dl_setup() {
    dir=$(mktemp -d "/tmp/carillon-$1-XXXXXX")
    trap_add "if [ -z \"\${KEEP:-}\" ]; then rm -rf '$dir'; else echo 'kept $dir' >&2; fi"
    "$CARILLON_SOURCE_DIR/deploy/pki.sh" ca "$dir" >/dev/null
    "$CARILLON_SOURCE_DIR/deploy/pki.sh" node "$dir" server injector "DNS:localhost,IP:127.0.0.1" >/dev/null
    "$CARILLON_SOURCE_DIR/deploy/pki.sh" node "$dir" dialer "$1" >/dev/null
    dl_node=$1
    pids=()
    trap_add dl_release_claims
    trap_add dl_stop_all
}

dl_stop_all() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}

# Ports and RTP ranges are claimed for the whole test (tests/lib/claims.sh), so that neither
# this test nor another one running alongside takes them while they are not bound yet;
# $dir/claims lists this test's.
# shellcheck source=tests/lib/claims.sh
. "$CARILLON_SOURCE_DIR/tests/lib/claims.sh"
dl_release_claims() { release_claims "$dir/claims" $$; }

# free_port [N]: the first of N consecutive ports (1), each free on TCP and UDP and claimed for
# this test (tests/lib/free-port.sh). Claims, not a shell variable, keep a port from being
# handed out twice: free_port runs in $(...) subshells, whose variables are lost.
free_port() {
    CARILLON_CLAIM_OWNER=$$ CARILLON_CLAIM_LIST=$dir/claims \
        "$CARILLON_SOURCE_DIR/tests/lib/free-port.sh" "${1:-1}" || fail "no free port"
}

# start_trunk NAME SCENARIO [CALLS [SIPP_ARGS...]]: a SIPp UAS (tests/sipp/SCENARIO) for CALLS
# calls (1); sets port[NAME] and pid[NAME]. start_dialerd waits until it listens.
declare -A port pid
start_trunk() {
    local name=$1 scen=$2 calls=${3:-1}
    shift $(($# < 3 ? $# : 3))
    port[$name]=$(free_port)
    # -mp M: SIPp binds M (audio) and M + 2 (video), and exits if it cannot: claim M..M+2
    sipp -sf "$CARILLON_SOURCE_DIR/tests/sipp/$scen" -i 127.0.0.1 -p "${port[$name]}" \
        -mp "$(free_port 3)" -m "$calls" -nostdin -timeout 60s -timeout_error -trace_err "$@" \
        -error_file "$dir/sipp_$name.err" >"$dir/sipp_$name.out" 2>&1 &
    pids+=($!)
    pid[$name]=$!
    dl_trunks_starting+=("$name")
}

# dl_trunks_ready: every trunk started listens (start_dialerd waits for them in parallel). A SIPp
# still starting, or dead, makes the kernel answer ICMP port unreachable, which dialerd rightly
# reports as a transport error (503): the test would fail far from the cause.
dl_trunks_starting=()
dl_trunks_ready() {
    local name start=$SECONDS
    for name in "${dl_trunks_starting[@]}"; do
        until ss -Hlntu "sport = :${port[$name]}" 2>/dev/null | grep -q .; do
            if ! pid_alive "${pid[$name]}" || [ $((SECONDS - start)) -ge 20 ]; then
                head -5 "$dir/sipp_$name.out" >&2
                fail "SIPp trunk $name did not listen on port ${port[$name]}"
            fi
            sleep 0.05
        done
    done
    dl_trunks_starting=()
}

# start_engine_trunk [ACK_LOST_PERCENT]: the engine tests' trunk (tests/sipp/engine_trunk.xml: a
# number's last digit is its fate) on 127.0.0.1:$trunk_port for 300 s, each SIP message in
# $dir/trunk_msgs.log; returns once it listens. ACK_LOST_PERCENT: that share of the ACKs to its
# 200 OKs is dropped on arrival (SIPp's lost=), as a busy network would: the trunk sends its 200
# again and the dialer must acknowledge it again.
start_engine_trunk() {
    local scen="$CARILLON_SOURCE_DIR/tests/sipp/engine_trunk.xml"
    if [ -n "${1:-}" ]; then
        sed '/^  <recv request="ACK" \/>$/{N;s|^  <recv request="ACK" />\(\n  <pause milliseconds="1500" />\)|  <recv request="ACK" lost="'"$1"'" />\1|}' \
            "$scen" >"$dir/engine_trunk.xml"
        grep -q "lost=\"$1\"" "$dir/engine_trunk.xml" || fail "start_engine_trunk: no ACK to lose in $scen"
        scen=$dir/engine_trunk.xml
    fi
    trunk_port=$(free_port)
    sipp -sf "$scen" -i 127.0.0.1 -p "$trunk_port" \
        -mp "$(free_port 3)" -nostdin -timeout 300s -trace_msg -message_file "$dir/trunk_msgs.log" \
        -trace_err -error_file "$dir/trunk.err" >"$dir/trunk.out" 2>&1 &
    trunk_pid=$!
    pids+=("$trunk_pid")
    for _ in $(seq 1 200); do
        ss -Hlun "sport = :$trunk_port" | grep -q . && return 0
        pid_alive "$trunk_pid" || { cat "$dir/trunk.out" >&2; fail "the SIPp trunk did not start"; }
        sleep 0.05
    done
    fail "the SIPp trunk did not listen on port $trunk_port"
}

# fates_followed CAMPAIGN...: every contact of these campaigns ended as its number's last digit
# says (engine_trunk.xml), under the engine tests' outcome rules: busy twice then failed, no
# answer once then shelved, not a number failed, answered done with VENTE (a blacklisted,
# blocked number is never called: no fate).
fates_followed() {
    local names bad
    names=$(printf "'%s'," "$@")
    bad=$(psql -Atc "
    select c.id || ' ' || a.number || ' ' || c.state || ' ' || c.attempts || ' ' ||
           coalesce(c.last_qualification, '-')
      from contacts c join addresses a on a.contact_id = c.id join campaigns k on k.id = c.campaign_id
     where k.name in (${names%,}) and a.state <> 'blocked'
       and not case right(a.number, 1)
           when '6' then c.state = 'failed' and c.attempts = 2
           when '7' then c.state = 'failed' and c.attempts = 2
           when '8' then c.state = 'shelved' and c.attempts = 1
           when '9' then c.state = 'failed' and c.attempts = 1 and a.state = 'failed'
           else c.state = 'done' and c.attempts = 1 and c.last_qualification = 'VENTE' end")
    [ -z "$bad" ] || fail "contacts whose end does not follow from their number: $bad"
}

# engine_campaign_yaml NAME NO_ANSWER_MAX AGENT...: the YAML of a progressive customer-first
# campaign open every day, every hour, with the engine tests' outcome rules (busy twice then
# failed, no answer NO_ANSWER_MAX times then shelved), one final qualification VENTE, stopping
# when every contact is done.
engine_campaign_yaml() {
    local name=$1 no_answer=$2 d
    shift 2
    cat <<EOF
name: '$name'
time_zone: 'Europe/Paris'
dialing: {mode: progressive, call_order: customer_first, max_simultaneous_calls: 50,
          ring_timeout_s: 5, abandon_after_ms: 5000}
outcomes:
  busy: {retry_delay_s: 0, max_attempts: 2, after_last: failed}
  no_answer: {retry_delay_s: 0, max_attempts: $no_answer, after_last: shelved}
  trunk_failure: {retry_delay_s: 0, max_attempts: 2, after_last: failed}
stop: {when_all_done: true}
qualification_mode: manual
qualification_group: 'g'
qualifications:
- {code: 'VENTE', name: 'Vente', type: positive, final: true, groups: ['g']}
agents: [$(printf "'%s'," "$@" | sed 's/,$//')]
schedule:
EOF
    for d in monday tuesday wednesday thursday friday saturday sunday; do
        printf -- "- {day: %s, start: '00:00', end: '24:00'}\n" "$d"
    done
}

# start_cr_agents ARG...: cr-agents (tests/lib/cr-agents.c) plays agentd1 on the stack's server
# (its certificate made here) with these arguments (--agent, --timeout, --qualify...); its stdin is
# the fifo $dir/agents.in, held open on fd 3 (echo 'logout agent1' >&3), its output
# $dir/agents.out; $agents_pid is its pid.
start_cr_agents() {
    [ -f "$CARILLON_STACK_DIR/pki/agentd1.pem" ] ||
        "$CARILLON_SOURCE_DIR/deploy/pki.sh" node "$CARILLON_STACK_DIR/pki" agentd agentd1 >/dev/null
    mkfifo "$dir/agents.in"
    exec 3<>"$dir/agents.in"
    cr-agents --server "$CARILLON_SERVER" --ca "$CARILLON_STACK_DIR/pki/ca.pem" \
        --cert "$CARILLON_STACK_DIR/pki/agentd1.pem" --key "$CARILLON_STACK_DIR/pki/agentd1.key" \
        --node agentd1 "$@" <"$dir/agents.in" >"$dir/agents.out" 2>&1 &
    agents_pid=$!
    pids+=("$agents_pid")
}

# agent_phone NAME: an agent's softphone, an auto-answering SIPp (port[phone_NAME]) for 300 s, its
# audio to a cr-rtp-sink; dl_trunks_ready waits until it listens.
agent_phone() {
    local sink
    sink=$(free_port)
    cr-rtp-sink --listen "127.0.0.1:$sink" --timeout 300 >"$dir/sink_$1.out" 2>&1 &
    pids+=($!)
    start_trunk "phone_$1" softphone_autoanswer.xml 1 -set sink "$sink" -timeout 300s
}

# trunk_ok NAME: its SIPp exits 0 (every call went as the scenario says).
trunk_ok() {
    local trc=0
    timeout 20 tail --pid="${pid[$1]}" -f /dev/null || true
    wait "${pid[$1]}" || trc=$?
    if [ "$trc" != 0 ]; then
        cat "$dir/sipp_$1.err" >&2 2>/dev/null || true
        fail "SIPp trunk $1 exited $trc"
    fi
}

# start_injector: cr-injector running $dir/script (INJ_TIMEOUT s at most, 60 by default); sets
# inj and inj_port.
start_injector() {
    # emptied here, not by the background job's redirection, which may come after the wait
    # below has read a line the injector before this one wrote
    : >"$dir/injector.out"
    cr-injector --listen 127.0.0.1:0 --ca "$dir/ca.pem" --cert "$dir/injector.pem" \
        --key "$dir/injector.key" --timeout "${INJ_TIMEOUT:-60}" --script "$dir/script" \
        >"$dir/injector.out" 2>&1 &
    inj=$!
    pids+=("$inj")
    wait_for_log "$dir/injector.out" '^listening port=' 10
    inj_port=$(sed -n 's/^listening port=//p' "$dir/injector.out")
}

# start_dialerd TRUNK [DIALER_KEYS [TRUNK_KEYS]]: writes $dir/dialerd.conf (TRUNK: a port on
# 127.0.0.1 or a whole URI; extra keys as "k = v\nk = v") and starts dialerd. DL_RTP_SPAN: the
# width of its RTP port range (100: 50 calls).
start_dialerd() {
    local rtp span=${DL_RTP_SPAN:-100}
    rtp=$(claim_rtp_range "$span" $$ "$dir/claims") || fail "no free RTP port range of $span"
    {
        echo "[dialer]"
        echo "node_name = $dl_node"
        echo "sip_address = 127.0.0.1"
        echo "sip_port = $(free_port)"
        echo "rtp_port_min = $rtp"
        echo "rtp_port_max = $((rtp + span - 1))"
        printf '%b\n' "${2:-}"
        # calls the tests hold without an agent must not be abandoned, unless a test says so
        case ${2:-} in *abandon_after*) ;; *) echo "abandon_after = 0" ;; esac
        echo "[trunk]"
        case $1 in *:*) echo "uri = $1" ;; *) echo "uri = sip:127.0.0.1:$1" ;; esac
        printf '%b\n' "${3:-}"
        echo "[server]"
        echo "address = 127.0.0.1:$inj_port"
        echo "tls_ca = $dir/ca.pem"
        echo "tls_cert = $dir/$dl_node.pem"
        echo "tls_key = $dir/$dl_node.key"
    } >"$dir/dialerd.conf"
    dl_trunks_ready
    : >"$dir/dialerd.log" # now, not later in the background (see start_injector)
    carillon-dialerd --config "$dir/dialerd.conf" >"$dir/dialerd.log" 2>&1 &
    dialerd=$!
    pids+=("$dialerd")
}

# wait_for_count FILE REGEX N [TIMEOUT]: FILE holds N lines matching REGEX.
wait_for_count() {
    local start=$SECONDS
    until [ "$(grep -cE -- "$2" "$1" 2>/dev/null)" = "$3" ]; do
        [ $((SECONDS - start)) -ge "${4:-20}" ] && fail "$1: not $3 lines matching '$2'"
        sleep 0.05
    done
}

# injector_ok: cr-injector ended its script with exit 0.
injector_ok() {
    local rc=0
    wait "$inj" || rc=$?
    if [ "$rc" != 0 ]; then
        cat "$dir/injector.out" >&2
        tail -30 "$dir/dialerd.log" >&2
        fail "cr-injector exited $rc (1 timeout, 3 link closed, 4 an event arrived twice)"
    fi
}

# ended_line ID: the attempt's one ENDED event line (fails unless there is exactly one).
ended_line() {
    [ "$(grep -c "^event attempt=$1 state=ended " "$dir/injector.out")" = 1 ] ||
        fail "attempt $1: not exactly one ENDED event"
    grep "^event attempt=$1 state=ended " "$dir/injector.out"
}

# dialerd_exited_ok SECONDS: dialerd (already asked to stop) exits within SECONDS, with 0
# and no sanitizer report.
dialerd_exited_ok() {
    wait_for_exit "$dialerd" "$1"
    local drc=0
    wait "$dialerd" || drc=$?
    [ "$drc" = 0 ] || { tail -30 "$dir/dialerd.log" >&2; fail "carillon-dialerd exited $drc"; }
    if grep -q "Sanitizer" "$dir/dialerd.log"; then
        cat "$dir/dialerd.log" >&2
        fail "sanitizer report in dialerd.log"
    fi
}

# stop_dialerd: TERM, exit 0, no sanitizer report.
stop_dialerd() {
    kill -TERM "$dialerd" 2>/dev/null || true
    dialerd_exited_ok 20
}
