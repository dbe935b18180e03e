/* carillon-server's configuration keys: one table says each key's type, default, bounds and
 * whether SIGHUP may change it (see deploy/server.conf.example, generated from it). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server.h"
#include "carillon/cfg.h"

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

static int validate_hostport(const void *value, char *err, size_t errlen)
{
    char host[256];
    int port;
    const char *s = *(char *const *)value;
    if (cr_hostport_parse(s, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "expected HOST:PORT (e.g. 127.0.0.1:4433 or [::1]:4433), got '%s'",
                 s);
        return -EINVAL;
    }
    return 0;
}

/* Longest pause reason and most reasons: they are shown to agents as a menu. */
#define PAUSE_REASON_MAX  32
#define PAUSE_REASONS_MAX 32

/* The next reason of a comma-separated list, blanks around it dropped: its start and length in
 * *len; NULL at the end. */
static const char *next_reason(const char **s, size_t *len)
{
    const char *p = *s;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return NULL;
    const char *comma = strchr(p, ',');
    const char *end = comma ? comma : p + strlen(p);
    *s = comma ? comma + 1 : end;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *len = (size_t)(end - p);
    return p;
}

bool pause_reason_allowed(const char *list, const char *reason)
{
    const char *s = list ? list : "";
    const char *r;
    size_t len;
    while ((r = next_reason(&s, &len)))
        if (len == strlen(reason) && strncmp(r, reason, len) == 0)
            return true;
    return false;
}

/* Reasons are words agents pick from a menu and reports group by: a-z, 0-9, _ and -. */
static int validate_pause_reasons(const void *value, char *err, size_t errlen)
{
    const char *list = *(char *const *)value;
    const char *s = list, *r;
    size_t len, n = 0;
    while ((r = next_reason(&s, &len))) {
        bool ok = len > 0 && len <= PAUSE_REASON_MAX;
        for (size_t i = 0; ok && i < len; i++)
            ok = (r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '_' ||
                 r[i] == '-';
        if (!ok) {
            snprintf(err, errlen,
                     "a reason is 1 to %d of a-z, 0-9, _ and -, separated by commas; got '%.*s'",
                     PAUSE_REASON_MAX, (int)len, r);
            return -EINVAL;
        }
        const char *t = list, *o;
        size_t olen;
        while ((o = next_reason(&t, &olen)) && o != r)
            if (olen == len && strncmp(o, r, len) == 0) {
                snprintf(err, errlen, "'%.*s' is listed twice", (int)len, r);
                return -EINVAL;
            }
        if (++n > PAUSE_REASONS_MAX) {
            snprintf(err, errlen, "at most %d reasons", PAUSE_REASONS_MAX);
            return -EINVAL;
        }
    }
    if (n == 0) {
        snprintf(err, errlen, "at least one reason, e.g. break");
        return -EINVAL;
    }
    return 0;
}

#define K(sec, key, type, def, reload, field, lo, hi, help)                                        \
    {                                                                                              \
        sec, key, type, def, reload, offsetof(struct server_config, field), lo, hi, NULL, NULL,    \
            help                                                                                   \
    }

const struct cr_cfg_key server_config_keys[] = {
    {"server", "listen", CR_CFG_STRING, NULL, false, offsetof(struct server_config, listen), 0, 0,
     NULL, validate_hostport, "address and port to listen on for TLS clients, HOST:PORT"},
    K("server", "node_name", CR_CFG_STRING, "server1", false, node_name, 0, 0,
      "name of this server in logs and Welcome"),
    K("server", "pid_file", CR_CFG_STRING, "", false, pid_file, 0, 0, "pid file path; empty: none"),
    K("server", "max_frame", CR_CFG_SIZE, "1M", false, max_frame, 1024, 64 << 20,
      "largest protocol frame accepted, in bytes (1K..64M)"),
    K("server", "max_write_queue", CR_CFG_SIZE, "8M", false, max_write_queue, 64 << 10, 1 << 30,
      "bytes queued to one slow client before it is disconnected"),
    K("limits", "max_clients", CR_CFG_INT, "1000", true, max_clients, 1, 1000000,
      "logged-in person sessions; a login beyond it gets RESOURCE_EXHAUSTED (daemon links are "
      "counted apart)"),
    K("limits", "max_pending", CR_CFG_INT, "100", true, max_pending, 1, 1000000,
      "connections not logged in yet (TLS, Hello, Login); beyond it the oldest is closed"),
    K("limits", "login_timeout", CR_CFG_DURATION, "15s", true, login_timeout_ms, 100, 3600LL * 1000,
      "time from accept to a finished TLS + Hello + Login (daemons: + Hello)"),
    K("limits", "idle_timeout", CR_CFG_DURATION, "1h", true, idle_timeout_ms, 0,
      30LL * 24 * 3600 * 1000,
      "a logged-in person sending nothing for this long is closed; 0: never"),
    K("limits", "max_requests_in_flight", CR_CFG_INT, "16", true, max_requests_in_flight, 1, 100000,
      "requests of one connection being handled; beyond it the server stops reading it"),
    K("limits", "max_logins_in_progress", CR_CFG_INT, "32", true, max_logins_in_progress, 1, 10000,
      "password logins being hashed or waiting for it (scrypt, about 32 MiB each)"),
    K("tls", "ca", CR_CFG_STRING, NULL, false, tls_ca, 0, 0,
      "CA certificate (PEM) that signs the daemons' certificates"),
    K("tls", "cert", CR_CFG_STRING, NULL, false, tls_cert, 0, 0, "server certificate chain (PEM)"),
    K("tls", "key", CR_CFG_STRING, NULL, false, tls_key, 0, 0, "server private key (PEM)"),
    K("tls", "crl", CR_CFG_STRING, "", false, tls_crl, 0, 0,
      "CA's revocation list (PEM, deploy/pki.sh revoke/crl): a daemon whose certificate is in it "
      "is refused; read at start, so restart after revoking; empty: none"),
    K("database", "conninfo", CR_CFG_STRING, NULL, false, db_conninfo, 0, 0,
      "libpq connection string, e.g. \"host=127.0.0.1 dbname=carillon user=carillon\""),
    K("database", "migrations_dir", CR_CFG_STRING, CARILLON_MIGRATIONS_DIR, false, migrations_dir,
      0, 0, "directory of NNN_name.sql schema migrations"),
    K("database", "down_wait", CR_CFG_DURATION, "1s", false, db_down_wait_ms, 0, 60000,
      "while PostgreSQL is unreachable, a request waits this long, then gets UNAVAILABLE"),
    {"log", "level", CR_CFG_ENUM, "info", true, offsetof(struct server_config, log_level), 0, 0,
     log_levels, NULL, "debug, info, warn or error"},
    K("log", "json", CR_CFG_BOOL, "false", true, log_json, 0, 0, "one JSON object per log line"),
    K("auth", "scrypt_log_n", CR_CFG_INT, "15", true, scrypt_log_n, 10, 20,
      "scrypt cost for new password hashes, as a power of two (10..20)"),
    K("auth", "session_ttl", CR_CFG_DURATION, "12h", true, session_ttl_ms, 60000,
      90LL * 24 * 3600 * 1000, "lifetime of a login session (1m..90d)"),
    K("auth", "login_max_failures", CR_CFG_INT, "5", true, login_max_failures, 1, 1000,
      "failed logins for one login within login_window before it is locked out"),
    K("auth", "login_addr_max_failures", CR_CFG_INT, "20", true, login_addr_max_failures, 1, 100000,
      "failed password logins for one login from one address within login_window before "
      "that pair is locked out (never the whole address)"),
    K("auth", "login_window", CR_CFG_DURATION, "5m", true, login_window_ms, 1000,
      24LL * 3600 * 1000, "window in which failed logins are counted"),
    K("auth", "login_lockout", CR_CFG_DURATION, "1m", true, login_lockout_ms, 1000,
      24LL * 3600 * 1000, "how long a login or an address stays locked out"),
    K("bulk", "max_concurrent", CR_CFG_INT, "4", true, bulk_max_concurrent, 1, 1000,
      "file imports and exports running at once on this server (each holds a database "
      "backend); beyond it a new one is refused with RESOURCE_EXHAUSTED"),
    K("bulk", "max_per_user", CR_CFG_INT, "2", true, bulk_max_per_user, 1, 1000,
      "file imports and exports one user may run at once"),
    K("bulk", "idle_timeout", CR_CFG_DURATION, "5m", true, bulk_idle_timeout_ms, 1000,
      24LL * 3600 * 1000,
      "an import that receives nothing, or an export whose client takes nothing, for this "
      "long is rolled back and its database backend freed (1s..24h)"),
    K("bulk", "memory", CR_CFG_SIZE, "512M", true, bulk_memory, 16 << 20, 1LL << 40,
      "database memory for bulk transfers in all: each import's backend gets memory / "
      "max_concurrent as work_mem and temp_buffers (at least 4M); applies to new transfers"),
    {"agents", "pause_reasons", CR_CFG_STRING, "break, lunch, training, meeting", true,
     offsetof(struct server_config, pause_reasons), 0, 0, NULL, validate_pause_reasons,
     "pause reasons agents may choose, comma-separated (a-z, 0-9, _, -); a campaign's "
     "pause_reasons narrow it, and apply refuses one not listed here; applies to later applies"},
    K("agents", "caller_id", CR_CFG_STRING, "", true, agent_caller_id, 0, 0,
      "number an agent's softphone shows for the nailed-up call when the agent's first campaign "
      "has no number_for_agents; empty: \"Carillon\""),
    K("engine", "dialer_grace", CR_CFG_DURATION, "60s", true, dialer_grace_ms, 1000,
      24LL * 3600 * 1000,
      "how long a dialer whose link dropped keeps its calls open; after it (or when it comes "
      "back with a new boot) its open attempts close as lost and are retried"),
    K("engine", "agent_grace", CR_CFG_DURATION, "30s", true, agent_grace_ms, 1000, 3600LL * 1000,
      "how long an agent's session waits for its client to come back (through any agentd) "
      "before the agent is logged out and the phone leg closed"),
#ifdef CARILLON_TESTING
    K("testing", "clock_offset", CR_CFG_INT, "0", true, test_clock_offset_s, -20LL * 365 * 86400,
      20LL * 365 * 86400,
      "seconds added to the engine's clock (test builds only: the plain build refuses the key)"),
    K("testing", "bench_push_rate", CR_CFG_INT, "0", false, test_bench_push_rate, 0, 100000,
      "CallConnected events a second pushed to the logged-in agents in turn, for "
      "tests/bench/agents (test builds only; 0: none)"),
#endif
};
const size_t server_config_nkeys = sizeof server_config_keys / sizeof server_config_keys[0];
