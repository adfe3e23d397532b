/* th_mldata: the learner tests' data sets (tests/fixtures/<name>.csv: a header line, numeric
 * features, the class index last as `target`), the fixed split they share and a standard
 * scaler, so that C tests and the scikit-learn figures they hard-code see the same rows.
 * Paths are relative to the repository root (where the test runner starts the binaries). */
#ifndef TH_MLDATA_H
#define TH_MLDATA_H

#include <stddef.h>

struct th_mldata {
    double *x; /* n * p, row-major, owned */
    double *y; /* n, owned */
    size_t n, p;
    size_t nclasses; /* 1 + the largest target */
};

/* Load tests/fixtures/<name>.csv. 0, -ENOENT, -EINVAL (malformed), -ENOMEM. */
int th_mldata_load(const char *name, struct th_mldata *out);
void th_mldata_free(struct th_mldata *d);

/* Row i goes to test when i % 4 == 0, else to train (in Python: test = X[::4],
 * train = np.delete(X, np.s_[::4], axis=0)). Copies; free both. 0 or -ENOMEM. */
int th_mldata_split(const struct th_mldata *d, struct th_mldata *train, struct th_mldata *test);

/* Standardise both with the train columns' mean and population standard deviation
 * (scikit-learn's StandardScaler; a constant column is only centred). */
void th_mldata_standardize(struct th_mldata *train, struct th_mldata *test);

/* Loads one encoding from data[0..len) and frees the model: 0 when the load succeeded. */
typedef int (*th_ml_loader)(const void *data, size_t len);

/* Damage a saved model every way we can think of (each byte flipped, every truncation; for
 * long encodings a spread of at most about 4000 positions) and count the damaged copies
 * that load accepted: 0 is the only right answer. */
size_t th_ml_tamper_accepted(const void *data, size_t len, th_ml_loader load);

/* Fraction of pred equal to truth. */
double th_accuracy(const double *truth, const double *pred, size_t n);

#endif
