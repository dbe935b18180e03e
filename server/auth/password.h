/* Password hashing with scrypt (OpenSSL 3 EVP_KDF), stored as
 * "$scrypt$ln=15,r=8,p=1$<salt base64>$<hash base64>". Hashing is slow on purpose: daemons call
 * it from the libuv thread pool (uv_queue_work), never on the loop thread. */
#ifndef CARILLON_PASSWORD_H
#define CARILLON_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define CR_PASSWORD_MIN      8 /* characters (bytes) */
#define CR_PASSWORD_MAX      256
#define CR_PASSWORD_HASH_MAX 160 /* room for the encoded hash, NUL included */

/* log_n: scrypt cost as a power of two (10..20). Returns 0, -EINVAL, or -EIO (OpenSSL). */
int cr_password_hash(const char *password, unsigned log_n, char out[CR_PASSWORD_HASH_MAX])
    __attribute__((warn_unused_result));
/* True when password matches the encoded hash (constant-time comparison). */
bool cr_password_verify(const char *password, const char *encoded);
/* Explains why a new password is not acceptable (NULL when it is). */
const char *cr_password_weakness(const char *password);

#endif
