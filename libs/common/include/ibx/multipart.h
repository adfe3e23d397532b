/* multipart: a streaming multipart/form-data parser (RFC 7578) for uploads of any size.
 *
 * Feed the body in chunks of any size with multipart_push(); the parser calls back at
 * the start of each part (with its name, filename and content type), with each piece of
 * the part's content as it arrives (never buffering a whole part), and at its end. Memory
 * stays bounded: only a part's header block (MULTIPART_HEADER_MAX) is ever held.
 *
 * Callbacks return 0 to go on or a negative errno to stop; push then returns that value
 * and the parser only reports it from then on.
 *
 * Errors: -EINVAL malformed body (message from multipart_error()), -E2BIG more than
 * MULTIPART_PARTS_MAX parts, -EMSGSIZE a header block over MULTIPART_HEADER_MAX, -ENOMEM,
 * or a callback's own error. */
#ifndef IBX_MULTIPART_H
#define IBX_MULTIPART_H

#include <stddef.h>

#define MULTIPART_WUR          __attribute__((warn_unused_result))
#define MULTIPART_BOUNDARY_MAX 70 /* RFC 2046 */
#define MULTIPART_HEADER_MAX   16384
#define MULTIPART_PARTS_MAX    256

struct multipart_part {
    char name[256];         /* the form field name (Content-Disposition name=) */
    char filename[256];     /* "" when the part is not a file */
    char content_type[128]; /* "" when absent */
    int is_file;            /* 1 when Content-Disposition had a filename parameter */
};

struct multipart_cbs {
    int (*part_begin)(void *ctx, const struct multipart_part *part);
    int (*part_data)(void *ctx, const char *data, size_t len);
    int (*part_end)(void *ctx);
};

struct multipart;

/* The boundary parameter of a multipart/form-data Content-Type, copied into out
 * (MULTIPART_BOUNDARY_MAX + 1 bytes). -EINVAL when ct is not multipart/form-data with a
 * valid boundary. */
int multipart_boundary(const char *ct, char out[MULTIPART_BOUNDARY_MAX + 1]) MULTIPART_WUR;

/* cbs and ctx are borrowed for the parser's life. */
int multipart_new(const char *boundary, const struct multipart_cbs *cbs, void *ctx,
                  struct multipart **out) MULTIPART_WUR;
int multipart_push(struct multipart *m, const char *data, size_t len) MULTIPART_WUR;
/* After the last chunk: 0 when the closing boundary was seen, else -EINVAL. */
int multipart_finish(struct multipart *m) MULTIPART_WUR;
/* A human message for the first error ("" when none). Borrowed. */
const char *multipart_error(const struct multipart *m);
void multipart_free(struct multipart *m);

#endif
