/* plan_run: the executor of a pipeline plan on a worker: claims the plan, runs ready steps
 * on a bounded set of threads (independent steps in parallel), looks each step up in the
 * cache by its key before computing it, retries failures, skips what depends on a failed
 * step, watches for cancellation, and records every state in the database. */
#include "plans.h"

#include <ibx/clock.h>
#include <ibx/learner.h>
#include <ibx/log.h>
#include <ibx/mlrun.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PRUN_WATCH_MS     500
#define PRUN_ARTIFACT_MAX ((size_t)1 << 31)
#define PRUN_ERR_MAX      512

enum prun_state { ST_PENDING, ST_RUNNING, ST_DONE, ST_FAILED, ST_SKIPPED, ST_CANCELLED };

/* One claimed plan being run. Members under mu unless noted. */
struct prun {
    struct svc *s;
    struct plan *plan;   /* read-only while running */
    struct plan_row row; /* read-only while running */
    const char *worker;  /* borrowed */
    char request_id[72]; /* for the step threads' logs */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    enum prun_state state[PLAN_MAX_STEPS];
    char out[PLAN_MAX_STEPS][BLOB_ID_LEN + 1]; /* outputs of completed steps */
    json_t *result[PLAN_MAX_STEPS];            /* summaries of completed steps */
    int running;
    int done;                      /* the steps are over: the watcher stops */
    volatile int cancel;           /* read without mu by the learners */
    int lost;                      /* the plan is no longer this worker's (cancelled, deleted) */
    int stopping;                  /* the worker stops: give the plan back */
    char error[PRUN_ERR_MAX];      /* the first step failure */
    char version[BLOB_ID_LEN + 1]; /* set by a load step */
    enum ml_task task;             /* set by a load step */
    pthread_mutex_t frame_mu;      /* guards frame (loaded once, then read-only) */
    struct frame *frame;
    int threads_per_fit;
};

/* What one attempt of a step produced. */
struct step_out {
    char key[BLOB_ID_LEN + 1];
    char out[BLOB_ID_LEN + 1];
    int hit;
    json_t *result; /* owned */
    char err[PRUN_ERR_MAX];
};

/* ------------------------------------------------------------------------ publishing */

int plan_publish(struct svc *s, const char *plan_id, const char *user_id)
{
    char at[40];
    clock_iso8601(clock_wall_ms(), at, sizeof(at));
    json_t *v = json_pack("{s:s, s:s, s:s, s:s}", "type", PLAN_REQUESTED_EVENT, "plan_id", plan_id,
                          "user_id", user_id, "at", at);
    if (!v)
        return -ENOMEM;
    int rc = bus_publish(s->bus, BUS_TOPIC_PIPELINE_REQUESTS, plan_id, v);
    json_decref(v);
    if (rc)
        log_warn("publishing plan %s failed (%s)", plan_id, strerror(-rc));
    else
        store_plan_published(s, plan_id);
    return rc;
}

const char *plan_media_type(enum plan_step_type t)
{
    return t == PLAN_TRAIN        ? PL_MODEL_MEDIA
           : t == PLAN_PREPROCESS ? PLAN_PREPARED_MEDIA
                                  : PLAN_JSON_MEDIA;
}

/* ------------------------------------------------------------------------ shared data */

static const char *task_name(enum ml_task t)
{
    return t == ML_REGRESSION ? "regression" : t == ML_CLASSIFICATION ? "classification" : NULL;
}

/* A fresh internal token for the plan's owner (tokens live a minute). */
static int prun_token(struct prun *r, char **tok, struct step_out *o)
{
    int rc = datasrc_token(r->s, r->row.user_id, r->row.owner_role, tok);
    if (rc)
        snprintf(o->err, sizeof(o->err), "cannot issue a token for the selection service (%s)",
                 strerror(-rc));
    return rc;
}

/* The dataset's frame, fetched once per run (by version) and then shared read-only. */
static int prun_frame(struct prun *r, const struct frame **f, struct step_out *o)
{
    int rc = 0;
    pthread_mutex_lock(&r->frame_mu);
    if (!r->frame) {
        char *tok = NULL;
        rc = prun_token(r, &tok, o);
        if (rc == 0)
            rc = datasrc_frame(r->s, tok, r->version, &r->frame, o->err, sizeof(o->err));
        free(tok);
    }
    *f = r->frame;
    pthread_mutex_unlock(&r->frame_mu);
    return rc;
}

/* Store data as an artifact and write its id. */
static int put_bytes(struct prun *r, const void *data, size_t len, const char *media,
                     struct step_out *o)
{
    int rc = artifact_put(r->s, data, len, media, o->out);
    if (rc)
        snprintf(o->err, sizeof(o->err), "cannot store the step's output (%s)", strerror(-rc));
    return rc;
}

/* Store a JSON value as its canonical text. */
static int put_json(struct prun *r, const json_t *v, struct step_out *o)
{
    char *text = plan_canonical_json(v);
    if (!text)
        return -ENOMEM;
    int rc = put_bytes(r, text, strlen(text), PLAN_JSON_MEDIA, o);
    free(text);
    return rc;
}

/* The artifact id into a new buffer (caller releases). */
static int get_bytes(struct prun *r, const char *id, struct buf *b, struct step_out *o)
{
    buf_init(b, PRUN_ARTIFACT_MAX);
    int rc = artifact_get(r->s, id, b);
    if (rc)
        snprintf(o->err, sizeof(o->err), "cannot read the input %.12s (%s)", id, strerror(-rc));
    return rc;
}

/* ------------------------------------------------------------------------ the step types */

/* Where step i's inputs come from: the outputs of its dependencies, plus (evaluate) the
 * prepared data its train step was fitted on. */
static size_t step_inputs(struct prun *r, size_t i, const char **in)
{
    const struct plan_step *st = &r->plan->steps[i];
    size_t n = 0;
    for (size_t j = 0; j < st->ndeps; j++)
        in[n++] = r->out[st->deps[j]];
    if (st->type == PLAN_EVALUATE)
        in[n++] = r->out[r->plan->steps[st->deps[0]].deps[0]];
    return n;
}

/* load: the dataset as the owner sees it now (version, target column), its task. */
static json_t *load_config(struct prun *r, const char *version)
{
    return json_pack("{s:s, s:s, s:s?}", "dataset_version", version, "target_column",
                     r->plan->target_column, "task_type", task_name(r->plan->task));
}

/* Resolve the dataset (visible to the owner, has the target column) into version. */
static int load_resolve(struct prun *r, char *version, struct step_out *o)
{
    char *tok = NULL;
    json_t *ds = NULL;
    int rc = prun_token(r, &tok, o);
    if (rc == 0)
        rc = datasrc_dataset(r->s, tok, r->plan->dataset_id, &ds);
    free(tok);
    if (rc == -ENOENT)
        snprintf(o->err, sizeof(o->err), "the dataset no longer exists or is not visible");
    else if (rc == -EIO)
        snprintf(o->err, sizeof(o->err), "the selection service is unreachable");
    if (rc)
        return rc;
    const char *v = json_string_value(json_object_get(ds, "version"));
    if (!v || strlen(v) != BLOB_ID_LEN)
        rc = -EIO;
    else if (!datasrc_has_column(ds, r->plan->target_column))
        rc = -EINVAL;
    if (rc == 0)
        memcpy(version, v, BLOB_ID_LEN + 1);
    else
        snprintf(o->err, sizeof(o->err),
                 rc == -EINVAL ? "the dataset has no column '%.200s'"
                               : "the dataset has no version%.0s",
                 r->plan->target_column);
    json_decref(ds);
    return rc;
}

/* load, computed: the frame, the task (given or detected). */
static int load_compute(struct prun *r, const char *version, struct step_out *o)
{
    const struct frame *f = NULL;
    int rc = prun_frame(r, &f, o);
    if (rc)
        return rc;
    enum ml_task task = r->plan->task;
    json_t *reasons = NULL;
    if (!task && mlrun_detect_task(f, r->plan->target_column, &task, &reasons) != 0) {
        snprintf(o->err, sizeof(o->err), "column '%.200s' cannot be a target (no task detected)",
                 r->plan->target_column);
        return -EINVAL;
    }
    o->result = json_pack("{s:s, s:s, s:s, s:s, s:o?, s:I, s:I}", "dataset_id", r->plan->dataset_id,
                          "dataset_version", version, "target_column", r->plan->target_column,
                          "task", task_name(task), "task_detection", reasons, "rows",
                          (json_int_t)frame_nrows(f), "columns", (json_int_t)frame_ncols(f));
    if (!o->result)
        return -ENOMEM;
    return put_json(r, o->result, o);
}

static int step_lookup(struct prun *r, enum plan_step_type t, const json_t *cfg, const char **in,
                       size_t nin, struct step_out *o);

static int run_load(struct prun *r, size_t i, struct step_out *o)
{
    char version[BLOB_ID_LEN + 1];
    int rc = load_resolve(r, version, o);
    if (rc)
        return rc;
    pthread_mutex_lock(&r->mu);
    memcpy(r->version, version, sizeof(version));
    pthread_mutex_unlock(&r->mu);
    json_t *cfg = load_config(r, version);
    rc = cfg ? step_lookup(r, PLAN_LOAD, cfg, NULL, 0, o) : -ENOMEM;
    json_decref(cfg);
    if (rc == -ENOENT)
        rc = load_compute(r, version, o);
    if (rc)
        return rc;
    enum ml_task task = r->plan->task;
    const char *t = json_string_value(json_object_get(o->result, "task"));
    if (!task)
        task = t && strcmp(t, "regression") == 0 ? ML_REGRESSION : ML_CLASSIFICATION;
    pthread_mutex_lock(&r->mu);
    r->task = task;
    pthread_mutex_unlock(&r->mu);
    if (store_plan_set_data(r->s, r->row.id, version, task_name(task),
                            json_object_get(o->result, "task_detection")) != 0)
        log_warn("plan %s: could not record the dataset version and task", r->row.id);
    (void)i;
    return 0;
}

/* preprocess: the experiment settings mlrun_prepare takes, from the step's params. */
static int prep_settings(struct prun *r, size_t i, struct mlrun_config *cfg, struct step_out *o)
{
    const json_t *params = r->plan->steps[i].params;
    const json_t *pp = json_object_get(params, "preprocessing");
    mlrun_config_default(cfg);
    prep_config_release(&cfg->prep);
    if (prep_config_parse(json_is_null(pp) ? NULL : pp, &cfg->prep, NULL) != 0) {
        prep_config_default(&cfg->prep);
        snprintf(o->err, sizeof(o->err), "the preprocessing settings are not valid");
        return -EINVAL;
    }
    cfg->target = strdup(r->plan->target_column);
    cfg->task = r->task;
    const json_t *ts = json_object_get(params, "test_size");
    const json_t *rs = json_object_get(params, "random_state");
    if (json_is_number(ts))
        cfg->test_size = json_number_value(ts);
    if (json_is_integer(rs))
        cfg->random_state = (uint64_t)json_integer_value(rs);
    return cfg->target ? 0 : -ENOMEM;
}

static json_t *prep_config(const struct mlrun_config *cfg)
{
    return json_pack("{s:s, s:s, s:o?, s:f, s:I}", "target_column", cfg->target, "task",
                     task_name(cfg->task), "preprocessing", prep_config_json(&cfg->prep),
                     "test_size", cfg->test_size, "random_state", (json_int_t)cfg->random_state);
}

static int prep_compute(struct prun *r, const struct mlrun_config *cfg, struct step_out *o)
{
    const struct frame *f = NULL;
    int rc = prun_frame(r, &f, o);
    if (rc)
        return rc;
    struct buf b;
    buf_init(&b, PRUN_ARTIFACT_MAX);
    json_t *summary = NULL;
    rc = mlrun_prepare(f, cfg, &b, &summary, o->err, sizeof(o->err));
    if (rc == 0)
        rc = put_bytes(r, b.data, b.len, PLAN_PREPARED_MEDIA, o);
    buf_release(&b);
    if (rc == 0) {
        /* the summary without the long lists (the report stays in the artifact) */
        o->result = json_pack(
            "{s:O?, s:O?, s:O?, s:O?, s:O?}", "task", json_object_get(summary, "task"),
            "train_rows", json_object_get(summary, "train_rows"), "test_rows",
            json_object_get(summary, "test_rows"), "n_features",
            json_object_get(summary, "n_features"), "classes", json_object_get(summary, "classes"));
        rc = o->result ? 0 : -ENOMEM;
    }
    json_decref(summary);
    return rc;
}

static int run_preprocess(struct prun *r, size_t i, struct step_out *o)
{
    struct mlrun_config cfg;
    int rc = prep_settings(r, i, &cfg, o);
    json_t *c = rc == 0 ? prep_config(&cfg) : NULL;
    const char *in[1] = {r->out[r->plan->steps[i].deps[0]]};
    if (rc == 0)
        rc = c ? step_lookup(r, PLAN_PREPROCESS, c, in, 1, o) : -ENOMEM;
    if (rc == -ENOENT)
        rc = prep_compute(r, &cfg, o);
    json_decref(c);
    mlrun_config_release(&cfg);
    return rc;
}

/* train: the algorithm with every hyperparameter resolved, so {} and the explicit defaults
 * share a cache entry. */
static int run_train(struct prun *r, size_t i, struct step_out *o)
{
    const json_t *params = r->plan->steps[i].params;
    const char *algo = json_string_value(json_object_get(params, "algorithm"));
    const json_t *hp = json_object_get(params, "hyperparameters");
    if (json_is_null(hp))
        hp = NULL;
    json_t *resolved = NULL;
    if (learner_resolve(algo, hp, r->task, &resolved, NULL) != 0) {
        snprintf(o->err, sizeof(o->err), "%s does not take these hyperparameters for %s", algo,
                 task_name(r->task));
        return -EINVAL;
    }
    json_t *c = json_pack("{s:s, s:o}", "algorithm", algo, "hyperparameters", resolved);
    const char *in[1] = {r->out[r->plan->steps[i].deps[0]]};
    int rc = c ? step_lookup(r, PLAN_TRAIN, c, in, 1, o) : -ENOMEM;
    if (rc == -ENOENT) {
        struct buf prepared, model;
        buf_init(&model, PRUN_ARTIFACT_MAX);
        struct mlrun_hooks hooks = {.cancel = &r->cancel, .threads = r->threads_per_fit};
        rc = get_bytes(r, in[0], &prepared, o);
        if (rc == 0)
            rc = mlrun_fit(prepared.data, prepared.len, algo, hp, &hooks, &model, o->err,
                           sizeof(o->err));
        if (rc == 0)
            rc = put_bytes(r, model.data, model.len, PL_MODEL_MEDIA, o);
        if (rc == 0) {
            o->result = json_pack("{s:s, s:O, s:I}", "algorithm", algo, "hyperparameters",
                                  json_object_get(c, "hyperparameters"), "model_bytes",
                                  (json_int_t)model.len);
            rc = o->result ? 0 : -ENOMEM;
        }
        buf_release(&prepared);
        buf_release(&model);
    }
    json_decref(c);
    return rc;
}

static int evaluate_compute(struct prun *r, const char **in, struct step_out *o)
{
    struct buf model, prepared;
    json_t *results = NULL;
    int rc = get_bytes(r, in[0], &model, o);
    if (rc == 0) {
        rc = get_bytes(r, in[1], &prepared, o);
        if (rc == 0)
            rc = mlrun_evaluate(prepared.data, prepared.len, model.data, model.len, &results,
                                o->err, sizeof(o->err));
        buf_release(&prepared);
    }
    buf_release(&model);
    if (rc == 0)
        rc = put_json(r, results, o);
    if (rc == 0) {
        o->result = json_pack(
            "{s:O?, s:O?, s:O?}", "algorithm", json_object_get(results, "algorithm"), "task",
            json_object_get(results, "task"), "metrics", json_object_get(results, "metrics"));
        rc = o->result ? 0 : -ENOMEM;
    }
    json_decref(results);
    return rc;
}

static int run_evaluate(struct prun *r, size_t i, struct step_out *o)
{
    const char *in[2];
    size_t n = step_inputs(r, i, in);
    int rc = step_lookup(r, PLAN_EVALUATE, r->plan->steps[i].params, in, n, o);
    return rc == -ENOENT ? evaluate_compute(r, in, o) : rc;
}

/* compare: the ranking of its evaluate steps (by id) on the metric. */
static int run_compare(struct prun *r, size_t i, struct step_out *o)
{
    const struct plan_step *st = &r->plan->steps[i];
    const char *metric = json_string_value(json_object_get(st->params, "metric"));
    const char *in[PLAN_MAX_STEPS];
    size_t n = step_inputs(r, i, in);
    json_t *ids = json_array(), *entries = json_array();
    for (size_t j = 0; ids && entries && j < st->ndeps; j++) {
        size_t d = st->deps[j];
        json_array_append_new(ids, json_string(r->plan->steps[d].id));
        json_array_append_new(
            entries, json_pack("{s:s, s:O}", "id", r->plan->steps[d].id, "results", r->result[d]));
    }
    json_t *c = ids ? json_pack("{s:s, s:O}", "metric", metric, "steps", ids) : NULL;
    int rc = c && entries ? step_lookup(r, PLAN_COMPARE, c, in, n, o) : -ENOMEM;
    if (rc == -ENOENT) {
        rc = mlrun_compare(entries, metric, &o->result, o->err, sizeof(o->err));
        if (rc == 0)
            rc = put_json(r, o->result, o);
    }
    json_decref(c);
    json_decref(ids);
    json_decref(entries);
    return rc;
}

/* ------------------------------------------------------------------------ cache */

/* The key of a step from its configuration and inputs, then the cache: 0 on a hit (o
 * filled), -ENOENT on a miss (o->key set), or another error. A hit whose artifact is gone
 * is a miss. */
static int step_lookup(struct prun *r, enum plan_step_type t, const json_t *cfg, const char **in,
                       size_t nin, struct step_out *o)
{
    int rc = plan_step_key(t, cfg, in, nin, o->key);
    if (rc)
        return rc;
    json_t *res = NULL;
    rc = store_plan_cache_get(r->s, r->row.user_id, o->key, o->out, &res);
    if (rc)
        return rc == -ENOENT ? -ENOENT : rc;
    struct blob_info info;
    int exists = blob_stat(((struct pl_app *)r->s->app)->blobs, o->out, &info) == 0;
    if (!exists || (t != PLAN_PREPROCESS && t != PLAN_TRAIN && !res)) {
        json_decref(res);
        o->out[0] = '\0';
        return -ENOENT;
    }
    o->hit = 1;
    o->result = res;
    return 0;
}

/* ------------------------------------------------------------------------ one step */

static int step_attempt(struct prun *r, size_t i, struct step_out *o)
{
    switch (r->plan->steps[i].type) {
    case PLAN_LOAD:
        return run_load(r, i, o);
    case PLAN_PREPROCESS:
        return run_preprocess(r, i, o);
    case PLAN_TRAIN:
        return run_train(r, i, o);
    case PLAN_EVALUATE:
        return run_evaluate(r, i, o);
    case PLAN_COMPARE:
        return run_compare(r, i, o);
    }
    return -EINVAL;
}

static void step_out_reset(struct step_out *o)
{
    json_decref(o->result);
    memset(o, 0, sizeof(*o));
}

/* Record a step's state; a failure to record is logged (the run goes on). */
static void step_record(struct prun *r, size_t i, const struct plan_step_update *u)
{
    if (store_plan_step(r->s, r->row.id, r->plan->steps[i].id, u) != 0)
        log_warn("plan %s: could not record step %s", r->row.id, r->plan->steps[i].id);
}

/* Record a computed output in the cache. When the plan went away meanwhile (cancelled,
 * deleted, its owner erased) the artifact is released unless something else holds it. */
static void step_cache(struct prun *r, const struct plan_step *st, const struct step_out *o)
{
    int rc = store_plan_cache_put(r->s, r->row.id, o->key, st->type, o->out,
                                  plan_media_type(st->type), o->result);
    if (rc == -ECANCELED)
        artifact_release(r->s, o->out);
    else if (rc)
        log_warn("plan %s: step %s's output was not cached (%s)", r->row.id, st->id, strerror(-rc));
}

/* Step i with its retries: 0 (done, o filled), -ECANCELED, or the last failure. */
static int step_run(struct prun *r, size_t i, struct step_out *o)
{
    const struct plan_step *st = &r->plan->steps[i];
    int rc = -EINVAL;
    for (int attempt = 1; attempt <= 1 + st->retries; attempt++) {
        step_out_reset(o);
        struct plan_step_update u = {
            .status = "running", .attempts = attempt, .cache_hit = -1, .started = attempt == 1};
        step_record(r, i, &u);
        rc = step_attempt(r, i, o);
        if (rc == 0 && !o->hit)
            step_cache(r, st, o);
        if (rc == 0 || rc == -ECANCELED || r->cancel)
            break;
        if (!o->err[0])
            snprintf(o->err, sizeof(o->err), "%s", strerror(-rc));
        log_warn("plan %s: step %s failed (attempt %d of %d): %s", r->row.id, st->id, attempt,
                 1 + st->retries, o->err);
    }
    return rc == 0 ? 0 : r->cancel ? -ECANCELED : rc;
}

/* Run step i and record how it ended. Called without mu. */
static enum prun_state step_exec(struct prun *r, size_t i)
{
    struct step_out o;
    memset(&o, 0, sizeof(o));
    int rc = step_run(r, i, &o);
    struct plan_step_update u = {.attempts = -1, .cache_hit = -1, .finished = 1};
    enum prun_state st = rc == 0 ? ST_DONE : rc == -ECANCELED ? ST_CANCELLED : ST_FAILED;
    u.status = st == ST_DONE ? "completed" : st == ST_CANCELLED ? "cancelled" : "failed";
    if (st == ST_DONE) {
        u.cache_key = o.key;
        u.cache_hit = o.hit;
        u.output = o.out;
        u.result = o.result;
    } else if (st == ST_FAILED)
        u.error = o.err[0] ? o.err : strerror(-rc);
    step_record(r, i, &u);
    pthread_mutex_lock(&r->mu);
    if (st == ST_DONE) {
        memcpy(r->out[i], o.out, sizeof(o.out));
        r->result[i] = o.result;
        o.result = NULL;
    } else if (st == ST_FAILED && !r->error[0])
        snprintf(r->error, sizeof(r->error), "step '%s' failed: %s", r->plan->steps[i].id, u.error);
    pthread_mutex_unlock(&r->mu);
    step_out_reset(&o);
    return st;
}

/* ------------------------------------------------------------------------ scheduling */

/* Under mu: the next step whose dependencies are all done (in topological order), or -1.
 * Steps behind a failed, skipped or cancelled one become skipped on the way. */
static int next_ready(struct prun *r)
{
    if (r->cancel)
        return -1;
    for (size_t k = 0; k < r->plan->nsteps; k++) {
        size_t i = r->plan->order[k];
        if (r->state[i] != ST_PENDING)
            continue;
        int ready = 1, dead = 0;
        for (size_t j = 0; j < r->plan->steps[i].ndeps; j++) {
            enum prun_state d = r->state[r->plan->steps[i].deps[j]];
            ready &= d == ST_DONE;
            dead |= d == ST_FAILED || d == ST_SKIPPED || d == ST_CANCELLED;
        }
        if (dead)
            r->state[i] = ST_SKIPPED;
        else if (ready)
            return (int)i;
    }
    return -1;
}

static void *prun_thread(void *arg)
{
    struct prun *r = arg;
    log_set_request_id(r->request_id);
    pthread_mutex_lock(&r->mu);
    for (;;) {
        int i = next_ready(r);
        if (i < 0) {
            if (r->running == 0)
                break;
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        r->state[i] = ST_RUNNING;
        r->running++;
        pthread_mutex_unlock(&r->mu);
        enum prun_state st = step_exec(r, (size_t)i);
        pthread_mutex_lock(&r->mu);
        r->state[i] = st;
        r->running--;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* The watcher: heartbeats the plan; raises cancel when the plan stopped being this
 * worker's (cancelled, deleted, erased) or the worker stops. */
static void *prun_watch(void *arg)
{
    struct prun *r = arg;
    log_set_request_id(r->request_id);
    pthread_mutex_lock(&r->mu);
    while (!r->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)PRUN_WATCH_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        if (r->done)
            break;
        pthread_mutex_unlock(&r->mu);
        int hb = store_plan_heartbeat(r->s, r->row.id, r->worker);
        int stop = worker_stopping(r->s);
        pthread_mutex_lock(&r->mu);
        if (hb == -ECANCELED || stop) {
            r->lost |= hb == -ECANCELED;
            r->stopping |= stop;
            r->cancel = 1;
            pthread_cond_broadcast(&r->cv);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* The widest level: how many steps could run at once. */
static size_t plan_width(const struct plan *p)
{
    size_t best = 1;
    for (int lv = 0; lv < p->nlevels; lv++) {
        size_t n = 0;
        for (size_t i = 0; i < p->nsteps; i++)
            n += p->steps[i].level == lv;
        best = n > best ? n : best;
    }
    return best;
}

/* Run every step on up to PLAN_PARALLEL threads while the watcher heartbeats. */
static void prun_steps(struct prun *r)
{
    size_t n = plan_width(r->plan);
    n = n < PLAN_PARALLEL ? n : PLAN_PARALLEL;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long cfg = ((struct pl_app *)r->s->app)->cfg.threads;
    r->threads_per_fit = cfg > 0 ? (int)cfg : (int)(cpus / (long)n > 0 ? cpus / (long)n : 1);
    pthread_t th[PLAN_PARALLEL], watch;
    size_t started = 0;
    int watching = pthread_create(&watch, NULL, prun_watch, r) == 0;
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, prun_thread, r) != 0)
            break;
    if (started == 0) /* no thread: run them here */
        prun_thread(r);
    for (size_t k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    pthread_mutex_lock(&r->mu);
    r->done = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (watching)
        pthread_join(watch, NULL);
}

/* ------------------------------------------------------------------------ the job */

/* How the run ends: record the plan's outcome. 0, or -EAGAIN when the plan was given back. */
static int prun_finish(struct prun *r)
{
    struct svc *s = r->s;
    const char *id = r->row.id;
    if (r->lost) {
        log_info("plan %s stopped: it was cancelled or deleted", id);
        return 0;
    }
    if (r->stopping) {
        if (store_plan_release(s, id, r->worker) != 0)
            log_warn("plan %s could not be given back", id);
        return -EAGAIN;
    }
    int failed = r->error[0] != '\0';
    if (store_plan_steps_end(s, id, failed ? "skipped" : "cancelled") != 0)
        log_warn("plan %s: could not end its remaining steps", id);
    int rc = store_plan_finish(s, id, r->worker, failed ? "failed" : "completed",
                               failed ? r->error : NULL);
    if (rc == 0) {
        json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "type",
                               failed ? "plan.failed" : "plan.completed", "plan_id", id, "user_id",
                               r->row.user_id, "status", failed ? "failed" : "completed", "error",
                               failed ? r->error : NULL);
        if (ev)
            (void)events_news(s, id, ev);
        json_decref(ev);
    }
    log_info("plan %s %s%s%s", id, failed ? "failed" : "completed", failed ? ": " : "",
             failed ? r->error : "");
    return 0;
}

static void prun_release(struct prun *r)
{
    for (size_t i = 0; i < PLAN_MAX_STEPS; i++)
        json_decref(r->result[i]);
    frame_free(r->frame);
    plan_free(r->plan);
    store_plan_row_release(&r->row);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->frame_mu);
    pthread_cond_destroy(&r->cv);
}

/* Claim plan id: 0 and r ready to run, 1 when there is nothing to do, < 0 to retry. */
static int prun_claim(struct svc *s, const char *id, struct prun *r)
{
    const struct pl_config *cfg = &((struct pl_app *)s->app)->cfg;
    int rc = store_plan_claim(s, id, worker_id(s), cfg->lease_s, &r->row);
    if (rc == -EALREADY || rc == -ENOENT)
        return 1;
    if (rc)
        return rc;
    json_t *details = NULL;
    rc = plan_parse(r->row.spec, &r->plan, &details);
    json_decref(details);
    if (rc) {
        log_error("plan %s: its stored form does not parse (%d)", id, rc);
        if (store_plan_finish(s, id, worker_id(s), "failed", "the stored plan is not valid") != 0)
            log_warn("plan %s could not be failed", id);
        store_plan_row_release(&r->row);
        return 1;
    }
    return 0;
}

int plan_run_job(struct svc *s, const struct bus_msg *m)
{
    const char *id = json_string_value(json_object_get(m->value, "plan_id"));
    if (!id || strlen(id) != 36) {
        log_warn("a plan request without a plan id was dropped");
        return 0;
    }
    struct prun *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    int rc = prun_claim(s, id, r);
    if (rc) {
        free(r);
        return rc > 0 ? 0 : rc;
    }
    r->s = s;
    r->worker = worker_id(s);
    r->task = r->plan->task;
    snprintf(r->request_id, sizeof(r->request_id), "%s", m->request_id);
    snprintf(r->version, sizeof(r->version), "%s", r->row.dataset_version);
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->frame_mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    log_info("plan %s: running %zu steps (attempt %ld)", id, r->plan->nsteps, r->row.attempts);
    prun_steps(r);
    rc = prun_finish(r);
    prun_release(r);
    free(r);
    return rc;
}

/* ------------------------------------------------------------------------ the sweeper */

void plan_sweep(struct svc *s)
{
    const struct pl_config *cfg = &((struct pl_app *)s->app)->cfg;
    json_t *list = NULL;
    size_t i;
    json_t *e;
    if (store_plan_reap(s, cfg->lease_s, cfg->max_attempts, &list) == 0) {
        json_array_foreach(list, i, e)
        {
            const char *id = json_string_value(json_object_get(e, "id"));
            const char *status = json_string_value(json_object_get(e, "status"));
            log_warn("plan %s: its worker stopped responding; %s", id ? id : "?",
                     status && strcmp(status, "failed") == 0 ? "failed" : "queued again");
        }
    } else
        log_warn("the sweeper could not read running plans");
    json_decref(list);
    list = NULL;
    if (store_plan_due(s, cfg->republish_s, &list) != 0) {
        log_warn("the sweeper could not read pending plans");
        return;
    }
    json_array_foreach(list, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        const char *user = json_string_value(json_object_get(e, "user_id"));
        if (id && user && plan_publish(s, id, user) != 0)
            log_warn("plan %s: publishing again failed", id);
    }
    json_decref(list);
}
