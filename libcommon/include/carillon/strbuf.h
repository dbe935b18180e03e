/* A growing string with a maximum (curl's dynbuf): for SQL and text built piece by piece. Going
 * over the maximum is an error the caller reports, never a silent truncation nor an overflow. */
#ifndef CARILLON_STRBUF_H
#define CARILLON_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

/* Owned by whoever embeds it; cr_strbuf_free() releases the text. The error is sticky: after a
 * failed append every later one fails too, so a builder can append many pieces and check once. */
struct cr_strbuf {
    char *s;
    size_t len, cap;
    size_t max; /* the text's maximum length in bytes, without the final NUL */
    int err;    /* 0, -E2BIG (over max) or -ENOMEM */
};

void cr_strbuf_init(struct cr_strbuf *b, size_t max);
void cr_strbuf_free(struct cr_strbuf *b);
/* Each returns 0 or the (sticky) error. */
int cr_strbuf_add(struct cr_strbuf *b, const char *s, size_t n);
int cr_strbuf_str(struct cr_strbuf *b, const char *s);
int cr_strbuf_printf(struct cr_strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int cr_strbuf_vprintf(struct cr_strbuf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* The text so far ("" when empty); valid until the next append or free. */
const char *cr_strbuf_text(const struct cr_strbuf *b);
/* Hands the text to the caller (free() it) and empties b; NULL on error. */
char *cr_strbuf_take(struct cr_strbuf *b);

#endif
