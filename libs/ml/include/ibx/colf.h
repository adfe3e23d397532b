/* colf: IBXC, our typed columnar dataset format (writer and validating reader).
 *
 * Every uploaded dataset is stored twice: the original bytes and an IBXC copy that
 * training, explanations, stats, preview and quality read. The writer takes rows of text
 * cells and decides per row group and column how to store them; the reader gives a column
 * back as float64 or as strings and checks everything it reads.
 *
 * ---- the format, version 1 (all integers little-endian) ------------------------------
 *
 *   header   "IBXC" u16 version (1) u16 flags (0)                          8 bytes
 *   chunks   one per (row group, column) that holds at least one value, in group order
 *   footer   u32 ncols, u32 ngroups, u64 nrows
 *            ncols x { u16 name_len, name bytes (UTF-8 as given), u8 type }
 *            ngroups x { u32 rows, ncols x { u64 offset, u32 length, u32 crc32c } }
 *   trailer  u32 footer_len, u32 crc32c(footer), "IBXC"                   12 bytes
 *
 * type: 1 numerical_integer, 2 numerical_float, 3 boolean, 4 temporal, 5 categorical,
 * 6 text (the interpreted type given to colf_writer_finish). A chunk of length 0 (offset
 * 0, crc 0) is a column with no value in that group: every row missing (also a column
 * added after the group was written). Group rows sum to nrows; a file with no rows has no
 * groups. Checksums are CRC32C (Castagnoli, reflected 0x82F63B78, init and xorout ~0).
 *
 * A chunk of a group of n rows:
 *   u8 encoding, u8 param, u16 0, u32 n, validity bitmap of ceil(n/8) bytes (bit i of
 *   byte i/8, least significant first, is 1 when row i has a value; padding bits 0), then
 *   encoding 1 float64:  n x f64 (missing rows hold 0). param says how each value is
 *                        written back as text: 255 the shortest "%.{15,16,17}g" that reads
 *                        back to the same double, 0..17 "%.{param}f". The writer picks
 *                        float64 only when every value's text equals that rendering
 *                        ("1.50" with "2.25" is param 2; "1.5" with "2.25" is strings),
 *                        so a float64 chunk reproduces the uploaded text exactly.
 *   encoding 2 strings:  u32 offsets[n + 1] (offsets[0] 0, non-decreasing; a missing row
 *                        has an empty range), then offsets[n] bytes.
 *   encoding 3 dict:     u32 ndict, u32 offsets[ndict + 1], the dictionary bytes, then n
 *                        codes of param bytes each (1, 2 or 4; < ndict; 0 for a missing
 *                        row). Used instead of 2 when it is smaller.
 * Values are bytes (NULs included); readers hand out NUL-terminated copies.
 *
 * ---- writer ---------------------------------------------------------------------------
 * Rows are buffered per column and a row group is encoded and handed to the sink when it
 * reaches COLF_GROUP_ROWS rows or about COLF_GROUP_BYTES of buffered cells, so memory
 * stays bounded whatever the file size. The sink is called with the file's bytes in order
 * (data borrowed for the call); a negative return stops the writer and is returned by the
 * call that fed it (and by every later call). Any failure is sticky: finish and free the
 * writer (free accepts NULL). Column names need not be unique (colf_find returns the
 * first). Errors: -EINVAL (bad argument: NULL, ncells > ncols, a name longer than
 * COLF_NAME_MAX, an unknown type name, a call after finish), -EMSGSIZE (a chunk of 4 GiB
 * or more, or more than COLF_MAX_COLS columns), -ENOMEM, or the sink's error.
 *
 * ---- reader ---------------------------------------------------------------------------
 * Opening reads and validates the trailer and footer (checksum, every count, name, type,
 * offset and length against the file size); each read validates the chunks it touches
 * (checksum, header, offsets, codes). A corrupted or truncated file is -EIO, never a
 * crash; a read callback's own error is returned as is. A reader is used by one thread at
 * a time. */
#ifndef IBX_COLF_H
#define IBX_COLF_H

#include <stddef.h>
#include <stdint.h>

#define COLF_WUR         __attribute__((warn_unused_result))
#define COLF_VERSION     1
#define COLF_GROUP_ROWS  65536
#define COLF_GROUP_BYTES (64u << 20)
#define COLF_NAME_MAX    65535
#define COLF_MAX_COLS    100000

/* ---- writer (this part of the API is fixed: the ingest module codes against it) ---- */

typedef int (*colf_sink_fn)(void *ctx, const void *data, size_t len); /* <0 stops */

struct colf_cell {
    const char *s; /* NULL: missing value; otherwise len bytes (need not be NUL-terminated) */
    size_t len;
};

struct colf_writer;

/* A new writer that sends the file's bytes to sink(ctx, ...). *out is owned by the caller
 * (colf_writer_free). The header is sent by the first group or by finish. */
int colf_writer_new(colf_sink_fn sink, void *ctx, struct colf_writer **out) COLF_WUR;
/* Append a column named name (copied; any bytes up to COLF_NAME_MAX, NUL-terminated).
 * May be called after rows were written (JSON inputs discover keys late): earlier rows
 * are missing in it. */
int colf_writer_add_column(struct colf_writer *w, const char *name) COLF_WUR;
/* Append one row: cells[i] is column i (borrowed for the call). ncells <= ncols; the
 * remaining columns are missing in this row. */
int colf_writer_row(struct colf_writer *w, const struct colf_cell *cells, size_t ncells) COLF_WUR;
/* Write the last group, the footer and the trailer. types[i] is the interpreted type of
 * column i (borrowed): numerical_integer, numerical_float, boolean, temporal, categorical
 * or text; types NULL stores every column as text. The writer still has to be freed. */
int colf_writer_finish(struct colf_writer *w, const char *const *types) COLF_WUR;
void colf_writer_free(struct colf_writer *w);

/* Rows per group for this writer (1..COLF_GROUP_ROWS), before the first row; for tests
 * and for callers that want smaller groups. */
int colf_writer_set_group_rows(struct colf_writer *w, size_t rows) COLF_WUR;

/* ---- reader ---- */

/* Random access in the shape of blob_read: copy up to len bytes at off into dst and set
 * *nread (short only at the end). 0 or a negative errno. */
typedef int (*colf_read_fn)(void *ctx, uint64_t off, void *dst, size_t len, size_t *nread);

struct colf_reader;

/* Open a file of size bytes read through read(ctx, ...); ctx must outlive the reader.
 * *out is owned by the caller (colf_reader_free). -EIO when the file is not a valid IBXC
 * file, -ENOMEM, or the read callback's error. */
int colf_reader_open(colf_read_fn read, void *ctx, uint64_t size,
                     struct colf_reader **out) COLF_WUR;
/* Open a file held in memory (borrowed: data must outlive the reader). */
int colf_reader_open_mem(const void *data, size_t len, struct colf_reader **out) COLF_WUR;
void colf_reader_free(struct colf_reader *r);

size_t colf_ncols(const struct colf_reader *r);
uint64_t colf_nrows(const struct colf_reader *r);
/* Column i's name (NUL-terminated, owned by the reader) or NULL when i >= ncols. */
const char *colf_name(const struct colf_reader *r, size_t i);
/* Column i's interpreted type ("numerical_integer" ... "text", static) or NULL. */
const char *colf_type(const struct colf_reader *r, size_t i);
/* The column index of name, or -ENOENT. */
int colf_find(const struct colf_reader *r, const char *name) COLF_WUR;

/* Read rows [first, first + n) of column col as float64 into dst (caller's, n doubles).
 * Missing values are NaN. Strings (string chunks) are parsed by colf_parse_number; those
 * that do not parse become NaN and are counted in *unparsed (may be NULL). -EINVAL when the range
 * or column is out of bounds, -EIO on a corrupted chunk. Only the groups overlapping the range are
 * read, but each of them whole (and checksummed): read nearby rows in one call rather
 * than one call per row. */
int colf_read_f64(struct colf_reader *r, size_t col, uint64_t first, size_t n, double *dst,
                  size_t *unparsed) COLF_WUR;

/* Strings of a range: s[i] is row first+i as a NUL-terminated copy (len[i] bytes, which may
 * include NULs) or NULL when missing. Float64 chunks are rendered back as text as the
 * writer recorded (the uploaded text). */
struct colf_strs {
    size_t n;
    const char **s;
    size_t *len;
    char *bytes_; /* storage behind s (private) */
};

/* Fill *out (owned by the caller: colf_strs_release) with rows [first, first + n) of col.
 * Same errors as colf_read_f64. */
int colf_read_strs(struct colf_reader *r, size_t col, uint64_t first, size_t n,
                   struct colf_strs *out) COLF_WUR;
/* Frees what colf_read_strs allocated and zeroes *s; accepts NULL and a zeroed struct. */
void colf_strs_release(struct colf_strs *s);

/* The strict number parser colf_read_f64 uses: the whole of s[0..len), optionally
 * surrounded by blanks, is a finite decimal number ([+-] digits [. digits] [e [+-] digits],
 * at most 255 bytes). 0 and *out, or -EINVAL (*out untouched). */
int colf_parse_number(const char *s, size_t len, double *out) COLF_WUR;

/* CRC32C of len bytes continuing from crc (start with 0). Exposed for tests and tools. */
uint32_t colf_crc32c(uint32_t crc, const void *data, size_t len);

#endif
