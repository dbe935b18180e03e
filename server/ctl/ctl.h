/* What carillonctl's files share. One request API (request.c): connect, authenticate (session.c),
 * send requests and read replies; error and output helpers; the command table (commands.c) that
 * drives both dispatch and help. */
#ifndef CARILLON_CTL_H
#define CARILLON_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carillon/v1/envelope.pb-c.h"
#include "pbyaml.h"

#define CTL_EXIT_OK      0
#define CTL_EXIT_REFUSED 1 /* the server said no (or a local check with the same meaning) */
#define CTL_EXIT_USAGE   2
#define CTL_EXIT_CONN    3 /* connection or TLS failure */

/* The global options, set by main() before a command runs. */
struct ctl_options {
    const char *server;
    const char *ca;
    bool json;
    bool utc;
    unsigned timeout_ms; /* bound on each wait for the server: connect, handshake, a reply */
    char host[256];
    int port;
};
extern struct ctl_options ctl_opt;

/* --- the request API (request.c) ------------------------------------------------------------ */
/* Connects and says Hello (no login: ping, login); 0 or an exit code (already reported). Once
 * per process: a second call reports how the first ended. */
int ctl_connect(void);
/* Connects, says Hello and authenticates (session.c); 0 or an exit code (already reported). */
int ctl_connect_and_auth(void);
/* Sends env and waits for a reply of body `want`; 0 (reply in ctl_reply()) or an exit code. */
int ctl_request(Carillon__V1__Envelope *env, int want);
/* The two halves of ctl_request, for the one caller that must look at an Error itself (login):
 * ctl_call waits for any reply (in ctl_reply()); ctl_expect then checks it is `want`. */
int ctl_call(Carillon__V1__Envelope *env);
int ctl_expect(int want);
/* The server's node name, from its Welcome. */
const char *ctl_server_node(void);
/* Closes the connection (at exit). */
void ctl_disconnect(void);
/* Pipelined requests (a file import's chunks): ctl_send sends env without waiting (at most
 * CTL_MAX_AHEAD at once); ctl_collect waits for the oldest one's reply, of body `want`, and
 * leaves it in ctl_reply(). Both return 0 or an exit code (already reported). */
#define CTL_MAX_AHEAD 4
int ctl_send(Carillon__V1__Envelope *env);
int ctl_collect(int want);
int ctl_in_flight(void);
/* A streamed answer (an export's chunks): ctl_stream_begin sends env; each ctl_stream_recv
 * waits for the next message carrying its request_id and leaves it in ctl_reply() (an Error is
 * reported: exit 1; a lost connection: exit 3). ctl_send_only sends a message that gets no
 * answer (ExportNext). ctl_stream_end drops what is left. */
#define CTL_STREAM_QUEUE 8
int ctl_stream_begin(Carillon__V1__Envelope *env);
int ctl_stream_recv(void);
int ctl_send_only(Carillon__V1__Envelope *env);
void ctl_stream_end(void);
Carillon__V1__Envelope *ctl_reply(void);
void ctl_drop_reply(void);
/* Takes the reply out of ctl_reply(): the caller frees it (carillon__v1__envelope__free_unpacked).
 */
Carillon__V1__Envelope *ctl_take_reply(void);
int ctl_report(int exit_code, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A usage error in the running command: the message, then that command's synopsis and where
 * to read more (commands.c). Exit 2. */
int ctl_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ctl_json_error(const char *code, const char *field, const char *msg);
const char *ctl_code_name(int code);
/* While set, ctl_report prints nothing (revoking a temporary session at exit). */
void ctl_quiet_errors(bool quiet);

/* --- the command table (commands.c) ----------------------------------------------------------- */
/* Runs the command argv names (its one or two words first). Returns the exit code. */
int ctl_run_command(int argc, char **argv);
/* Checks --server and --ca before the first connection (carillonctl.c); 0 or a usage error. */
int ctl_check_target(void);

/* --- the session (session.c) ------------------------------------------------------------------ */
struct ctl_session;
bool ctl_saved_session(void); /* logged in with the session file's token */
/* Sends Login; 0 with the LoginOk in ctl_reply(), -1 with another reply (an Error) there, or a
 * positive exit code (connection failure, reported). */
int ctl_login_with(const char *login, const char *password, const char *token);
int ctl_session_load(struct ctl_session *s);
int ctl_session_save(const char *login, const char *token);
void ctl_session_remove(void);
int ctl_session_path(char *out, size_t len, bool create_dir);
/* Turns a failed secret read into a usage error naming what was wanted. */
int ctl_secret_error(int rc, const char *what, const char *where);
/* Revokes the session opened with CARILLON_USER/CARILLON_PASSWORD (at exit). */
void ctl_end_temp_session(void);

/* --- commands (user_cmd.c, campaign_cmd.c and the files named) -------------------------------- */
int ctl_ping(int argc, char **argv);
int ctl_login(int argc, char **argv);
int ctl_logout(int argc, char **argv);
int ctl_whoami(int argc, char **argv);
int ctl_user_add(int argc, char **argv);
int ctl_user_list(int argc, char **argv);
int ctl_user_passwd(int argc, char **argv);
int ctl_user_enable(int argc, char **argv);
int ctl_user_disable(int argc, char **argv);
int ctl_user_profiles(int argc, char **argv);
int ctl_apply(int argc, char **argv);
int ctl_get_campaign(int argc, char **argv);
/* Connects (once), then asks for a whole campaign: 0 with the CampaignReply in ctl_reply(), or an
 * exit code (already reported: unknown campaign, no right to see it). */
int ctl_request_campaign(const char *name);
int ctl_campaign_list(int argc, char **argv);
int ctl_campaign_state(int argc, char **argv);
int ctl_campaign_duplicate(int argc, char **argv);
int ctl_campaign_delete(int argc, char **argv);
int ctl_grant(int argc, char **argv);
int ctl_grant_list(int argc, char **argv);
int ctl_print_ok(const char *text);
bool ctl_json(void);
/* A time by the rule (ctlutil.h): the viewer's zone, labelled (UTC with --utc); unix seconds. */
void ctl_format_time(int64_t t, char *buf, size_t len);
/* The same for JSON: an RFC 3339 string, or null for 0. */
void ctl_json_time(int64_t t);
/* --utc: times shown in UTC instead of the viewer's zone (ctlutil.h's rule). */
bool ctl_utc(void);
void ctl_print_padded(const char *s, int width);

int ctl_question(int argc, char **argv);
int ctl_screen(int argc, char **argv);
int ctl_qualification(int argc, char **argv);
int ctl_schedule(int argc, char **argv);
int ctl_campaign_edit(int argc, char **argv);
int ctl_contact(int argc, char **argv);
int ctl_blacklist(int argc, char **argv);
int ctl_list_import(int argc, char **argv);
int ctl_list(int argc, char **argv);
int ctl_filter(int argc, char **argv);
int ctl_campaign_stats(int argc, char **argv);
int ctl_campaign_report(int argc, char **argv); /* report_cmd.c */
int ctl_top(int argc, char **argv);
int ctl_compliance(int argc, char **argv);
/* Changes how long a wait for an answer may take (e.g. an import's final merge). */
void ctl_set_timeout_ms(unsigned ms);
/* Prints the script as an agent would see it; frees c. */
int ctl_preview(Carillon__V1__Campaign *c, int argc, char **argv);

#endif
