/* Failed-login limiter (see ratelimit.h): a fixed table with linear probing over a hash of the
 * key; when the probe window is full the least recently used slot is reused. */
#include "api/ratelimit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE 16

static uint32_t hash_key(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int ratelimit_init(struct ratelimit *rl, uint32_t max_failures, uint64_t window_ms,
                   uint64_t lockout_ms)
{
    rl->slots = calloc(RATELIMIT_SLOTS, sizeof *rl->slots);
    if (!rl->slots)
        return -ENOMEM;
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
    uint32_t h = hash_key(key);
    struct ratelimit_slot *victim = NULL;
    for (int i = 0; i < PROBE; i++) {
        struct ratelimit_slot *s = &rl->slots[(h + (uint32_t)i) % RATELIMIT_SLOTS];
        if (s->key[0] && strncmp(s->key, key, RATELIMIT_KEY_MAX - 1) == 0)
            return s;
        if (!victim || !s->key[0] || (victim->key[0] && s->last_ms < victim->last_ms))
            victim = s;
    }
    if (!create)
        return NULL;
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
