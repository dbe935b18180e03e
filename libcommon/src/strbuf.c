/* The bounded string builder of strbuf.h: doubling growth up to the maximum, sticky errors. */
#include "carillon/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cr_strbuf_init(struct cr_strbuf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void cr_strbuf_free(struct cr_strbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

static int grow(struct cr_strbuf *b, size_t need)
{
    if (b->err)
        return b->err;
    if (need > b->max)
        return b->err = -E2BIG;
    if (need + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need + 1)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *s = realloc(b->s, cap);
    if (!s)
        return b->err = -ENOMEM;
    b->s = s;
    b->cap = cap;
    return 0;
}

int cr_strbuf_add(struct cr_strbuf *b, const char *s, size_t n)
{
    if (n > b->max - b->len && !b->err)
        b->err = -E2BIG;
    int rc = grow(b, b->len + n);
    if (rc)
        return rc;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

int cr_strbuf_str(struct cr_strbuf *b, const char *s)
{
    return cr_strbuf_add(b, s, strlen(s));
}

int cr_strbuf_vprintf(struct cr_strbuf *b, const char *fmt, va_list ap)
{
    if (b->err)
        return b->err;
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return b->err = -EINVAL;
    if ((size_t)n > b->max - b->len)
        return b->err = -E2BIG;
    int rc = grow(b, b->len + (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int cr_strbuf_printf(struct cr_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cr_strbuf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

const char *cr_strbuf_text(const struct cr_strbuf *b)
{
    return b->s ? b->s : "";
}

char *cr_strbuf_take(struct cr_strbuf *b)
{
    if (b->err) {
        cr_strbuf_free(b);
        return NULL;
    }
    char *s = b->s ? b->s : strdup("");
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}
