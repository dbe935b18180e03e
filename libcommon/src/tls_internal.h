/* What conn.c needs to see of a TLS context (private to libcommon). */
#ifndef CARILLON_TLS_INTERNAL_H
#define CARILLON_TLS_INTERNAL_H

#include <openssl/ssl.h>
#include <stdbool.h>

struct cr_tls_ctx {
    SSL_CTX *ssl;
    bool server;
};

#endif
