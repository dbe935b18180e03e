/* carillon-agentd's configuration keys: one table says each key's type, default, bounds and
 * whether SIGHUP may change it (carillon-agentd --example-config prints it as a file). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "agentd.h"
#include "carillon/conn.h"

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

static int validate_hostport(const void *value, char *err, size_t errlen)
{
    char host[256];
    int port;
    const char *s = *(char *const *)value;
    if (cr_hostport_parse(s, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "expected HOST:PORT (e.g. 127.0.0.1:4433), got '%s'", s);
        return -EINVAL;
    }
    return 0;
}

#define K(sec, key, type, def, reload, field, lo, hi, help)                                        \
    {                                                                                              \
        sec, key, type, def, reload, offsetof(struct agentd_config, field), lo, hi, NULL, NULL,    \
            help                                                                                   \
    }
#define KV(sec, key, type, def, reload, field, validate, help)                                     \
    {                                                                                              \
        sec, key, type, def, reload, offsetof(struct agentd_config, field), 0, 0, NULL, validate,  \
            help                                                                                   \
    }

const struct cr_cfg_key agentd_config_keys[] = {
    K("agentd", "node_name", CR_CFG_STRING, "agentd1", false, node_name, 0, 0,
      "name of this agentd in logs and in Hello"),
    K("agentd", "pid_file", CR_CFG_STRING, "", false, pid_file, 0, 0, "pid file path; empty: none"),
    KV("agentd", "listen", CR_CFG_STRING, "127.0.0.1:4450", false, listen, validate_hostport,
       "address agent clients connect to, IP:PORT (TLS 1.3)"),
    K("agentd", "cert", CR_CFG_STRING, NULL, false, cert, 0, 0,
      "this agentd's certificate towards the server (PEM, OU=agentd; deploy/pki.sh node DIR "
      "agentd NAME)"),
    K("agentd", "key", CR_CFG_STRING, NULL, false, key, 0, 0, "its private key (PEM)"),
    K("agentd", "ca", CR_CFG_STRING, NULL, false, ca, 0, 0,
      "CA certificate (PEM) that signs the server's and this agentd's certificates"),
    K("agentd", "crl", CR_CFG_STRING, "", false, crl, 0, 0,
      "CA's revocation list (PEM): a server whose certificate is in it is refused; empty: none"),
    K("agentd", "client_cert", CR_CFG_STRING, NULL, false, client_cert, 0, 0,
      "the listener's certificate for agent clients (PEM, OU=agentd, serverAuth; deploy/pki.sh "
      "listener DIR NAME SAN)"),
    K("agentd", "client_key", CR_CFG_STRING, NULL, false, client_key, 0, 0,
      "its private key (PEM)"),
    K("agentd", "max_clients", CR_CFG_INT, "1000", true, max_clients, 1, 100000,
      "most agent clients connected at once (1..100000); one more is refused with "
      "RESOURCE_EXHAUSTED"),
    K("agentd", "login_timeout", CR_CFG_DURATION, "30s", true, login_timeout_ms, 1000, 600000,
      "a client not logged in (AgentLoginOk) this long after connecting is closed (1s..10m)"),
    K("agentd", "max_client_queue", CR_CFG_SIZE, "1M", false, max_client_queue, 64 * 1024,
      64LL * 1024 * 1024,
      "bytes queued towards one client before it counts as stalled and is disconnected "
      "(64K..64M)"),
    K("agentd", "max_frame", CR_CFG_SIZE, "1M", false, max_frame, 4096, 64LL * 1024 * 1024,
      "largest frame accepted from or sent to a client (4K..64M)"),
    K("agentd", "max_client_requests", CR_CFG_INT, "32", true, max_client_requests, 1, 1024,
      "requests of one client awaiting the server's answer; one more is refused with "
      "RESOURCE_EXHAUSTED"),
    KV("server", "address", CR_CFG_STRING, NULL, false, server_address, validate_hostport,
       "carillon-server to connect to, HOST:PORT"),
    {"log", "level", CR_CFG_ENUM, "info", true, offsetof(struct agentd_config, log_level), 0, 0,
     log_levels, NULL, "debug, info, warn or error"},
    K("log", "json", CR_CFG_BOOL, "false", true, log_json, 0, 0, "one JSON object per log line"),
};
const size_t agentd_config_nkeys = sizeof agentd_config_keys / sizeof agentd_config_keys[0];
