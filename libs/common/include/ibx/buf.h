/* buf: a growable byte buffer with a hard size limit (modelled on curl's dynbuf).
 *
 * A buf owns its memory. buf_init() sets the limit and allocates nothing; the first
 * append allocates. Every append either adds all of its bytes or none: on failure the
 * buffer is unchanged. The contents are always NUL-terminated (the NUL is not counted
 * in len) so text can be used as a C string. buf_release() frees and resets; it accepts
 * a buffer that was never appended to. */
#ifndef IBX_BUF_H
#define IBX_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;   /* NULL until the first append */
    size_t len;   /* bytes in use, excluding the trailing NUL */
    size_t cap;   /* bytes allocated */
    size_t limit; /* maximum len; appends beyond it fail with -EMSGSIZE */
};

#define BUF_WUR __attribute__((warn_unused_result))

void buf_init(struct buf *b, size_t limit);
void buf_release(struct buf *b);
/* Forget the contents but keep the allocation. */
void buf_reset(struct buf *b);

/* 0, -EMSGSIZE when the limit would be exceeded, -ENOMEM. */
int buf_append(struct buf *b, const void *data, size_t len) BUF_WUR;
int buf_append_str(struct buf *b, const char *s) BUF_WUR;
int buf_printf(struct buf *b, const char *fmt, ...) BUF_WUR __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) BUF_WUR;

/* Hand the contents to the caller (who frees them with free()) and reset the buffer.
 * Returns an empty string, never NULL, for an empty buffer; NULL only on -ENOMEM. */
char *buf_steal(struct buf *b);

/* The contents as a C string: never NULL ("" when empty). Borrowed. */
const char *buf_str(const struct buf *b);

#endif
