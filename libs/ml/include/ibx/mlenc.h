/* mlenc: the little-endian, checksummed binary envelope the libs/ml learners save into.
 *
 * One encoding is: magic (8 bytes) | version (u32) | payload length (u64) | payload |
 * FNV-1a 64 of everything before it (u64). Encodings can follow each other in one buffer
 * (a model file holds the preprocessing and the learner); mlenc_open reports how many bytes
 * one encoding used.
 *
 * Writing and reading use a sticky error: the put/get calls do nothing once an error is
 * recorded, so a saver or loader reads as a straight list of fields and checks once at the
 * end (mlenc_end / mlenc_close). A reader never reads outside the bytes it was given, and
 * mlenc_get_count refuses counts that could not fit in what is left, so a tampered length
 * never causes a huge allocation. */
#ifndef IBX_MLENC_H
#define IBX_MLENC_H

#include <ibx/buf.h>
#include <ibx/ml.h>

#include <stddef.h>
#include <stdint.h>

#define MLENC_MAGIC_LEN 8

struct mlenc_writer {
    struct buf *b; /* borrowed */
    size_t start;  /* b->len when the encoding began */
    int err;       /* 0 or the first -errno */
};

struct mlenc_reader {
    const unsigned char *p; /* borrowed: the payload */
    size_t len;             /* payload bytes */
    size_t pos;             /* bytes read so far */
    int err;                /* 0 or -EINVAL once anything was wrong */
};

/* Start an encoding at the end of b (magic is exactly MLENC_MAGIC_LEN bytes, no NUL). */
void mlenc_begin(struct mlenc_writer *w, struct buf *b, const char *magic, uint32_t version);
void mlenc_put_u32(struct mlenc_writer *w, uint32_t v);
void mlenc_put_u64(struct mlenc_writer *w, uint64_t v);
void mlenc_put_f64(struct mlenc_writer *w, double v);
void mlenc_put_f64s(struct mlenc_writer *w, const double *v, size_t n);
/* Finish: fill in the length and append the checksum. 0, or -EMSGSIZE / -ENOMEM from the
 * buffer, in which case b is back to the length it had at mlenc_begin. */
int mlenc_end(struct mlenc_writer *w) ML_WUR;

/* Check the envelope at data[0..len): magic, a length that fits, the checksum. On success
 * *version is the stored version, *used (may be NULL) the bytes this encoding occupies
 * (header, payload and checksum) and r reads the payload. -EINVAL otherwise. */
int mlenc_open(struct mlenc_reader *r, const void *data, size_t len, const char *magic,
               uint32_t *version, size_t *used) ML_WUR;
uint32_t mlenc_get_u32(struct mlenc_reader *r);
uint64_t mlenc_get_u64(struct mlenc_reader *r);
double mlenc_get_f64(struct mlenc_reader *r);
/* A finite double (NaN or infinity is an error). */
double mlenc_get_finite(struct mlenc_reader *r);
void mlenc_get_f64s(struct mlenc_reader *r, double *out, size_t n);
/* A u64 count in [min, max] whose count * elem_size bytes still fit in the payload; 0 and
 * an error otherwise. */
size_t mlenc_get_count(struct mlenc_reader *r, size_t min, size_t max, size_t elem_size);
/* Mark the reader as failed (a loader found a value out of range). */
void mlenc_fail(struct mlenc_reader *r);
/* 0 when everything read was valid and the payload was consumed exactly; -EINVAL. */
int mlenc_close(const struct mlenc_reader *r) ML_WUR;

#endif
