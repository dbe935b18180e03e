/* scrypt password hashes through OpenSSL 3's EVP_KDF (see password.h). */
#include "auth/password.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SALT_LEN 16
#define KEY_LEN  32

static int scrypt(const char *password, const unsigned char *salt, size_t salt_len, uint64_t n,
                  uint32_t r, uint32_t p, unsigned char *key, size_t key_len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    if (!kdf)
        return -EIO;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!ctx)
        return -EIO;
    /* maxmem must cover 128 * r * n bytes plus slack. */
    uint64_t maxmem = 128ull * r * n + (1u << 20);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password,
                                          strlen(password)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
        OSSL_PARAM_construct_end(),
    };
    int rc = EVP_KDF_derive(ctx, key, key_len, params) == 1 ? 0 : -EIO;
    EVP_KDF_CTX_free(ctx);
    return rc;
}

int cr_password_hash(const char *password, unsigned log_n, char out[CR_PASSWORD_HASH_MAX])
{
    if (!password || log_n < 10 || log_n > 20)
        return -EINVAL;
    unsigned char salt[SALT_LEN], key[KEY_LEN];
    if (RAND_bytes(salt, sizeof salt) != 1)
        return -EIO;
    int rc = scrypt(password, salt, sizeof salt, 1ull << log_n, 8, 1, key, sizeof key);
    if (rc)
        return rc;
    char salt64[32], key64[64];
    EVP_EncodeBlock((unsigned char *)salt64, salt, sizeof salt);
    EVP_EncodeBlock((unsigned char *)key64, key, sizeof key);
    snprintf(out, CR_PASSWORD_HASH_MAX, "$scrypt$ln=%u,r=8,p=1$%s$%s", log_n, salt64, key64);
    OPENSSL_cleanse(key, sizeof key);
    return 0;
}

/* Decodes standard base64 (with padding) into out; returns the byte count or -1. */
static int b64_decode(const char *in, size_t in_len, unsigned char *out, size_t out_cap)
{
    if (in_len == 0 || in_len % 4 || in_len / 4 * 3 > out_cap)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)in_len);
    if (n < 0)
        return -1;
    if (in[in_len - 1] == '=')
        n--;
    if (in[in_len - 2] == '=')
        n--;
    return n;
}

bool cr_password_verify(const char *password, const char *encoded)
{
    unsigned ln, r, p;
    int off = 0;
    if (!password || !encoded ||
        sscanf(encoded, "$scrypt$ln=%u,r=%u,p=%u$%n", &ln, &r, &p, &off) != 3 || off == 0)
        return false;
    if (ln < 10 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16)
        return false;
    const char *salt64 = encoded + off;
    const char *dollar = strchr(salt64, '$');
    if (!dollar)
        return false;
    const char *key64 = dollar + 1;
    unsigned char salt[64], want[64], got[64];
    int salt_len = b64_decode(salt64, (size_t)(dollar - salt64), salt, sizeof salt);
    int key_len = b64_decode(key64, strlen(key64), want, sizeof want);
    if (salt_len <= 0 || key_len <= 0)
        return false;
    if (scrypt(password, salt, (size_t)salt_len, 1ull << ln, r, p, got, (size_t)key_len))
        return false;
    bool ok = CRYPTO_memcmp(got, want, (size_t)key_len) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return ok;
}

const char *cr_password_weakness(const char *password)
{
    size_t n = password ? strlen(password) : 0;
    if (n < CR_PASSWORD_MIN)
        return "password must have at least 8 characters";
    if (n > CR_PASSWORD_MAX)
        return "password must have at most 256 characters";
    return NULL;
}
