#!/usr/bin/env bash
# A progressive customer-first campaign end to end through every real part: PostgreSQL, server,
# dialerd, agentd; SIPp plays the trunk (a number's last digit is its fate) and the agents'
# softphones; four carillon-agent --auto clients through agentd answer the script and qualify
# (a callback 20 s later for Nîmes, REFUS for Sète, else VENTE). 60 contacts imported from a CSV
# run to completion; tests/lib/e2e.sh checks every contact, attempt, answer, callback and the
# XLSX export in the database and the file.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"
# shellcheck source=tests/lib/e2e.sh
. "$CARILLON_SOURCE_DIR/tests/lib/e2e.sh"

C='Relance fibre Île-de-France'
e2e_up e2e-progressive 4
e2e_campaign "$C" progressive customer_first 4
e2e_import "$C" 20 60
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
poll "select count(*) from agent_sessions where logged_out_at is null" 0 10
echo "agents_progressive: ok"
