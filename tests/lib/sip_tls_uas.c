/* cr-sip-tls-uas: a test-only SIP trunk over TLS (SIPp in Debian is built without TLS). It
 * listens on sips:, answers every INVITE with 180 then 200 OK (PCMA) and lets the caller hang up.
 *
 *   cr-sip-tls-uas --listen HOST:PORT --certs DIR [--calls N] [--timeout S]
 * DIR holds agent.pem (certificate and key) and cafile.pem, as sofia-sip reads them. Prints
 * "listening", then per call "invite from=URI transport=T" and "ended status=N"; exits 0 after N
 * calls (1) have ended, 1 on --timeout (30 s), 2 on usage errors. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/soa_tag.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/tport_tag.h>

struct uas {
    su_root_t *root;
    nua_t *nua;
    int calls, ended, exit_code;
};

static void on_event(nua_event_t event, int status, char const *phrase, nua_t *nua,
                     nua_magic_t *magic, nua_handle_t *nh, nua_hmagic_t *hmagic, sip_t const *sip,
                     tagi_t tags[])
{
    (void)phrase, (void)nua, (void)hmagic;
    struct uas *u = (struct uas *)magic;
    switch (event) {
    case nua_i_invite: {
        char from[256] = "?";
        if (sip && sip->sip_from)
            snprintf(from, sizeof from, URL_PRINT_FORMAT, URL_PRINT_ARGS(sip->sip_from->a_url));
        const char *tp =
            sip && sip->sip_via && sip->sip_via->v_protocol ? sip->sip_via->v_protocol : "?";
        printf("invite from=%s transport=%s\n", from, tp);
        nua_respond(nh, SIP_180_RINGING, TAG_END());
        nua_respond(nh, SIP_200_OK, TAG_END());
        break;
    }
    case nua_i_state: {
        int state = 0;
        tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
        if (state == nua_callstate_terminated) {
            printf("ended status=%d\n", status);
            nua_handle_destroy(nh);
            if (++u->ended >= u->calls)
                su_root_break(u->root);
        }
        break;
    }
    case nua_r_shutdown:
        if (status >= 200)
            su_root_break(u->root);
        break;
    default:
        break;
    }
}

static void on_timeout(su_root_magic_t *magic, su_timer_t *t, su_timer_arg_t *arg)
{
    (void)magic, (void)t;
    struct uas *u = (struct uas *)arg;
    printf("timeout\n");
    u->exit_code = 1;
    su_root_break(u->root);
}

int main(int argc, char **argv)
{
    const char *listen = NULL, *certs = NULL;
    struct uas u = {.calls = 1};
    unsigned timeout_s = 30;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc)
            listen = argv[++i];
        else if (!strcmp(argv[i], "--certs") && i + 1 < argc)
            certs = argv[++i];
        else if (!strcmp(argv[i], "--calls") && i + 1 < argc)
            u.calls = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            timeout_s = (unsigned)atoi(argv[++i]);
        else
            listen = NULL, i = argc;
    }
    if (!listen || !certs || u.calls < 1) {
        fprintf(stderr, "usage: cr-sip-tls-uas --listen HOST:PORT --certs DIR [--calls N] "
                        "[--timeout S]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    su_init();
    su_log_set_level(NULL, 0);
    u.root = su_root_create(&u);
    char url[300];
    snprintf(url, sizeof url, "sips:%s", listen);
    u.nua = nua_create(
        u.root, on_event, (nua_magic_t *)&u, NUTAG_URL(url), TPTAG_CERTIFICATE(certs),
        TPTAG_TLS_VERIFY_POLICY(TPTLS_VERIFY_NONE), NUTAG_AUTOACK(1), NUTAG_MEDIA_ENABLE(1),
        SOATAG_USER_SDP_STR("m=audio 5004 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"), TAG_END());
    if (!u.nua) {
        fprintf(stderr, "cr-sip-tls-uas: cannot listen on %s with certificates from %s\n", url,
                certs);
        su_root_destroy(u.root);
        su_deinit();
        return 2;
    }
    printf("listening\n");
    su_timer_t *t = su_timer_create(su_root_task(u.root), (su_duration_t)timeout_s * 1000);
    su_timer_set(t, on_timeout, (su_timer_arg_t *)&u);
    su_root_run(u.root);
    su_timer_destroy(t);
    nua_shutdown(u.nua);
    su_root_run(u.root); /* until nua_r_shutdown */
    nua_destroy(u.nua);
    su_root_destroy(u.root);
    su_deinit();
    return u.exit_code;
}
