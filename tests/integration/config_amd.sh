#!/usr/bin/env bash
# Answering-machine detection's configuration and storage (issue 13): amd_action leave_message
# with its amd_message through carillonctl apply/get (refusals name the field, nothing written),
# and migration 017's carillon_call_event: the DETECTED event's verdict on the attempt, ENDED
# outcome machine under the answering_machine rule and out of the abandon ledger, a machine the
# dialer "abandoned" stored as machine, a person's abandon still counted.
set -euo pipefail
# shellcheck source=tests/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
cr_stack_up
work=$(mktemp -d)
trap_add "rm -rf '$work'"
name='Répondeurs 2027'

campaign() { # campaign ACTION [MESSAGE_LINE]: a small campaign with AMD on
    printf '%s\n' "name: '$name'" "time_zone: Europe/Paris" "outcomes:" \
        "  answering_machine:" "    retry_delay_s: 600" "    max_attempts: 2" "    after_last: done" \
        "  abandoned:" "    retry_delay_s: 60" "    max_attempts: 5" "    after_last: failed" \
        "  amd_enabled: true" "  amd_action: $1"
    [ -z "${2:-}" ] || printf '%s\n' "$2"
}

# leave_message with a message: stored, and get writes it back
campaign leave_message "  amd_message: promo-2027.v2" > "$work/ok.yaml"
assert_exit 0 carillonctl apply -f "$work/ok.yaml"
assert_eq "t|leave_message|promo-2027.v2" \
    "$(psql -qAtc "select amd_enabled, amd_action, amd_message from campaigns where name='$name'")"
assert_exit 0 carillonctl get campaign "$name" -o yaml
assert_contains "$OUT" "amd_action: leave_message"
assert_contains "$OUT" "amd_message: 'promo-2027.v2'"
assert_exit 0 carillonctl get campaign "$name" -o json
assert_contains "$OUT" '"amd_message":"promo-2027.v2"'
# the same file again, and a duplicate, keep it
assert_exit 0 carillonctl apply -f "$work/ok.yaml"
assert_exit 0 carillonctl campaign duplicate "$name" 'Répondeurs copie'
assert_eq "leave_message|promo-2027.v2" \
    "$(psql -qAtc "select amd_action, amd_message from campaigns where name='Répondeurs copie'")"

snapshot() { psql -qAtc "select md5(string_agg(t::text, ',' order by t::text)) from (select * from campaigns) t"; }
before=$(snapshot)
refuse() { # refuse FILE TEXT: INVALID_ARGUMENT naming outcomes.amd_message, nothing written
    assert_exit 1 carillonctl apply -f "$1"
    assert_contains "$ERR" INVALID_ARGUMENT
    assert_contains "$ERR" "outcomes.amd_message"
    assert_contains "$ERR" "$2"
    assert_eq "$before" "$(snapshot)"
}
campaign leave_message > "$work/missing.yaml"
refuse "$work/missing.yaml" "is required with outcomes.amd_action leave_message"
campaign leave_message "  amd_message: ''" > "$work/empty.yaml"
refuse "$work/empty.yaml" "is required with outcomes.amd_action leave_message"
campaign leave_message "  amd_message: $(printf 'm%.0s' {1..33})" > "$work/long.yaml"
refuse "$work/long.yaml" "is longer than 32 bytes (33)"
campaign leave_message "  amd_message: '../etc/passwd'" > "$work/path.yaml"
refuse "$work/path.yaml" "is not a message name: letters, digits, '_', '-' and '.' only, starting with a letter or digit (byte 1, 0x2e, is not)"
campaign leave_message "  amd_message: 'promo 2027'" > "$work/space.yaml"
refuse "$work/space.yaml" "(byte 6, 0x20, is not)"
campaign leave_message "  amd_message: 'répondeur'" > "$work/accent.yaml"
refuse "$work/accent.yaml" "(byte 2, 0xc3, is not)"
campaign hang_up "  amd_message: promo" > "$work/unused.yaml"
refuse "$work/unused.yaml" "is only used with outcomes.amd_action leave_message"
campaign answer_machine_now > "$work/action.yaml"
assert_exit 1 carillonctl apply -f "$work/action.yaml"
assert_contains "$ERR" "expected one of:"
assert_contains "$ERR" "leave_message"
assert_eq "$before" "$(snapshot)"
# the database holds the rule too (a message is required with leave_message)
assert_exit 1 psql -c "update campaigns set amd_message = '' where name = '$name'"
assert_contains "$ERR" "campaigns_amd_message_check"

# back to hang_up: the message goes
campaign hang_up > "$work/hangup.yaml"
assert_exit 0 carillonctl apply -f "$work/hangup.yaml"
assert_eq "hang_up|" "$(psql -qAtc "select amd_action, amd_message from campaigns where name='$name'")"
assert_exit 0 carillonctl get campaign "$name" -o yaml
assert_contains "$OUT" "amd_message: ''"

# --- carillon_call_event (017) ---------------------------------------------------------------
cid=$(psql -qAtc "select id from campaigns where name='$name'")
lid=$(psql -qAtc "insert into lists (campaign_id, name) values ($cid, 'main') returning id")
contact() { # contact NUMBER: a waiting contact with one number, prints its id
    local id
    id=$(psql -qAtc "insert into contacts (campaign_id, list_id, time_zone) values ($cid, $lid, 'Europe/Paris') returning id" | head -1)
    psql -qAtc "insert into addresses (contact_id, position, number) values ($id, 1, '$1')" >/dev/null
    echo "$id"
}
attempt() { # attempt CONTACT NUMBER: an open attempt, prints its id
    psql -qAtc "update contacts set state = 'running' where id = $1" >/dev/null
    psql -qAtc "insert into attempts (campaign_id, contact_id, number, created_at, sent_at) values ($cid, $1, '$2', now(), now()) returning id" | head -1
}
event() { # event ATTEMPT STATE OUTCOME VERDICT REASON AMD_MS GREETING_END_MS DETAIL: its result
    # (run in $(...): the next seq comes from the table, not from a shell variable)
    local seq ans="NULL" ended="NULL"
    seq=$(psql -qAtc "select coalesce(max(seq), 0) + 1 from dialer_events where boot_id = 4242")
    [ "$2" != answered ] || ans="now()"
    [ "$2" != ended ] || ended="now()"
    psql -qAtc "select carillon_call_event(4242, $seq, 'node-a', $1, '$2', '$3', now(), 'cid-$1', 200, 'dialer', NULL, NULL, $ans, $ended, NULL, NULL, '$8', '$4', '$5', $6, $7)" | head -1
}
c1=$(contact '+33100000001')
a1=$(attempt "$c1" '+33100000001')
assert_eq progress "$(event "$a1" answered '' '' '' NULL NULL '')"
assert_eq "|" "$(psql -qAtc "select coalesce(amd_verdict, ''), amd_reason from attempts where id = $a1")"
assert_eq progress "$(event "$a1" detected '' machine greeting 3400 3100 '')"
assert_eq "machine|greeting|3400|3100|t" \
    "$(psql -qAtc "select amd_verdict, amd_reason, amd_ms, amd_greeting_end_ms, closed_at is null from attempts where id = $a1")"
assert_eq "detected" "$(psql -qAtc "select state from dialer_events where boot_id = 4242 order by seq desc limit 1")"
# ENDED machine: closed, counted, the answering_machine rule (1 of 2: retried after 600 s)
assert_eq waiting "$(event "$a1" ended machine machine greeting 3400 3100 'machine: message left after the beep at 12400 ms')"
assert_eq "machine|t|t|machine|message left" \
    "$(psql -qAtc "select outcome, counted, closed_at is not null, amd_verdict, substring(detail from 'message left') from attempts where id = $a1")"
assert_eq "t" "$(psql -qAtc "select next_try > now() + interval '590 s' from contacts where id = $c1")"
# the dialer abandoned a machine (connect_agent, no agent): stored machine, 2 of 2: done
a2=$(attempt "$c1" '+33100000001')
assert_eq progress "$(event "$a2" answered '' '' '' NULL NULL '')"
assert_eq progress "$(event "$a2" detected '' machine words 2100 1800 '')"
assert_eq 'done' "$(event "$a2" ended abandoned machine words 2100 1800 'abandon message played')"
assert_eq "machine|machine" "$(psql -qAtc "select outcome, amd_verdict from attempts where id = $a2")"
# neither machine is in the abandon ledger
assert_eq "0|0" "$(psql -qAtc "select coalesce(sum(answered), 0), coalesce(sum(abandoned), 0) from abandon_ledger where campaign_id = $cid")"
# a person (not sure counts as one) abandoned: an abandon, counted; a verdict word that is not one
# of the three is ignored
c2=$(contact '+33100000002')
a3=$(attempt "$c2" '+33100000002')
assert_eq progress "$(event "$a3" answered '' '' '' NULL NULL '')"
assert_eq progress "$(event "$a3" detected '' not_sure max_time 5000 0 '')"
assert_eq waiting "$(event "$a3" ended abandoned robot 'x' 1 1 '')"
assert_eq "abandoned|not_sure|max_time|5000" \
    "$(psql -qAtc "select outcome, amd_verdict, amd_reason, amd_ms from attempts where id = $a3")"
assert_eq "1|1" "$(psql -qAtc "select sum(answered), sum(abandoned) from abandon_ledger where campaign_id = $cid")"
# the old 17-argument call (tests/bench/claim_*.sql) still works
a4=$(attempt "$c2" '+33100000002')
assert_eq progress "$(psql -qAtc "select carillon_call_event(4242, 999, 'node-a', $a4, 'ringing', '', now(), '', 180, '', now(), now(), NULL, NULL, NULL, NULL, '')")"
echo "config_amd: ok"
