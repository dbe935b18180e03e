/* Failed-login limiter: counts failures per key (a login, a peer address) in a time window and
 * locks the key out for a while once the count reaches its maximum. Fixed memory: the table has
 * RATELIMIT_SLOTS entries and evicts the stalest when full, never a key locked out. Slots are
 * found by SipHash under a key drawn at start, so nobody can aim keys at one probe window. */
#ifndef CARILLON_RATELIMIT_H
#define CARILLON_RATELIMIT_H

#include <stdint.h>

#define RATELIMIT_SLOTS   4096
#define RATELIMIT_KEY_MAX 128 /* an address and a login */

struct ratelimit_slot {
    char key[RATELIMIT_KEY_MAX];
    uint32_t failures;
    uint64_t window_start_ms;
    uint64_t locked_until_ms;
    uint64_t last_ms;
};

struct ratelimit {
    uint32_t max_failures;
    uint64_t window_ms;
    uint64_t lockout_ms;
    struct ratelimit_slot *slots; /* RATELIMIT_SLOTS, owned */
    unsigned char secret[16];     /* SipHash key, random per process */
};

int ratelimit_init(struct ratelimit *rl, uint32_t max_failures, uint64_t window_ms,
                   uint64_t lockout_ms) __attribute__((warn_unused_result));
void ratelimit_free(struct ratelimit *rl);
/* 0 when key may try now, else the milliseconds left of its lockout. */
uint64_t ratelimit_check(struct ratelimit *rl, const char *key, uint64_t now_ms);
/* Counts one failure; returns the lockout length when this failure starts one, else 0. */
uint64_t ratelimit_fail(struct ratelimit *rl, const char *key, uint64_t now_ms);
/* Forgets key (after a successful login). */
void ratelimit_reset(struct ratelimit *rl, const char *key);

#endif
