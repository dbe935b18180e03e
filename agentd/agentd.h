/* carillon-agentd: its configuration (config.c) for main.c, which relays agent clients to
 * carillon-server over one mutual-TLS link. */
#ifndef AGENTD_AGENTD_H
#define AGENTD_AGENTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carillon/cfg.h"

/* Loaded by cr_cfg_load from agentd_config_keys; strings freed by cr_cfg_free. */
struct agentd_config {
    /* [agentd] */
    char *node_name;
    char *pid_file;
    char *listen;
    char *cert; /* towards the server: OU=agentd, clientAuth */
    char *key;
    char *ca;
    char *crl;
    char *client_cert; /* towards agent clients: OU=agentd, serverAuth (pki.sh listener) */
    char *client_key;
    int64_t max_clients;
    int64_t login_timeout_ms;
    int64_t max_client_queue;
    int64_t max_frame;
    int64_t max_client_requests;
    /* [server] */
    char *server_address;
    /* [log] */
    int log_level; /* enum cr_log_level */
    bool log_json;
};

extern const struct cr_cfg_key agentd_config_keys[];
extern const size_t agentd_config_nkeys;

#endif
