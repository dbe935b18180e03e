#!/usr/bin/env bash
# A preview campaign driven by a scripted agent through every real part (PostgreSQL, server,
# dialerd, agentd, SIPp trunk and softphone, carillon-agent --script fed by this test as the
# events arrive): the first contact offered is dialled, answered, its answers saved and
# qualified; the second is skipped with a reason (stored in attempts.detail, not counted, the
# number never called); the third is left alone until preview_timeout_s (3 s) skips it.
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=tests/lib/dialer.sh
. "$CARILLON_SOURCE_DIR/tests/lib/dialer.sh"
# shellcheck source=tests/lib/e2e.sh
. "$CARILLON_SOURCE_DIR/tests/lib/e2e.sh"

C="Aperçu Côte d’Azur" # a typographic apostrophe
e2e_up e2e-preview 1
e2e_campaign "$C" preview customer_first 1 '  preview_timeout_s: 3\n  preview_timeout_action: skip'
e2e_import "$C" 30 3 # three answering numbers (last digits 0, 1, 2)
assert_exit 0 carillonctl campaign state "$C" ready
assert_exit 0 carillonctl campaign state "$C" running
e2e_agent 1
out=$dir/a1.out
wait_for_log "$out" '"event":"agent_login_ok"' 30
# no "ready" command: the agent is ready by itself once its softphone's leg is up, and the
# first offer may come at once (a "ready" sent then is refused: the agent is in preview)

# offered N: the attempt id of the Nth call_offered (waits for it)
offered() {
    wait_for_count "$out" '"event":"call_offered"' "$1" 30
    grep '"event":"call_offered"' "$out" | sed -n "${1}p" | jq -r .attempt_id
}
# 1. dialled, answered, answers saved, qualified VENTE
x1=$(offered 1)
e2e_cmd a1 "{\"cmd\":\"dial\",\"attempt_id\":$x1}"
# (a dialled preview gets no call_connected: the offer carried the contact)
wait_for_log "$out" "\"state\":\"on_call\".*\"attempt_id\":\"?$x1\"?}" 30
e2e_cmd a1 "{\"cmd\":\"answers\",\"attempt_id\":$x1,\"answers\":[{\"export_name\":\"satisfaction\",\"values\":[\"yes\"]},{\"export_name\":\"remarque\",\"values\":[\"Aperçu réussi\"]}]}"
poll "select count(*) from answers where attempt_id = $x1" 2
wait_for_log "$out" "\"event\":\"call_ended\".*\"attempt_id\":\"?$x1\"?" 30
e2e_cmd a1 "{\"cmd\":\"qualify\",\"attempt_id\":$x1,\"code\":\"VENTE\"}"
poll "select outcome || ' ' || qualification || ' ' || counted from attempts where id = $x1" 'answered VENTE true'
# 2. skipped with a reason
x2=$(offered 2)
e2e_cmd a1 "{\"cmd\":\"skip\",\"attempt_id\":$x2,\"reason\":\"Client déjà équipé\"}"
poll "select outcome || '|' || detail || '|' || counted from attempts where id = $x2" 'skipped|Client déjà équipé|false'
# 3. nothing done: preview_timeout_s skips it
x3=$(offered 3)
wait_for_log "$LOG" "preview_timeout agent=a1 attempt=$x3 action=skip" 15
poll "select outcome || '|' || detail || '|' || counted || '|' ||
    (closed_at >= created_at + interval '3 s') from attempts where id = $x3" \
    'skipped|preview_timeout_s passed|false|true'
e2e_logout a1

# the three contacts: one done, two back to waiting (trunk_failure's hour), only one INVITE
assert_eq "done VENTE 1|waiting - 0|waiting - 0" "$(q "select string_agg(c.state || ' ' ||
    coalesce(c.last_qualification, '-') || ' ' || c.attempts, '|' order by x.id)
    from attempts x join contacts c on c.id = x.contact_id where x.id in ($x1, $x2, $x3)")"
assert_eq 1 "$(grep -c '^INVITE sip:' "$dir/trunk_msgs.log" || true)"
assert_eq 3 "$(q "select count(*) from attempts where campaign_id = $(camp "$C")")"
assert_eq 1 "$(q "select count(*) from attempts where campaign_id = $(camp "$C") and counted")"
assert_eq "a1" "$(q "select string_agg(distinct u.login, ',') from attempts x join users u on u.id = x.agent_id
    where x.campaign_id = $(camp "$C")")"
echo "agents_preview: ok"
