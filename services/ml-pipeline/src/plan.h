/* plan: pipeline plans, the pure domain: a JSON DAG of steps parsed and validated, its
 * topological levels, the cache key of a step, and the ranking a compare step makes.
 * Knows nothing of HTTP, SQL or Kafka.
 *
 * A plan body is {name?, dataset_id, target_column, task_type?, steps:[{id, type,
 * depends_on?, params?, retries?}]}. Step types and what each must depend on:
 *   load        nothing          params {}
 *   preprocess  exactly 1 load   params {preprocessing?, test_size?, random_state?}
 *   train       exactly 1 preprocess   params {algorithm, hyperparameters?}
 *   evaluate    exactly 1 train  params {}
 *   compare     1+ evaluates     params {metric}
 * Problems are reported as {"fields":[{"field","step","problem"},...]} (step is absent
 * for plan-level fields), in the error body's details; the first one names the message. */
#ifndef IBX_PLAN_H
#define IBX_PLAN_H

#include <ibx/ml.h>

#include <jansson.h>
#include <stddef.h>

#define PLAN_WUR          __attribute__((warn_unused_result))
#define PLAN_MAX_STEPS    32
#define PLAN_ID_MAX       64 /* bytes of a step id: [A-Za-z0-9_.-] */
#define PLAN_MAX_RETRIES  5
#define PLAN_NAME_MAX     255
#define PLAN_COLUMN_MAX   255
#define PLAN_MAX_PROBLEMS 16

enum plan_step_type {
    PLAN_LOAD = 0,
    PLAN_PREPROCESS = 1,
    PLAN_TRAIN = 2,
    PLAN_EVALUATE = 3,
    PLAN_COMPARE = 4,
};
#define PLAN_NTYPES 5

struct plan_step {
    char id[PLAN_ID_MAX + 1];
    enum plan_step_type type;
    size_t deps[PLAN_MAX_STEPS]; /* indices into plan.steps, in depends_on order */
    size_t ndeps;
    json_t *params; /* owned: an object ({} when absent) */
    int retries;    /* further attempts after a failure, 0..PLAN_MAX_RETRIES */
    int level;      /* 0 without dependencies, else 1 + the deepest dependency's level */
};

struct plan {
    char name[PLAN_NAME_MAX + 1]; /* "" when absent */
    char dataset_id[37];          /* lowercase UUID */
    char target_column[PLAN_COLUMN_MAX + 1];
    enum ml_task task; /* 0 when the body leaves it to detection */
    struct plan_step steps[PLAN_MAX_STEPS];
    size_t nsteps;
    size_t order[PLAN_MAX_STEPS]; /* a topological order: by level, then by position */
    int nlevels;
};

/* Parse and check a plan body (borrowed): fields, step ids (unique), types, dependencies
 * (known, not itself, no cycle, of the right types), retries, the parameters each type
 * accepts, preprocessing (prep_config_parse), algorithms and hyperparameters
 * (learner_validate for the plan's task; without task_type, for any task the learner
 * does: the task is detected when the plan runs) and compare metrics.
 * 0 and *out (free with plan_free), -EINVAL and *details (caller decrefs), -ENOMEM. */
int plan_parse(const json_t *body, struct plan **out, json_t **details) PLAN_WUR;
void plan_free(struct plan *p);

/* "step 'x': problem" (or "field: problem") for the first problem of details. */
void plan_problem_message(const json_t *details, char *out, size_t n);

/* Name of a type ("train"), and back: 0 and *out, or -EINVAL. */
const char *plan_type_name(enum plan_step_type t);
int plan_type_parse(const char *s, enum plan_step_type *out) PLAN_WUR;

/* The canonical text of a JSON value (caller frees): object keys sorted, no white
 * space, reals with an integral value below 2^53 written as integers (so 5 and 5.0 are
 * the same), -0 as 0. NULL only when out of memory. */
char *plan_canonical_json(const json_t *v);

/* The cache key of a step: SHA-256 (64 hex digits) of the canonical JSON
 * {"v":1,"type":<type>,"config":<config>,"inputs":[<input hashes in order>]}. config is
 * borrowed (any JSON); inputs are n 64-digit hashes. 0, -EINVAL, -ENOMEM. */
int plan_step_key(enum plan_step_type type, const json_t *config, const char *const *inputs,
                  size_t n, char out[65]) PLAN_WUR;

/* The JSON object of a plan as stored: the body in normalised form (every step with
 * depends_on, params and retries; task_type null when absent). Caller decrefs. */
json_t *plan_to_json(const struct plan *p);

/* The metrics a compare step can rank on (mlrun_compare's), for a task (0: either): 1
 * when known, and *higher is 1 when a larger value is better. */
int plan_metric_known(const char *metric, enum ml_task task, int *higher);

#endif
