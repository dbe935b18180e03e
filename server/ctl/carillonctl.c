/* carillonctl: the supervisor CLI. Each command opens one TLS connection to carillon-server,
 * says Hello, authenticates (session token, else CARILLON_USER/CARILLON_PASSWORD), sends its
 * requests and prints the answers as text or JSON. Exit: 0 ok, 1 refused, 2 usage, 3 connection.
 *
 * The files: this one reads the global options; commands.c holds the command table (dispatch
 * and help); request.c the connection and the one request API; session.c the session file and
 * login; *_cmd.c, edit.c and import_cmd.c the commands, by concern; ctlutil.c pure helpers. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carillon/conn.h"
#include "carillon/log.h"
#include "ctl.h"
#include "ctlutil.h"
#include "pbyaml.h"

static bool is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* The server and CA every command but help needs: flags win over the environment. */
int ctl_check_target(void)
{
    if (!ctl_opt.server || !*ctl_opt.server)
        return ctl_usage("no server: use --server HOST:PORT or set CARILLON_SERVER");
    if (!ctl_opt.ca || !*ctl_opt.ca)
        return ctl_usage("no CA certificate: use --ca FILE or set CARILLON_CA");
    if (strlen(ctl_opt.server) > CTL_SERVER_MAX ||
        cr_hostport_parse(ctl_opt.server, ctl_opt.host, sizeof ctl_opt.host, &ctl_opt.port) != 0)
        return ctl_usage("bad server address '%s' (HOST:PORT, IPV4:PORT or [IPV6]:PORT)",
                         ctl_opt.server);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"ca", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {"utc", no_argument, NULL, 'u'},
        {NULL, 0, NULL, 0},
    };
    /* --json is taken anywhere ("carillonctl user list --json"), and first, so that even an
     * error in the other options comes out as JSON. */
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        if (is(argv[i], "--json"))
            ctl_opt.json = true;
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    argv[argc] = NULL;
    ctl_opt.server = getenv("CARILLON_SERVER");
    ctl_opt.ca = getenv("CARILLON_CA");
    /* Warnings show: libcommon says there why a TLS handshake failed (the certificate check). */
    cr_log_init("carillonctl", CR_LOG_WARN, false);
    /* --timeout's default, for scripts and slow links (an explicit --timeout wins) */
    const char *env_timeout = getenv("CARILLON_TIMEOUT");
    if (env_timeout && env_timeout[0] && ctl_parse_timeout(env_timeout, &ctl_opt.timeout_ms))
        return ctl_usage("CARILLON_TIMEOUT takes seconds above 0 and at most 3600, not '%s'",
                         env_timeout);
    opterr = 0;
    int ch;
    /* '+': stop at the command, so its own flags (--role, --all) are left to it. */
    while ((ch = getopt_long(argc, argv, "+:s:c:t:Vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            ctl_opt.server = optarg;
            break;
        case 'c':
            ctl_opt.ca = optarg;
            break;
        case 't':
            if (ctl_parse_timeout(optarg, &ctl_opt.timeout_ms))
                return ctl_usage("--timeout takes seconds above 0 and at most 3600, not '%s'",
                                 optarg);
            break;
        case 'u':
            ctl_opt.utc = pbjson_utc = true;
            break;
        case 'V':
            if (ctl_opt.json)
                printf("{\"software\":\"carillonctl\",\"version\":\"%s\"}\n", CARILLON_VERSION);
            else
                printf("carillonctl %s\n", CARILLON_VERSION);
            return 0;
        case 'h': {
            char *help[] = {"help", NULL};
            return ctl_run_command(1, help);
        }
        case ':':
            return ctl_usage("%s needs a value", argv[optind - 1]);
        default:
            if (optopt && optopt != '?')
                return ctl_usage("unknown option '-%c'", optopt);
            return ctl_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return ctl_usage("no command given (carillonctl help lists them)");
    int rc = ctl_run_command(argc - optind, argv + optind);
    ctl_drop_reply();
    ctl_end_temp_session();
    ctl_disconnect();
    if (fflush(stdout) != 0 && rc == 0)
        rc = CTL_EXIT_REFUSED;
    return rc;
}
