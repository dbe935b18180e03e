/* carillon-dialerd: its configuration and the pieces main.c wires together (the server link
 * on the libuv loop, the SIP user agent on its sofia-sip thread). */
#ifndef DIALERD_DIALERD_H
#define DIALERD_DIALERD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carillon/cfg.h"

enum dl_transport { DL_TRANSPORT_UDP = 0, DL_TRANSPORT_TCP = 1, DL_TRANSPORT_TLS = 2 };

/* Loaded by cr_cfg_load from dialer_config_keys; strings freed by cr_cfg_free. */
struct dialer_config {
    /* [dialer] */
    char *node_name;
    char *pid_file;
    int64_t max_calls;
    int64_t max_cps;
    int64_t ring_timeout_ms;
    char *sip_address;
    int64_t sip_port;
    int transport; /* enum dl_transport */
    char *tls_dir; /* transport tls: agent.pem and cafile.pem, as sofia-sip reads them */
    char *media_address;
    int64_t rtp_port_min;
    int64_t rtp_port_max;
    int64_t session_timer_ms;
    int64_t shutdown_timeout_ms;
    int64_t event_buffer;
    int64_t abandon_after_ms;
    int64_t transaction_timeout_ms;
    char *abandon_message;
    char *idle_sound;
    /* [amd]: the detector's parameters (amd.h), the LEAVE_MESSAGE waits */
    int64_t amd_initial_silence_ms, amd_greeting_ms, amd_after_greeting_silence_ms;
    int64_t amd_total_ms, amd_min_word_ms, amd_between_words_silence_ms, amd_max_words;
    int64_t amd_silence_threshold, amd_noise_floor_ratio;
    int64_t amd_beep_wait_ms, amd_greeting_end_silence_ms;
    /* [messages]: "NAME=path\n" lines (cr_cfg's free section), loaded by main at start */
    char *messages;
    /* [trunk] */
    char *trunk_uri;
    char *outbound_proxy;
    char *username;
    char *password;
    char *caller_id;
    bool tls_verify;
    /* [server] */
    char *server_address;
    char *tls_ca;
    char *tls_cert;
    char *tls_key;
    char *tls_crl;
    /* [log] */
    int log_level; /* enum cr_log_level */
    bool log_json;
};

extern const struct cr_cfg_key dialer_config_keys[];
extern const size_t dialer_config_nkeys;

#endif
