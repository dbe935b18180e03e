/* carillon-server: reads its INI config, connects to PostgreSQL, applies the schema migrations,
 * then serves supervisors, agents and daemons over TLS until TERM or INT. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/server.h"
#include "auth/password.h"
#include "carillon/cfg.h"
#include "carillon/daemon.h"
#include "carillon/log.h"
#include "engine/engine.h"
#include "store/compliance_store.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: carillon-server --config FILE [--init-admin LOGIN]\n"
               "       carillon-server --example-config | --version | --help\n"
               "\n"
               "  --config FILE        INI configuration (see deploy/server.conf.example)\n"
               "  --init-admin LOGIN   create the admin LOGIN (or reset its password) with the\n"
               "                       password read from the first line of stdin, then exit\n"
               "  --example-config     print a configuration file documenting every key\n");
}

/* Everything main() wires together; lives on main's stack for the process's life. */
struct app {
    struct server srv;
    const char *init_admin;
    int exit_code;
    char admin_password[CR_PASSWORD_MAX + 2];
    uv_timer_t sweep; /* hourly removal of expired sessions */
};

static void on_swept(void *arg, int err)
{
    (void)arg;
    if (err && err != -ENOENT)
        cr_log_warn("session_sweep_failed", "error=%s", cr_log_q(strerror(-err)));
}

static void on_holidays(void *arg, const struct cr_pg_result *r)
{
    (void)arg;
    if (r->status)
        cr_log_warn("holidays_fill_failed", "error=%s", cr_log_q(r->message ? r->message : "-"));
    else if (atoi(PQcmdTuples(r->res[0])) > 0)
        cr_log_info("holidays_filled", "profile=FR added=%s", PQcmdTuples(r->res[0]));
}

/* The public holidays the claims join on (compliance profiles), this year and the next two:
 * refilled each sweep, so a server running across New Year has the new year's days. */
static void fill_holidays(struct app *app)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int year = tm.tm_year + 1900;
    if (store_holidays_fill(app->srv.pg, COMPLIANCE_FR, year, year + 2, on_holidays, app) != 0)
        cr_log_warn("holidays_fill_failed", "error=queue");
}

static void on_sweep(uv_timer_t *t)
{
    struct app *app = t->data;
    if (!app->srv.pg)
        return;
    if (store_session_expire(app->srv.pg, on_swept, app) != 0)
        cr_log_warn("session_sweep_failed", "error=queue");
    fill_holidays(app);
}

static void app_fail(struct app *app, int code)
{
    app->exit_code = code;
    server_stop(&app->srv, true);
    if (app->srv.pg) {
        cr_pg_close(app->srv.pg, NULL, NULL);
        app->srv.pg = NULL;
    }
    cr_daemon_shutdown();
}

static void on_stop(void *arg, bool fast)
{
    struct app *app = arg;
    cr_log_info("stopping", "mode=%s clients=%d", fast ? "fast" : "graceful", app->srv.nclients);
    server_stop(&app->srv, fast);
    if (app->srv.pg) {
        cr_pg_close(app->srv.pg, NULL, NULL);
        app->srv.pg = NULL;
    }
    cr_daemon_shutdown();
}

static void apply_log_config(const struct server_config *cfg)
{
    cr_log_set_level((enum cr_log_level)cfg->log_level);
    cr_log_set_json(cfg->log_json);
}

static void on_reload(void *arg)
{
    struct app *app = arg;
    char err[1024], warn[1024];
    if (cr_cfg_reload(server_config_keys, server_config_nkeys, app->srv.config_path, &app->srv.cfg,
                      err, sizeof err, warn, sizeof warn) != 0) {
        cr_log_error("reload_failed", "error=%s kept=previous", cr_log_q(err));
        return;
    }
    apply_log_config(&app->srv.cfg);
    struct server *srv = &app->srv;
    srv->login_limit.max_failures = (uint32_t)srv->cfg.login_max_failures;
    srv->login_limit.window_ms = (uint64_t)srv->cfg.login_window_ms;
    srv->login_limit.lockout_ms = (uint64_t)srv->cfg.login_lockout_ms;
    srv->addr_limit.max_failures = (uint32_t)srv->cfg.login_addr_max_failures;
    srv->addr_limit.window_ms = (uint64_t)srv->cfg.login_window_ms;
    srv->addr_limit.lockout_ms = (uint64_t)srv->cfg.login_lockout_ms;
    if (warn[0])
        cr_log_warn("reloaded", "restart_needed_for=%s", cr_log_q(warn));
    else
        cr_log_info("reloaded", "config=%s", cr_log_q(app->srv.config_path));
}

static void on_admin_ready(void *arg, int err, const struct store_user *u)
{
    struct app *app = arg;
    if (err) {
        fprintf(stderr, "carillon-server: could not create the admin: %s\n", strerror(-err));
        app_fail(app, 1);
        return;
    }
    printf("admin %s ready\n", u->login);
    cr_log_info("admin_initialised", "user=%s", cr_log_q(u->login));
    app->exit_code = 0;
    cr_pg_close(app->srv.pg, NULL, NULL);
    app->srv.pg = NULL;
    cr_daemon_shutdown();
}

static void on_admin_hashed(void *arg, int err, bool ok, const char *hash)
{
    (void)ok;
    struct app *app = arg;
    if (err || store_user_upsert_admin(app->srv.pg, app->init_admin, hash, on_admin_ready, app)) {
        fprintf(stderr, "carillon-server: could not hash the password\n");
        app_fail(app, 1);
    }
}

static void on_migrated(void *arg, int err)
{
    struct app *app = arg;
    if (err) {
        fprintf(stderr, "carillon-server: schema migration failed (%s); see the log above\n",
                strerror(-err));
        app_fail(app, 1);
        return;
    }
    if (app->init_admin) {
        if (password_hash_async(app->srv.loop, app->admin_password,
                                (unsigned)app->srv.cfg.scrypt_log_n, on_admin_hashed, app)) {
            app_fail(app, 1);
        }
        memset(app->admin_password, 0, sizeof app->admin_password);
        return;
    }
    if (server_listen(&app->srv) != 0 || engine_start(&app->srv) != 0) {
        app_fail(app, 1);
        return;
    }
    uv_timer_init(app->srv.loop, &app->sweep);
    app->sweep.data = app;
    uv_timer_start(&app->sweep, on_sweep, 1000, 3600 * 1000);
    uv_unref((uv_handle_t *)&app->sweep);
}

/* Migrations run once per process, on the first connection to PostgreSQL. Later reconnects
 * (after a database restart) just resume the queued queries. */
static void on_pg_state(void *arg, bool up)
{
    struct app *app = arg;
    static bool migrated_once;
    if (!up || migrated_once)
        return;
    migrated_once = true;
    int rc = store_migrate(app->srv.pg, app->srv.cfg.migrations_dir, on_migrated, app);
    if (rc) {
        fprintf(stderr, "carillon-server: cannot read migrations from %s: %s\n",
                app->srv.cfg.migrations_dir, strerror(-rc));
        app_fail(app, 1);
    }
}

/* Reads the first line of stdin into buf (newline stripped); 0 or -EINVAL. */
static int read_password_line(char *buf, size_t len)
{
    if (!fgets(buf, (int)len, stdin))
        return -EINVAL;
    size_t n = strcspn(buf, "\r\n");
    if (buf[n] == '\0' && n == len - 1)
        return -E2BIG;
    buf[n] = '\0';
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},   {"init-admin", required_argument, NULL, 'a'},
        {"example-config", no_argument, NULL, 'e'}, {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    struct app app;
    memset(&app, 0, sizeof app);
    const char *config = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:a:eVh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'a':
            app.init_admin = optarg;
            break;
        case 'e':
            cr_cfg_write_example(server_config_keys, server_config_nkeys, STDOUT_FILENO);
            return 0;
        case 'V':
            printf("carillon-server %s\n", CARILLON_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!config || optind != argc) {
        fprintf(stderr, "carillon-server: %s\n",
                config ? "unexpected argument" : "--config FILE is required");
        usage(stderr);
        return 2;
    }

    struct server *srv = &app.srv;
    char err[1024];
    if (cr_cfg_load(server_config_keys, server_config_nkeys, config, &srv->cfg, err, sizeof err) !=
        0) {
        fprintf(stderr, "carillon-server: %s\n", err);
        return 2;
    }
    srv->config_path = config;
    cr_log_init("server", (enum cr_log_level)srv->cfg.log_level, srv->cfg.log_json);

    if (app.init_admin) {
        if (read_password_line(app.admin_password, sizeof app.admin_password) != 0 ||
            cr_password_weakness(app.admin_password)) {
            fprintf(stderr, "carillon-server: --init-admin reads the password from stdin: %s\n",
                    cr_password_weakness(app.admin_password)
                        ? cr_password_weakness(app.admin_password)
                        : "no password line");
            cr_cfg_free(server_config_keys, server_config_nkeys, &srv->cfg);
            return 1;
        }
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    srv->loop = &loop;
    app.exit_code = 0;

    struct cr_tls_config tcfg = {.ca_file = srv->cfg.tls_ca,
                                 .cert_file = srv->cfg.tls_cert,
                                 .key_file = srv->cfg.tls_key,
                                 .crl_file = srv->cfg.tls_crl};
    int rc = 0;
    if (!app.init_admin) {
        rc = cr_tls_ctx_new_server(&tcfg, &srv->tls, err, sizeof err);
        if (rc) {
            fprintf(stderr, "carillon-server: TLS: %s\n", err);
            app.exit_code = 2;
            goto done;
        }
    }
    if (ratelimit_init(&srv->login_limit, (uint32_t)srv->cfg.login_max_failures,
                       (uint64_t)srv->cfg.login_window_ms,
                       (uint64_t)srv->cfg.login_lockout_ms) != 0 ||
        ratelimit_init(&srv->addr_limit, (uint32_t)srv->cfg.login_addr_max_failures,
                       (uint64_t)srv->cfg.login_window_ms,
                       (uint64_t)srv->cfg.login_lockout_ms) != 0) {
        app.exit_code = 1;
        goto done;
    }
    static const struct cr_daemon_cbs dcbs = {.on_stop = on_stop, .on_reload = on_reload};
    rc = cr_daemon_init(&loop, app.init_admin || !srv->cfg.pid_file[0] ? NULL : srv->cfg.pid_file,
                        &dcbs, &app);
    if (rc) {
        fprintf(stderr, "carillon-server: pid file %s: %s\n", srv->cfg.pid_file, strerror(-rc));
        app.exit_code = 1;
        goto done;
    }
    struct cr_pg_opts popts = {.conninfo = srv->cfg.db_conninfo,
                               .down_wait_ms = (unsigned)srv->cfg.db_down_wait_ms};
    rc = cr_pg_new(&loop, &popts, &srv->pg);
    if (rc) {
        fprintf(stderr, "carillon-server: database: %s\n", strerror(-rc));
        cr_daemon_shutdown();
        app.exit_code = 1;
        goto done;
    }
    cr_pg_on_state(srv->pg, on_pg_state, &app);
    cr_log_info("starting", "version=%s config=%s pid=%d", CARILLON_VERSION, cr_log_q(config),
                (int)getpid());

    uv_run(&loop, UV_RUN_DEFAULT);
    cr_log_info("stopped", "exit=%d", app.exit_code);
done:
    cr_loop_close_all(&loop);
    engine_free(srv);
    if (srv->tls)
        cr_tls_ctx_free(srv->tls);
    ratelimit_free(&srv->login_limit);
    ratelimit_free(&srv->addr_limit);
    cr_cfg_free(server_config_keys, server_config_nkeys, &srv->cfg);
    return app.exit_code;
}
