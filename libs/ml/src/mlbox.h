/* mlbox: the sectioned, SHA-256-checked container of the model file and the prepared
 * step output (internal).
 *
 * Layout (little-endian): magic (8) | version u32 | flags u32 (0) | payload length u64 |
 * SHA-256 of the payload (32) | payload, where the payload is sections, each a u64 length
 * and that many bytes. */
#ifndef IBX_MLBOX_H
#define IBX_MLBOX_H

#include <ibx/buf.h>

#include <stddef.h>
#include <stdint.h>

#define MLBOX_HEADER_LEN 56

struct mlbox_section {
    const unsigned char *p; /* borrowed from the container's bytes */
    size_t len;
};

/* Append the header (patched by mlbox_end); *start records where it began. */
int mlbox_begin(struct buf *out, const char *magic, uint32_t version, size_t *start);
/* Append one section whose bytes fn(obj, out) appends. */
int mlbox_section(struct buf *out, int (*fn)(const void *obj, struct buf *b), const void *obj);
/* Fill in the length and checksum. */
void mlbox_end(struct buf *out, size_t start);
/* Undo a failed build: back to start. */
void mlbox_abort(struct buf *out, size_t start);

/* Check data[0..len) (borrowed) as a container of exactly nsec sections with this magic
 * and version, and point sec[] at them. -EINVAL with a message naming the problem
 * (what: "model file", "prepared data"). */
int mlbox_open(const void *data, size_t len, const char *magic, uint32_t version,
               struct mlbox_section *sec, size_t nsec, const char *what, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
