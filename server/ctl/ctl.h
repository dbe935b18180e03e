/* What carillonctl's command files share: the connection, requests, and output helpers
 * (implemented in carillonctl.c). */
#ifndef CARILLON_CTL_H
#define CARILLON_CTL_H

#include <stdbool.h>

#include "carillon/v1/envelope.pb-c.h"
#include "pbyaml.h"

/* Connects, says Hello and authenticates; 0 or an exit code (already reported). */
int ctl_connect_and_auth(void);
/* Sends env and waits for a reply of body `want`; 0 (reply in ctl_reply()) or an exit code. */
int ctl_request(Carillon__V1__Envelope *env, int want);
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
int ctl_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int ctl_print_ok(const char *text);
bool ctl_json(void);
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
