/* Failed-login limiter (see ratelimit.h): a fixed table with linear probing over a hash of the
 * key; when the probe window is full the least recently used slot is reused. */
#include "api/ratelimit.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE 16

/* SipHash-2-4 keyed with the table's secret (OpenSSL's EVP_MAC); FNV only if that fails. */
static uint32_t hash_key(const struct ratelimit *rl, const char *s)
{
    static _Thread_local EVP_MAC *mac;
    if (!mac)
        mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    unsigned char out[8];
    size_t outl = 0;
    size_t size = sizeof out;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t("size", &size), OSSL_PARAM_END};
    if (ctx && EVP_MAC_init(ctx, rl->secret, sizeof rl->secret, params) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)s, strlen(s)) == 1 &&
        EVP_MAC_final(ctx, out, &outl, sizeof out) == 1 && outl >= 4) {
        EVP_MAC_CTX_free(ctx);
        return (uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 |
               (uint32_t)out[3] << 24;
    }
    EVP_MAC_CTX_free(ctx);
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h ^ ((uint32_t)rl->secret[0] << 24 | rl->secret[1]);
}

int ratelimit_init(struct ratelimit *rl, uint32_t max_failures, uint64_t window_ms,
                   uint64_t lockout_ms)
{
    rl->slots = calloc(RATELIMIT_SLOTS, sizeof *rl->slots);
    if (!rl->slots)
        return -ENOMEM;
    if (RAND_bytes(rl->secret, sizeof rl->secret) != 1) {
        free(rl->slots);
        rl->slots = NULL;
        return -EIO;
    }
    rl->max_failures = max_failures ? max_failures : 1;
    rl->window_ms = window_ms;
    rl->lockout_ms = lockout_ms;
    return 0;
}

void ratelimit_free(struct ratelimit *rl)
{
    free(rl->slots);
    rl->slots = NULL;
}

static struct ratelimit_slot *find(struct ratelimit *rl, const char *key, bool create,
                                   uint64_t now_ms)
{
    uint32_t h = hash_key(rl, key);
    struct ratelimit_slot *victim = NULL;
    for (int i = 0; i < PROBE; i++) {
        struct ratelimit_slot *s = &rl->slots[(h + (uint32_t)i) % RATELIMIT_SLOTS];
        if (s->key[0] && strncmp(s->key, key, RATELIMIT_KEY_MAX - 1) == 0)
            return s;
        /* A key locked out stays until its lockout ends: a flood of new keys cannot free it. */
        if (s->key[0] && s->locked_until_ms > now_ms)
            continue;
        if (!victim || !s->key[0] || (victim->key[0] && s->last_ms < victim->last_ms))
            victim = s;
    }
    if (!create || !victim)
        return NULL; /* every slot of the window locked: this failure is not counted */
    memset(victim, 0, sizeof *victim);
    snprintf(victim->key, sizeof victim->key, "%s", key);
    victim->window_start_ms = now_ms;
    return victim;
}

uint64_t ratelimit_check(struct ratelimit *rl, const char *key, uint64_t now_ms)
{
    struct ratelimit_slot *s = find(rl, key, false, now_ms);
    if (!s || s->locked_until_ms <= now_ms)
        return 0;
    return s->locked_until_ms - now_ms;
}

uint64_t ratelimit_fail(struct ratelimit *rl, const char *key, uint64_t now_ms)
{
    struct ratelimit_slot *s = find(rl, key, true, now_ms);
    if (!s)
        return 0;
    s->last_ms = now_ms;
    if (now_ms - s->window_start_ms > rl->window_ms) {
        s->window_start_ms = now_ms;
        s->failures = 0;
    }
    s->failures++;
    if (s->failures >= rl->max_failures) {
        s->failures = 0;
        s->window_start_ms = now_ms;
        s->locked_until_ms = now_ms + rl->lockout_ms;
        return rl->lockout_ms;
    }
    return 0;
}

void ratelimit_reset(struct ratelimit *rl, const char *key)
{
    struct ratelimit_slot *s = find(rl, key, false, 0);
    if (s)
        memset(s, 0, sizeof *s);
}
