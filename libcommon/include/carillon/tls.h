/* TLS contexts (OpenSSL 3, TLS 1.3 only) for both sides of every Carillon connection, and
 * the peer identity read from a verified certificate. The byte pumping lives in conn.c. */
#ifndef CARILLON_TLS_H
#define CARILLON_TLS_H

#include <stddef.h>

struct cr_tls_ctx; /* wraps an SSL_CTX; owned by the creator, freed by cr_tls_ctx_free() */

struct cr_tls_config {
    const char *ca_file;   /* PEM CA bundle used to verify the peer; required for clients */
    const char *cert_file; /* PEM certificate chain; required for servers, optional for clients */
    const char *key_file;  /* PEM private key matching cert_file */
    /* PEM CRL(s) issued by the CA (deploy/pki.sh revoke/crl); NULL or "" = none. When set, a
     * peer certificate listed in it fails the handshake, and a CRL past its next update refuses
     * to load (an expired CRL would refuse every peer). Read once, when the context is made. */
    const char *crl_file;
    /* Client side: the role (subject OU) the server's certificate must name; NULL means
     * CR_TLS_ROLE_SERVER. A certificate for another role fails the handshake, so a dialer's or
     * an agentd's key cannot stand in for the server. Ignored on the server side, where the
     * protocol layer checks the role a daemon claims in its Hello. */
    const char *peer_role;
};

/* Server side: presents cert_file; requests a client certificate and verifies it against
 * ca_file (and crl_file) when one is sent (people log in without one, daemons must send one).
 * A certificate that fails verification, or whose extended key usage is not clientAuth, fails
 * the handshake. */
int cr_tls_ctx_new_server(const struct cr_tls_config *cfg, struct cr_tls_ctx **out, char *err,
                          size_t errlen) __attribute__((warn_unused_result));
/* Client side: verifies the server against ca_file (and crl_file), the host name (or IP) given
 * at connect time, its extended key usage (serverAuth) and its role (peer_role); sends
 * cert_file when set (mutual TLS for daemons). */
int cr_tls_ctx_new_client(const struct cr_tls_config *cfg, struct cr_tls_ctx **out, char *err,
                          size_t errlen) __attribute__((warn_unused_result));
void cr_tls_ctx_free(struct cr_tls_ctx *ctx);

/* Certificates name a daemon's role in the subject's OU (O=Carillon, OU=dialer, CN=node):
 * the roles are "server", "dialer", "agentd". */
#define CR_TLS_MAX_NAME    128
#define CR_TLS_ROLE_SERVER "server"
#define CR_TLS_ROLE_DIALER "dialer"
#define CR_TLS_ROLE_AGENTD "agentd"

#endif
