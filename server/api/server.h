/* carillon-server's core: the configuration, the listener, the connected clients and the request
 * dispatch. main.c wires it to the daemon plumbing; the unit tests use its pure parts. */
#ifndef CARILLON_SERVER_H
#define CARILLON_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "api/limits.h"
#include "api/ratelimit.h"
#include "carillon/cfg.h"
#include "carillon/conn.h"
#include "carillon/pg.h"
#include "store/store.h"

struct server_config {
    /* [server] */
    char *listen;
    char *node_name;
    char *pid_file;
    int64_t max_frame;
    int64_t max_write_queue;
    /* [limits] (limits.c) */
    int64_t max_clients;
    int64_t max_pending;
    int64_t login_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t max_requests_in_flight;
    int64_t max_logins_in_progress;
    /* [tls] */
    char *tls_ca;
    char *tls_cert;
    char *tls_key;
    char *tls_crl;
    /* [database] */
    char *db_conninfo;
    char *migrations_dir;
    int64_t db_down_wait_ms;
    /* [log] */
    int log_level; /* enum cr_log_level */
    bool log_json;
    /* [auth] */
    int64_t scrypt_log_n;
    int64_t session_ttl_ms;
    int64_t login_max_failures;
    int64_t login_addr_max_failures;
    int64_t login_window_ms;
    int64_t login_lockout_ms;
    /* [bulk] file imports and exports */
    int64_t bulk_max_concurrent;
    int64_t bulk_max_per_user;
    int64_t bulk_idle_timeout_ms;
    int64_t bulk_memory;
    /* [agents] */
    char *pause_reasons;   /* comma-separated, checked by config.c; pause_reason_allowed() */
    char *agent_caller_id; /* number an agent's softphone shows when no campaign sets one */
    /* [engine] */
    int64_t dialer_grace_ms;
    int64_t agent_grace_ms;
    /* [testing] (CARILLON_TESTING builds only): seconds added to the engine's clock */
    int64_t test_clock_offset_s;
    /* [testing] bench_push_rate: CallConnected pushes a second (engine/benchpush.c) */
    int64_t test_bench_push_rate;
};

/* Whether reason is one of the server's [agents] pause_reasons (a comma-separated list). */
bool pause_reason_allowed(const char *list, const char *reason);

extern const struct cr_cfg_key server_config_keys[];
extern const size_t server_config_nkeys;

enum client_state {
    CLIENT_HELLO,  /* waiting for Hello */
    CLIENT_ANON,   /* Hello done, no login yet (people) */
    CLIENT_USER,   /* a person logged in */
    CLIENT_DAEMON, /* a daemon authenticated by its certificate */
    CLIENT_CLOSED, /* the connection is gone; pending requests drop their replies */
};

/* One connected peer. Allocated on accept; the connection and every pending request hold a
 * reference; freed when the last one is dropped (client_unref). */
struct client {
    struct server *srv;
    struct cr_conn *conn; /* NULL once closed */
    enum client_state state;
    int refs;
    int role;      /* Carillon__V1__Role from Hello */
    char peer[64]; /* ip:port */
    char ip[48];
    char node_name[64];
    struct store_user user; /* when CLIENT_USER */
    char token_sha256[65];  /* the session this connection logged in with */
    int64_t session_expires_at;
    bool login_pending;     /* one Login at a time */
    struct import *import;  /* the file import running on this connection, if any */
    struct export *export;  /* the export streaming on this connection, if any */
    char import_ended[160]; /* why the janitor ended the connection's last import, or "" */
    struct client *next, *prev;
    struct client_limits lim; /* limits.c's bookkeeping */
};

struct server {
    uv_loop_t *loop;
    struct server_config cfg;
    const char *config_path;
    struct cr_tls_ctx *tls;
    struct cr_pg *pg;
    uv_tcp_t listener;
    bool listening;
    bool stopping;
    struct client *clients;
    int nclients;
    struct server_limits lim;     /* limits.c: counts, the pending list, the janitor */
    int logins_in_progress;       /* password logins hashing or waiting for the thread pool */
    struct ratelimit login_limit; /* failed logins per login */
    struct ratelimit addr_limit;  /* failed logins per peer address */
    uv_timer_t janitor;           /* ends idle bulk transfers (bulk.c) */
    bool janitor_running;
    struct engine *engine; /* engine/engine.h: runs the campaigns */
};

/* Starts listening on cfg.listen with TLS; logs "ready". */
int server_listen(struct server *srv) __attribute__((warn_unused_result));
/* Stops accepting, closes every client (flushing when !fast). */
void server_stop(struct server *srv, bool fast);

void client_ref(struct client *c);
void client_unref(struct client *c);

/* Replies (request_id echoed). Ignored when the client is gone. */
void client_reply(struct client *c, uint64_t request_id, Carillon__V1__Envelope *env);
void client_error(struct client *c, uint64_t request_id, int code, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void client_ok(struct client *c, uint64_t request_id);
/* One answer of several to one request (a stream's chunks): the request stays in flight until
 * its last answer goes with client_reply or client_error. */
void client_reply_part(struct client *c, uint64_t request_id, Carillon__V1__Envelope *env);
/* A request that is answered by nothing (a stream's flow control, ExportNext) is done: it no
 * longer counts against max_requests_in_flight. */
void client_handled(struct client *c, uint64_t request_id);

struct request;
/* Handlers of the request routes (request.h): run once the route's right is checked; they own
 * req and free it. */
typedef void (*request_fn)(struct request *req);
/* The session conversation's handlers (session.c). They own env and free it. */
void session_handle_hello(struct client *c, Carillon__V1__Envelope *env);
void session_handle_login(struct client *c, Carillon__V1__Envelope *env);
void session_handle_logout(struct client *c, Carillon__V1__Envelope *env);
void session_handle_ping(struct client *c, Carillon__V1__Envelope *env);
void session_handle_whoami(struct client *c, Carillon__V1__Envelope *env);
/* A password check with the login limiters and the scrypt bound of Login, for logins that are
 * not a connection's own (agents on an agentd link, keyed by login + the agent's address): cb
 * gets code 0 and the user, or a Code and a sentence for the agent. */
typedef void (*password_check_cb)(void *arg, int code, const char *message,
                                  const struct store_user *u);
void session_password_check(struct server *srv, const char *login, const char *password,
                            const char *ip, const char *peer, password_check_cb cb, void *arg);
void users_handle_add(struct request *req);
void users_handle_list(struct request *req);
void users_handle_passwd(struct request *req);
void users_handle_disable(struct request *req);
void users_handle_set_profiles(struct request *req);
void contacts_handle_create(struct request *req);
void contacts_handle_list(struct request *req);
void contacts_handle_update(struct request *req);
void contacts_handle_filter_save(struct request *req);
void contacts_handle_filters_get(struct request *req);
void contacts_handle_modify(struct request *req);
void contacts_handle_list_set(struct request *req);
void contacts_handle_lists_get(struct request *req);
void import_handle_begin(struct request *req);
void import_handle_rows(struct request *req);
void import_handle_end(struct request *req);
/* Rolls back the connection's import when it closes. */
void import_client_closed(struct client *c);
/* Ends the connection's import when it has received nothing for idle_ms (the janitor). */
void import_check_idle(struct client *c, uint64_t now_ms, uint64_t idle_ms);
void export_handle_begin(struct request *req);
void export_handle_next(struct request *req);
/* Rolls back the connection's export when it closes, or when idle (the janitor). */
void export_client_closed(struct client *c);
void export_check_idle(struct client *c, uint64_t now_ms, uint64_t idle_ms);

/* Bulk transfers (imports and exports, bulk.c): the limits of [bulk]. 0 when c's user may start
 * one more, else -EBUSY with why naming the limit. */
int bulk_admit(const struct client *c, char *why, size_t len) __attribute__((warn_unused_result));
/* work_mem for one transfer's backend, in kB: bulk.memory / bulk.max_concurrent. */
int64_t bulk_work_mem_kb(const struct server *srv);
/* Starts the janitor that ends idle transfers (server_listen). */
void bulk_janitor_start(struct server *srv);
void bulk_janitor_stop(struct server *srv);
void contacts_handle_blacklist_add(struct request *req);
void contacts_handle_blacklist_list(struct request *req);
void campaigns_handle_grant(struct request *req);
void campaigns_handle_rights(struct request *req);
void campaigns_handle_apply(struct request *req);
void campaigns_handle_get(struct request *req);
void campaigns_handle_list(struct request *req);
void campaigns_handle_set_state(struct request *req);
void campaigns_handle_delete(struct request *req);
void campaigns_handle_duplicate(struct request *req);
void campaigns_handle_stats(struct request *req);
void compliance_handle_report(struct request *req);
void campaigns_handle_report(struct request *req); /* report.c */

/* Scratch space for a UserInfo's profile list. */
struct user_info_buf {
    char copy[1024];
    char *ptrs[64];
};
/* Fills a UserInfo from a store_user (strings point into u and buf). */
void user_to_info(const struct store_user *u, Carillon__V1__UserInfo *info,
                  struct user_info_buf *buf);
/* Runs password hashing or verification on the libuv thread pool. */
typedef void (*password_done_cb)(void *arg, int err, bool ok, const char *hash);
int password_verify_async(uv_loop_t *loop, const char *password, const char *hash,
                          password_done_cb cb, void *arg) __attribute__((warn_unused_result));
int password_hash_async(uv_loop_t *loop, const char *password, unsigned log_n, password_done_cb cb,
                        void *arg) __attribute__((warn_unused_result));

#endif
