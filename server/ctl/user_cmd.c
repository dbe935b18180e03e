/* carillonctl's session and user commands: ping, login, logout, whoami, user add|list|passwd|
 * enable|disable|profiles. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "carillon/daemon.h"
#include "ctl.h"
#include "ctlutil.h"

static void print_user_json(const Carillon__V1__UserInfo *u)
{
    printf("{\"id\":%lld,\"login\":", (long long)u->id);
    ctl_json_string(stdout, u->login);
    printf(",\"display_name\":");
    ctl_json_string(stdout, u->display_name);
    printf(",\"role\":\"%s\",\"disabled\":%s,\"created_at\":", ctl_role_name(u->role),
           u->disabled ? "true" : "false");
    ctl_json_time(u->created_at);
    printf(",\"profiles\":[");
    for (size_t i = 0; i < u->n_profiles; i++) {
        if (i)
            putchar(',');
        ctl_json_string(stdout, u->profiles[i]);
    }
    printf("]}");
}

int ctl_ping(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int rc = ctl_connect();
    if (rc)
        return rc;
    Carillon__V1__Ping p = CARILLON__V1__PING__INIT;
    p.sent_at_us = cr_now_us();
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_PING;
    env.ping = &p;
    if ((rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_PONG)))
        return rc;
    const Carillon__V1__Pong *pong = ctl_reply()->pong;
    double rtt_ms = (double)(cr_now_us() - pong->sent_at_us) / 1000.0;
    if (ctl_json()) {
        printf("{\"node\":");
        ctl_json_string(stdout, ctl_server_node());
        printf(",\"server_version\":");
        ctl_json_string(stdout, pong->server_version);
        printf(",\"server_time_us\":%lld,\"rtt_ms\":%.3f}\n", (long long)pong->server_time_us,
               rtt_ms);
    } else {
        /* "carillon-server 0.1.0" reads "server 0.1.0" here. */
        const char *v = pong->server_version;
        if (strncmp(v, "carillon-server ", 16) == 0)
            v += 16;
        printf("pong from ");
        ctl_pad(stdout, ctl_server_node(), 0);
        printf(" (server ");
        ctl_pad(stdout, v, 0);
        printf(") in %.1f ms\n", rtt_ms);
    }
    ctl_drop_reply();
    return 0;
}

int ctl_login(int argc, char **argv)
{
    if (argc > 1)
        return ctl_usage("login takes at most one LOGIN");
    char login[CTL_LOGIN_MAX + 2] = "", password[CTL_PASSWORD_MAX + 2] = "", err[128];
    int rc;
    if (argc == 1)
        snprintf(login, sizeof login, "%s", argv[0]);
    else if (getenv("CARILLON_USER") && *getenv("CARILLON_USER"))
        snprintf(login, sizeof login, "%s", getenv("CARILLON_USER"));
    else if (!isatty(STDIN_FILENO))
        return ctl_usage("login: give LOGIN or set CARILLON_USER (stdin is not a terminal)");
    else if ((rc = ctl_prompt_tty("login: ", false, login, sizeof login)))
        return rc == -EMSGSIZE ? ctl_usage("the login is longer than %d bytes", CTL_LOGIN_MAX)
                               : ctl_usage("no login given");
    if (ctl_check_login(login, err, sizeof err))
        return ctl_usage("%s", err);
    const char *envpw = getenv("CARILLON_PASSWORD");
    if (envpw) {
        if (strlen(envpw) > CTL_PASSWORD_MAX)
            return ctl_usage("CARILLON_PASSWORD is longer than %d bytes", CTL_PASSWORD_MAX);
        snprintf(password, sizeof password, "%s", envpw);
    } else if (isatty(STDIN_FILENO)) {
        if ((rc = ctl_prompt_tty("password: ", true, password, sizeof password)))
            return ctl_secret_error(rc, "password", "at the prompt");
    } else if ((rc = ctl_read_line(stdin, password, sizeof password))) {
        return ctl_secret_error(rc, "password", "first line of stdin");
    }
    if (ctl_check_password(password, err, sizeof err))
        return ctl_usage("%s", err);

    if ((rc = ctl_connect()))
        return rc;
    rc = ctl_login_with(login, password, NULL);
    memset(password, 0, sizeof password);
    if (rc > 0)
        return rc;
    if (rc < 0)
        return ctl_expect(CARILLON__V1__ENVELOPE__BODY_LOGIN_OK);
    const Carillon__V1__LoginOk *ok = ctl_reply()->login_ok;
    if ((rc = ctl_session_save(ok->user->login, ok->token))) {
        ctl_drop_reply();
        char path[4200] = "the session file";
        if (ctl_session_path(path, sizeof path, false))
            snprintf(path, sizeof path, "the session file (set CARILLON_CONFIG_DIR or HOME)");
        return ctl_report(CTL_EXIT_REFUSED, "INTERNAL", NULL, "logged in, but cannot save %s: %s",
                          path, strerror(-rc));
    }
    if (ctl_json()) {
        printf("{\"user\":");
        print_user_json(ok->user);
        printf(",\"expires_at\":");
        ctl_json_time(ok->expires_at);
        printf("}\n");
    } else {
        char when[64];
        ctl_format_time(ok->expires_at, when, sizeof when);
        printf("logged in as ");
        ctl_pad(stdout, ok->user->login, 0);
        printf(" (%s) until %s\n", ctl_role_name(ok->user->role), when);
    }
    ctl_drop_reply();
    return 0;
}

int ctl_logout(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int trc = ctl_check_target(); /* the session file is per server */
    if (trc)
        return trc;
    struct ctl_session s;
    if (ctl_session_load(&s) != 0) {
        ctl_session_remove();
        return ctl_print_ok("not logged in");
    }
    int rc = ctl_connect();
    if (rc)
        return rc; /* the file is kept: the token may still be alive on the server */
    rc = ctl_login_with(s.login, NULL, s.token);
    if (rc > 0)
        return rc;
    ctl_drop_reply();
    if (rc == 0) {
        Carillon__V1__Logout lo = CARILLON__V1__LOGOUT__INIT;
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_LOGOUT;
        env.logout = &lo;
        if ((rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_OK)))
            return rc;
        ctl_drop_reply();
    }
    ctl_session_remove();
    return ctl_print_ok("logged out");
}

int ctl_whoami(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int rc = ctl_connect_and_auth();
    if (rc)
        return rc;
    Carillon__V1__WhoAmI w = CARILLON__V1__WHO_AM_I__INIT;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_WHOAMI;
    env.whoami = &w;
    if ((rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_WHOAMI_REPLY)))
        return rc;
    const Carillon__V1__WhoAmIReply *r = ctl_reply()->whoami_reply;
    if (ctl_json()) {
        printf("{\"user\":");
        print_user_json(r->user);
        printf(",\"session_expires_at\":");
        ctl_json_time(ctl_saved_session() ? r->session_expires_at : 0);
        printf("}\n");
    } else {
        printf("login: ");
        ctl_pad(stdout, r->user->login, 0);
        printf("\nname: ");
        ctl_pad(stdout, r->user->display_name, 0);
        printf("\nrole: %s\n", ctl_role_name(r->user->role));
        /* Only a saved session outlives this command; the one opened with CARILLON_USER and
         * CARILLON_PASSWORD is revoked at exit, so its expiry means nothing. */
        if (ctl_saved_session()) {
            char when[64];
            ctl_format_time(r->session_expires_at, when, sizeof when);
            printf("session expires: %s\n", when);
        }
    }
    ctl_drop_reply();
    return 0;
}

int ctl_user_list(int argc, char **argv)
{
    bool all;
    char err[256];
    if (ctl_parse_user_list(argc, argv, &all, err, sizeof err))
        return ctl_usage("%s", err);
    int rc = ctl_connect_and_auth();
    if (rc)
        return rc;
    Carillon__V1__UserList ul = CARILLON__V1__USER_LIST__INIT;
    ul.include_disabled = all;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_LIST;
    env.user_list = &ul;
    if ((rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_USER_LIST_REPLY)))
        return rc;
    const Carillon__V1__UserListReply *r = ctl_reply()->user_list_reply;
    if (ctl_json()) {
        printf("{\"users\":[");
        for (size_t i = 0; i < r->n_users; i++) {
            if (i)
                putchar(',');
            print_user_json(r->users[i]);
        }
        printf("]}\n");
        ctl_drop_reply();
        return 0;
    }
    /* Columns sized by display width, so "Hélène Dupré" and "李小龙" line up; the last column
     * is not padded (no trailing blanks). PROFILES shows only when someone has one. */
    int wl = ctl_display_width("LOGIN"), wn = ctl_display_width("NAME"),
        wr = ctl_display_width("ROLE");
    bool profiles = false;
    for (size_t i = 0; i < r->n_users; i++) {
        const Carillon__V1__UserInfo *u = r->users[i];
        if (ctl_display_width(u->login) > wl)
            wl = ctl_display_width(u->login);
        if (ctl_display_width(u->display_name) > wn)
            wn = ctl_display_width(u->display_name);
        if (ctl_display_width(ctl_role_name(u->role)) > wr)
            wr = ctl_display_width(ctl_role_name(u->role));
        profiles = profiles || u->n_profiles > 0;
    }
    ctl_print_padded("LOGIN", wl + 2);
    ctl_print_padded("NAME", wn + 2);
    ctl_print_padded("ROLE", wr + 2);
    ctl_print_padded("STATE", 10);
    ctl_print_padded("CREATED", profiles ? 24 : 0);
    printf(profiles ? "PROFILES\n" : "\n");
    for (size_t i = 0; i < r->n_users; i++) {
        const Carillon__V1__UserInfo *u = r->users[i];
        char when[64];
        ctl_format_time(u->created_at, when, sizeof when);
        ctl_print_padded(u->login, wl + 2);
        ctl_print_padded(u->display_name, wn + 2);
        ctl_print_padded(ctl_role_name(u->role), wr + 2);
        ctl_print_padded(u->disabled ? "disabled" : "active", 10);
        ctl_print_padded(when, u->n_profiles ? 24 : 0);
        for (size_t k = 0; k < u->n_profiles; k++) {
            if (k)
                putchar(',');
            ctl_print_padded(u->profiles[k], 0);
        }
        putchar('\n');
    }
    ctl_drop_reply();
    return 0;
}

/* A new password: the first stdin line with --password-stdin, else asked twice on the tty. */
static int new_password(bool from_stdin, char *buf, size_t len)
{
    int rc;
    char err[128];
    if (from_stdin) {
        if ((rc = ctl_read_line(stdin, buf, len)))
            return ctl_secret_error(rc, "password",
                                    "--password-stdin reads the first line of stdin");
    } else {
        if (!isatty(STDIN_FILENO))
            return ctl_usage("stdin is not a terminal: give the password with "
                             "--password-stdin");
        char again[CTL_PASSWORD_MAX + 2];
        if ((rc = ctl_prompt_tty("new password: ", true, buf, len)) ||
            (rc = ctl_prompt_tty("new password again: ", true, again, sizeof again)))
            return ctl_secret_error(rc, "password", "at the prompt");
        bool same = strcmp(buf, again) == 0;
        memset(again, 0, sizeof again);
        if (!same)
            return ctl_usage("the two passwords differ");
    }
    if (ctl_check_password(buf, err, sizeof err))
        return ctl_usage("%s", err);
    return 0;
}

/* The current password, needed to change one's own: CARILLON_OLD_PASSWORD, the second stdin
 * line with --password-stdin, else asked on the tty. */
static int old_password(bool from_stdin, char *buf, size_t len)
{
    int rc;
    const char *env = getenv("CARILLON_OLD_PASSWORD");
    if (env) {
        if (strlen(env) > CTL_PASSWORD_MAX)
            return ctl_usage("CARILLON_OLD_PASSWORD is longer than %d bytes", CTL_PASSWORD_MAX);
        snprintf(buf, len, "%s", env);
    } else if (from_stdin) {
        if ((rc = ctl_read_line(stdin, buf, len)))
            return ctl_secret_error(rc, "current password",
                                    "the second line of stdin, or CARILLON_OLD_PASSWORD");
    } else if (!isatty(STDIN_FILENO)) {
        return ctl_usage("changing your own password needs the current one "
                         "(CARILLON_OLD_PASSWORD, or a second line with --password-stdin)");
    } else if ((rc = ctl_prompt_tty("current password: ", true, buf, len))) {
        return ctl_secret_error(rc, "current password", "at the prompt");
    }
    return 0;
}

int ctl_user_add(int argc, char **argv)
{
    struct ctl_user_add_args a;
    char err[256];
    if (ctl_parse_user_add(argc, argv, &a, err, sizeof err))
        return ctl_usage("%s", err);
    char password[CTL_PASSWORD_MAX + 2];
    int rc = new_password(a.password_stdin, password, sizeof password);
    if (rc)
        return rc;
    if ((rc = ctl_connect_and_auth())) {
        memset(password, 0, sizeof password);
        return rc;
    }
    Carillon__V1__UserAdd ua = CARILLON__V1__USER_ADD__INIT;
    ua.login = (char *)a.login;
    ua.display_name = (char *)a.name;
    ua.role = a.role;
    ua.password = password;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_ADD;
    env.user_add = &ua;
    rc = ctl_call(&env);
    memset(password, 0, sizeof password);
    if (rc || (rc = ctl_expect(CARILLON__V1__ENVELOPE__BODY_USER_ADD_REPLY)))
        return rc;
    const Carillon__V1__UserInfo *u = ctl_reply()->user_add_reply->user;
    if (ctl_json()) {
        printf("{\"user\":");
        print_user_json(u);
        printf("}\n");
    } else {
        printf("user ");
        ctl_pad(stdout, u->login, 0);
        printf(" added (%s, ", ctl_role_name(u->role));
        ctl_pad(stdout, u->display_name, 0);
        printf(")\n");
    }
    ctl_drop_reply();
    return 0;
}

int ctl_user_passwd(int argc, char **argv)
{
    struct ctl_user_passwd_args a;
    char err[256];
    if (ctl_parse_user_passwd(argc, argv, &a, err, sizeof err))
        return ctl_usage("%s", err);
    char password[CTL_PASSWORD_MAX + 2], old[CTL_PASSWORD_MAX + 2] = "";
    bool self = !a.login[0];
    int rc = new_password(a.password_stdin, password, sizeof password);
    if (!rc && self)
        rc = old_password(a.password_stdin, old, sizeof old);
    if (!rc && !(rc = ctl_connect_and_auth()) && !self) {
        /* LOGIN may be one's own, and then the server wants the current password too. */
        Carillon__V1__WhoAmI w = CARILLON__V1__WHO_AM_I__INIT;
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_WHOAMI;
        env.whoami = &w;
        if (!(rc = ctl_call(&env)) &&
            !(rc = ctl_expect(CARILLON__V1__ENVELOPE__BODY_WHOAMI_REPLY))) {
            self = strcmp(a.login, ctl_reply()->whoami_reply->user->login) == 0;
            ctl_drop_reply();
            if (self)
                rc = old_password(a.password_stdin, old, sizeof old);
        }
    }
    if (!rc) {
        Carillon__V1__UserPasswd up = CARILLON__V1__USER_PASSWD__INIT;
        up.login = (char *)a.login;
        up.new_password = password;
        up.old_password = old;
        Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
        env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_PASSWD;
        env.user_passwd = &up;
        if (!(rc = ctl_call(&env)))
            rc = ctl_expect(CARILLON__V1__ENVELOPE__BODY_OK);
    }
    memset(password, 0, sizeof password);
    memset(old, 0, sizeof old);
    if (rc)
        return rc;
    ctl_drop_reply();
    return ctl_print_ok(self ? "your password was changed" : "password changed");
}

static int user_enable(int argc, char **argv, bool enable)
{
    const char *login;
    char err[256];
    if (ctl_parse_user_login(enable ? "enable" : "disable", argc, argv, &login, err, sizeof err))
        return ctl_usage("%s", err);
    int rc = ctl_connect_and_auth();
    if (rc)
        return rc;
    Carillon__V1__UserDisable ud = CARILLON__V1__USER_DISABLE__INIT;
    ud.login = (char *)login;
    ud.enable = enable;
    Carillon__V1__Envelope env = CARILLON__V1__ENVELOPE__INIT;
    env.body_case = CARILLON__V1__ENVELOPE__BODY_USER_DISABLE;
    env.user_disable = &ud;
    if ((rc = ctl_request(&env, CARILLON__V1__ENVELOPE__BODY_OK)))
        return rc;
    ctl_drop_reply();
    char text[128];
    snprintf(text, sizeof text, "user %s %s", login, enable ? "enabled" : "disabled");
    return ctl_print_ok(text);
}

int ctl_user_enable(int argc, char **argv)
{
    return user_enable(argc, argv, true);
}

int ctl_user_disable(int argc, char **argv)
{
    return user_enable(argc, argv, false);
}
