#!/usr/bin/env bash
# An agent-first progressive campaign (each call's agent is reserved and hears it ring) end to
# end through every real part: PostgreSQL, server, dialerd, agentd; SIPp plays the trunk (a
# number's last digit is its fate) and the agents' softphones; four carillon-agent --auto
# clients through agentd answer the script and qualify (a callback 20 s later for Nîmes, REFUS
# for Sète, else VENTE). 56 contacts imported from a CSV run to completion; tests/lib/e2e.sh
# checks every contact, attempt, answer, callback and the XLSX export. Agent-first also: every
# answered call reached its agent while it rang.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"
# shellcheck source=tests/lib/e2e.sh
. "$CARILLON_SOURCE_DIR/tests/lib/e2e.sh"

C="Enquête Besançon agent d’abord" # a typographic apostrophe
e2e_up e2e-agentfirst 4
e2e_campaign "$C" progressive agent_first 4
e2e_import "$C" 21 56
assert_exit 0 carillonctl campaign state "$C" ready
assert_exit 0 carillonctl campaign state "$C" running
e2e_auto_agents 4
for a in a1 a2 a3 a4; do
    wait_for_log "$dir/$a.out" '"event":"agent_state_changed".*"state":"(agent_state_)?ready"' 30
done
e2e_wait_finished "$C" 100
e2e_logout a1 a2 a3 a4
e2e_check_campaign "$C"
e2e_check_export "$C"
assert_eq 0 "$(q "select count(*) from attempts where campaign_id = $(camp "$C")
    and outcome = 'answered' and not bridged_at <= answered_at")"
poll "select count(*) from agent_sessions where logged_out_at is null" 0 10
echo "agents_agentfirst: ok"
