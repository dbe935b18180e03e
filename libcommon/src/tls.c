/* TLS contexts for Carillon's connections (see tls.h): TLS 1.3 only, our own CA, and on the
 * server side a client certificate that is requested but only required by daemon roles. */
#include "carillon/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

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
        SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, NULL);
    }
    struct cr_tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        SSL_CTX_free(ssl);
        return -ENOMEM;
    }
    ctx->ssl = ssl;
    ctx->server = server;
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
