/* TLS contexts for Carillon's connections (see tls.h): TLS 1.3 only, our own CA and CRL, the
 * peer's extended key usage and (client side) its role; on the server side a client
 * certificate that is requested but only required by daemon roles. */
#include "carillon/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carillon/log.h"

#include "tls_internal.h"

static void ssl_error(char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char reason[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    snprintf(err, errlen, "%s%s%s: %s", what, path ? " " : "", path ? path : "", reason);
    ERR_clear_error();
}

/* Called by OpenSSL for each certificate of the chain, after its own checks (ok says how they
 * went). On the leaf of a client connection it also requires the expected role in the subject
 * OU: host name and key usage say where the peer is and what TLS may do with the key, the role
 * says which Carillon daemon holds it. */
static int verify_peer_role(int ok, X509_STORE_CTX *store)
{
    if (!ok || X509_STORE_CTX_get_error_depth(store) != 0)
        return ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    const struct cr_tls_ctx *ctx = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
    if (!ctx || ctx->server || !ctx->peer_role[0])
        return ok;
    X509_NAME *subj = X509_get_subject_name(X509_STORE_CTX_get_current_cert(store));
    char role[CR_TLS_MAX_NAME], cn[CR_TLS_MAX_NAME];
    if (X509_NAME_get_text_by_NID(subj, NID_organizationalUnitName, role, sizeof role) < 0)
        role[0] = '\0';
    if (strcmp(role, ctx->peer_role) == 0)
        return 1;
    if (X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof cn) < 0)
        cn[0] = '\0';
    cr_log_warn("tls_peer_role_refused", "role=%s expected=%s cn=%s", cr_log_q(role),
                cr_log_q(ctx->peer_role), cr_log_q(cn));
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
}

/* Loads every CRL of path into the context's store and turns CRL checking on for the leaf.
 * A CRL past its next update is refused here, with the file named, rather than at every
 * handshake (where it would refuse each peer with "CRL has expired"). */
static int load_crl(SSL_CTX *ssl, const char *path, char *err, size_t errlen)
{
    BIO *in = BIO_new_file(path, "r");
    if (!in) {
        ssl_error(err, errlen, "cannot open CRL file", path);
        return -EINVAL;
    }
    X509_STORE *store = SSL_CTX_get_cert_store(ssl);
    int n = 0, rc = 0;
    X509_CRL *crl;
    while ((crl = PEM_read_bio_X509_CRL(in, NULL, NULL, NULL)) != NULL) {
        const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
        if (next && X509_cmp_current_time(next) <= 0) {
            snprintf(err, errlen,
                     "CRL file %s: past its next update; make a fresh one (deploy/pki.sh crl)",
                     path);
            rc = -EINVAL;
        } else if (X509_STORE_add_crl(store, crl) != 1) {
            ssl_error(err, errlen, "cannot add CRL from", path);
            rc = -EINVAL;
        }
        X509_CRL_free(crl);
        if (rc)
            break;
        n++;
    }
    BIO_free(in);
    if (rc)
        return rc;
    ERR_clear_error(); /* the end of the file reads as a PEM "no start line" error */
    if (n == 0) {
        snprintf(err, errlen, "CRL file %s: no CRL in it (PEM expected)", path);
        return -EINVAL;
    }
    X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ssl), X509_V_FLAG_CRL_CHECK);
    return 0;
}

static int ctx_new(const struct cr_tls_config *cfg, bool server, struct cr_tls_ctx **out, char *err,
                   size_t errlen)
{
    if (!cfg->ca_file || !cfg->ca_file[0]) {
        snprintf(err, errlen, "a CA file is required to verify peers");
        return -EINVAL;
    }
    if (server && (!cfg->cert_file || !cfg->cert_file[0] || !cfg->key_file || !cfg->key_file[0])) {
        snprintf(err, errlen, "a server needs a certificate and a key");
        return -EINVAL;
    }
    if (!!(cfg->cert_file && cfg->cert_file[0]) != !!(cfg->key_file && cfg->key_file[0])) {
        snprintf(err, errlen, "a certificate needs its key and a key its certificate");
        return -EINVAL;
    }
    SSL_CTX *ssl = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ssl) {
        ssl_error(err, errlen, "SSL_CTX_new", NULL);
        return -ENOMEM;
    }
    SSL_CTX_set_min_proto_version(ssl, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ssl, TLS1_3_VERSION);
    SSL_CTX_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (SSL_CTX_load_verify_locations(ssl, cfg->ca_file, NULL) != 1) {
        ssl_error(err, errlen, "cannot load CA file", cfg->ca_file);
        goto fail;
    }
    if (cfg->cert_file && cfg->cert_file[0]) {
        if (SSL_CTX_use_certificate_chain_file(ssl, cfg->cert_file) != 1) {
            ssl_error(err, errlen, "cannot load certificate", cfg->cert_file);
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(ssl, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
            ssl_error(err, errlen, "cannot load private key", cfg->key_file);
            goto fail;
        }
        if (SSL_CTX_check_private_key(ssl) != 1) {
            ssl_error(err, errlen, "the private key does not match the certificate", cfg->key_file);
            goto fail;
        }
    }
    if (cfg->crl_file && cfg->crl_file[0] && load_crl(ssl, cfg->crl_file, err, errlen) != 0)
        goto fail;
    /* OpenSSL picks the purpose from the side by default; said here so that a client
     * certificate (clientAuth only) never passes as a server's, nor the reverse. */
    X509_VERIFY_PARAM_set_purpose(SSL_CTX_get0_param(ssl),
                                  server ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER);
    const char *role = cfg->peer_role ? cfg->peer_role : CR_TLS_ROLE_SERVER;
    if (!server && strlen(role) >= CR_TLS_MAX_NAME) {
        snprintf(err, errlen, "peer role '%.32s...' is too long", role);
        goto fail;
    }
    if (server) {
        /* Ask for a certificate; a wrong one fails the handshake, none is allowed here and the
         * protocol layer refuses daemon roles without one. */
        SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, NULL);
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->ca_file);
        if (names)
            SSL_CTX_set_client_CA_list(ssl, names);
        SSL_CTX_set_num_tickets(ssl, 0);
        SSL_CTX_set_session_cache_mode(ssl, SSL_SESS_CACHE_OFF);
    } else {
        SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, verify_peer_role);
    }
    struct cr_tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        SSL_CTX_free(ssl);
        return -ENOMEM;
    }
    ctx->ssl = ssl;
    ctx->server = server;
    if (!server)
        snprintf(ctx->peer_role, sizeof ctx->peer_role, "%s", role);
    SSL_CTX_set_app_data(ssl, ctx); /* for verify_peer_role; ctx outlives every SSL made from it */
    *out = ctx;
    return 0;
fail:
    SSL_CTX_free(ssl);
    return -EINVAL;
}

int cr_tls_ctx_new_server(const struct cr_tls_config *cfg, struct cr_tls_ctx **out, char *err,
                          size_t errlen)
{
    return ctx_new(cfg, true, out, err, errlen);
}

int cr_tls_ctx_new_client(const struct cr_tls_config *cfg, struct cr_tls_ctx **out, char *err,
                          size_t errlen)
{
    return ctx_new(cfg, false, out, err, errlen);
}

void cr_tls_ctx_free(struct cr_tls_ctx *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl);
    free(ctx);
}
