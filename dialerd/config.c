/* carillon-dialerd's configuration keys: one table says each key's type, default, bounds and
 * whether SIGHUP may change it (carillon-dialerd --example-config prints it as a file). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "carillon/conn.h"
#include "dialerd.h"

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const transports[] = {"udp", "tcp", "tls", NULL};

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

static int validate_sip_uri(const void *value, char *err, size_t errlen)
{
    const char *s = *(char *const *)value;
    if (s[0] == '\0')
        return 0;
    if ((strncmp(s, "sip:", 4) != 0 && strncmp(s, "sips:", 5) != 0) || strlen(s) > 200 ||
        strpbrk(s, " \t<>\"")) {
        snprintf(err, errlen, "expected a SIP URI such as sip:trunk.example.net:5060, got '%s'", s);
        return -EINVAL;
    }
    return 0;
}

static int validate_address(const void *value, char *err, size_t errlen)
{
    const char *s = *(char *const *)value;
    if (strlen(s) > 64 || strpbrk(s, " \t<>\"[];:@")) {
        snprintf(err, errlen, "expected an IPv4 address or a host name, got '%s'", s);
        return -EINVAL;
    }
    return 0;
}

static int validate_caller_id(const void *value, char *err, size_t errlen)
{
    const char *s = *(char *const *)value;
    if (strlen(s) > 32 || s[strspn(s, "+0123456789abcdefghijklmnopqrstuvwxyz"
                                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-")] != '\0') {
        snprintf(err, errlen, "expected at most 32 of + digits letters . _ -, got '%s'", s);
        return -EINVAL;
    }
    return 0;
}

#define K(sec, key, type, def, reload, field, lo, hi, help)                                        \
    {                                                                                              \
        sec, key, type, def, reload, offsetof(struct dialer_config, field), lo, hi, NULL, NULL,    \
            help                                                                                   \
    }
#define KV(sec, key, type, def, reload, field, validate, help)                                     \
    {                                                                                              \
        sec, key, type, def, reload, offsetof(struct dialer_config, field), 0, 0, NULL, validate,  \
            help                                                                                   \
    }

const struct cr_cfg_key dialer_config_keys[] = {
    K("dialer", "node_name", CR_CFG_STRING, "dialer1", false, node_name, 0, 0,
      "name of this dialer in logs and in Hello"),
    K("dialer", "pid_file", CR_CFG_STRING, "", false, pid_file, 0, 0, "pid file path; empty: none"),
    K("dialer", "max_calls", CR_CFG_INT, "100", true, max_calls, 1, 100000,
      "most simultaneous customer calls (1..100000); orders beyond it are refused"),
    K("dialer", "max_cps", CR_CFG_INT, "10", true, max_cps, 1, 10000,
      "most new calls per second (token bucket); orders above the rate wait their turn"),
    K("dialer", "ring_timeout", CR_CFG_DURATION, "30s", true, ring_timeout_ms, 1000, 300000,
      "time from INVITE to answer before the call is cancelled as no answer (1s..5m)"),
    KV("dialer", "sip_address", CR_CFG_STRING, "127.0.0.1", false, sip_address, validate_address,
       "local address the SIP stack binds and puts in Via/Contact"),
    K("dialer", "sip_port", CR_CFG_INT, "5060", false, sip_port, 1, 65535,
      "local SIP port (UDP and TCP)"),
    {"dialer", "transport", CR_CFG_ENUM, "udp", false, offsetof(struct dialer_config, transport), 0,
     0, transports, NULL, "transport towards the trunk: udp, tcp or tls"},
    K("dialer", "tls_dir", CR_CFG_STRING, "", false, tls_dir, 0, 0,
      "with transport = tls: a directory holding agent.pem (this dialer's SIP certificate "
      "followed by its private key) and cafile.pem (the CAs the trunk's certificate must chain "
      "to)"),
    KV("dialer", "media_address", CR_CFG_STRING, "", false, media_address, validate_address,
       "address written in the SDP for RTP; empty: sip_address"),
    K("dialer", "rtp_port_min", CR_CFG_INT, "20000", false, rtp_port_min, 1024, 65534,
      "lowest RTP port (even ports are used, one per call)"),
    K("dialer", "rtp_port_max", CR_CFG_INT, "29999", false, rtp_port_max, 1025, 65535,
      "highest RTP port"),
    K("dialer", "session_timer", CR_CFG_DURATION, "0", false, session_timer_ms, 0,
      24LL * 3600 * 1000,
      "SIP session timer interval (RFC 4028): at least 90s, the calls are refreshed (re-INVITE) at "
      "half of it when we are the refresher; 0: off"),
    K("dialer", "shutdown_timeout", CR_CFG_DURATION, "30s", false, shutdown_timeout_ms, 0,
      3600LL * 1000, "on TERM, how long live calls may go on before they are hung up"),
    K("dialer", "transaction_timeout", CR_CFG_DURATION, "32s", false, transaction_timeout_ms, 2000,
      32000,
      "SIP transaction lifetime, 64 x T1 (RFC 3261 timers B, F, H, J: 32 s). Each answered call "
      "keeps its INVITE transaction this long after the 200 OK; on a near trunk a shorter one "
      "saves memory and timer work at high call rates"),
    K("dialer", "abandon_after", CR_CFG_DURATION, "2s", true, abandon_after_ms, 0, 60000,
      "a customer who answers and is not bridged to an agent within this delay hears the "
      "abandon message and is hung up (outcome abandoned); 0: never; an order may say otherwise"),
    K("dialer", "abandon_message", CR_CFG_STRING, "", false, abandon_message, 0, 0,
      "WAV file played before an abandon: G.711 A-law or mu-law, 8 kHz, mono, at most 1 MiB; "
      "empty: hang up without a message"),
    K("dialer", "idle_sound", CR_CFG_STRING, "", false, idle_sound, 0, 0,
      "WAV file looped to an agent's softphone while no customer is bridged (a comfort tone): "
      "G.711 A-law or mu-law, 8 kHz, mono, at most 1 MiB; empty: silence"),
    K("dialer", "event_buffer", CR_CFG_INT, "10000", false, event_buffer, 1, 1000000,
      "call events kept until the server acknowledges them (replayed after a lost link); "
      "beyond, the oldest is dropped"),
    K("amd", "initial_silence", CR_CFG_DURATION, "2500ms", false, amd_initial_silence_ms, 100,
      30000, "answering-machine detection: silence from the answer beyond this is a machine"),
    K("amd", "greeting", CR_CFG_DURATION, "2500ms", false, amd_greeting_ms, 100, 30000,
      "speech in the greeting beyond this (summed) is a machine (Asterisk: 1500ms)"),
    K("amd", "after_greeting_silence", CR_CFG_DURATION, "800ms", false,
      amd_after_greeting_silence_ms, 20, 10000, "a silence this long after speech is a human"),
    K("amd", "total_analysis_time", CR_CFG_DURATION, "5s", false, amd_total_ms, 500, 30000,
      "no verdict by then: not sure (the server treats it as a human)"),
    K("amd", "min_word_length", CR_CFG_DURATION, "100ms", false, amd_min_word_ms, 20, 5000,
      "speech shorter than this is not a word"),
    K("amd", "between_words_silence", CR_CFG_DURATION, "100ms", false, amd_between_words_silence_ms,
      20, 5000, "a silence this long ends a word (Asterisk: 50ms)"),
    K("amd", "maximum_number_of_words", CR_CFG_INT, "6", false, amd_max_words, 1, 100,
      "this many words in the greeting is a machine (Asterisk: 2)"),
    K("amd", "silence_threshold", CR_CFG_INT, "128", false, amd_silence_threshold, 1, 32767,
      "mean absolute amplitude (16-bit) under which a frame is silence, at least (Asterisk: 256)"),
    K("amd", "noise_floor_ratio", CR_CFG_INT, "300", false, amd_noise_floor_ratio, 0, 10000,
      "a frame is speech above this percentage of the noise floor (the quietest 20 ms of the "
      "last second) when that is above silence_threshold; 0: the fixed threshold alone"),
    K("amd", "beep_wait", CR_CFG_DURATION, "30s", false, amd_beep_wait_ms, 1000, 120000,
      "leave_message: longest wait for the beep (or the end of the greeting) after a machine "
      "verdict; then the message is left anyway"),
    K("amd", "greeting_end_silence", CR_CFG_DURATION, "1500ms", false, amd_greeting_end_silence_ms,
      200, 10000,
      "leave_message without a beep: a silence this long after speech ends the greeting"),
    {"messages", "*", CR_CFG_STRING, "", false, offsetof(struct dialer_config, messages), 0, 0,
     NULL, NULL,
     "messages an order may leave on answering machines (PlaceCall.amd_message): NAME = a WAV "
     "file as abandon_message; NAME of 1 to 32 letters, digits, . _ -; at most 32 messages"},
    KV("trunk", "uri", CR_CFG_STRING, NULL, false, trunk_uri, validate_sip_uri,
       "the trunk, e.g. sip:trunk.example.net:5060; numbers are dialled as sip:NUMBER@host"),
    KV("trunk", "outbound_proxy", CR_CFG_STRING, "", false, outbound_proxy, validate_sip_uri,
       "SIP URI every request is sent through; empty: none"),
    K("trunk", "username", CR_CFG_STRING, "", false, username, 0, 0,
      "digest user name answered to 401/407 challenges; empty: no authentication"),
    K("trunk", "password", CR_CFG_STRING, "", false, password, 0, 0, "digest password"),
    K("trunk", "tls_verify", CR_CFG_BOOL, "true", false, tls_verify, 0, 0,
      "with transport = tls: refuse a trunk whose certificate does not chain to cafile.pem"),
    KV("trunk", "caller_id", CR_CFG_STRING, "", true, caller_id, validate_caller_id,
       "caller ID when an order names none; empty: the username, else anonymous"),
    {"server", "address", CR_CFG_STRING, NULL, false,
     offsetof(struct dialer_config, server_address), 0, 0, NULL, validate_hostport,
     "carillon-server to connect to, HOST:PORT"},
    K("server", "tls_ca", CR_CFG_STRING, NULL, false, tls_ca, 0, 0,
      "CA certificate (PEM) that signs the server's and this dialer's certificates"),
    K("server", "tls_cert", CR_CFG_STRING, NULL, false, tls_cert, 0, 0,
      "this dialer's certificate (PEM, OU=dialer; deploy/pki.sh node DIR dialer NAME)"),
    K("server", "tls_key", CR_CFG_STRING, NULL, false, tls_key, 0, 0, "its private key (PEM)"),
    K("server", "tls_crl", CR_CFG_STRING, "", false, tls_crl, 0, 0,
      "CA's revocation list (PEM, deploy/pki.sh revoke/crl): a server whose certificate is in it "
      "is refused; read at start; empty: none"),
    {"log", "level", CR_CFG_ENUM, "info", true, offsetof(struct dialer_config, log_level), 0, 0,
     log_levels, NULL, "debug, info, warn or error"},
    K("log", "json", CR_CFG_BOOL, "false", true, log_json, 0, 0, "one JSON object per log line"),
};
const size_t dialer_config_nkeys = sizeof dialer_config_keys / sizeof dialer_config_keys[0];
