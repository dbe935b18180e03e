/* What conn.c needs to see of a TLS context (private to libcommon). */
#ifndef CARILLON_TLS_INTERNAL_H
#define CARILLON_TLS_INTERNAL_H

#include <openssl/ssl.h>
#include <stdbool.h>

#include "carillon/tls.h"

struct cr_tls_ctx {
    SSL_CTX *ssl;
    bool server;
    char peer_role[CR_TLS_MAX_NAME]; /* client side: the role the server must have */
};

#endif
