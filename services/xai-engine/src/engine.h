/* engine: internal declarations shared by the xai-engine service's files.
 *
 * One binary, two modes. `ibx-xai` is the API: it validates and records explanation
 * requests (checking the experiment with ml-pipeline), publishes them on ibx.xai.requests,
 * serves results, narratives and chat, and runs the sweeper (re-publishing pending
 * requests nobody took, re-queueing or failing those whose worker stopped responding).
 * `ibx-xai --worker` consumes ibx.xai.requests and computes: it loads the experiment's
 * model file from ml-pipeline and the dataset's columnar copy from selection, explains
 * with libs/xai, writes the narratives, and reports progress on ibx.xai.events; it serves
 * only /healthz, /readyz, /metrics and /openapi.json on its own port (default 8093).
 * The explanations row is the truth about a request; Kafka carries the work and the news.
 *
 * Domain files (no HTTP, SQL or Kafka): xreq.c (the request, checked; the method choice),
 * xcompute.c and xmethods.c (the explanation itself), narrative.c (the texts), prompt.c
 * (the chat's context for the language model). */
#ifndef IBX_XAI_ENGINE_H
#define IBX_XAI_ENGINE_H

#include <ibx/frame.h>
#include <ibx/jobwatch.h>
#include <ibx/ml.h>
#include <ibx/model.h>
#include <ibx/svc.h>
#include <ibx/ticker.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define XE_WUR __attribute__((warn_unused_result))

#define XE_WORKER_PORT      8093
#define XE_REQUESTED_EVENT  "explanation.requested"
#define XE_ERROR_MAX        1024
#define XE_KERNEL_MAX_FEATS 16   /* auto: KernelSHAP up to this many model features */
#define XE_QUESTION_MAX     1000 /* bytes of a chat question */

/* The service's own configuration (main.c's table; see the README). */
struct xe_config {
    const char *pipeline_url;
    const char *selection_url;
    const char *serving_url;
    const char *llm_model; /* "" when no language model is configured */
    long llm_timeout_s;
    long llm_max_tokens;
    long chat_max_questions;
    long lease_s, max_attempts, republish_s, sweep_s;
    long max_active;     /* pending + running explanations per user */
    long max_dataset_mb; /* largest columnar dataset a worker loads */
    long max_model_mb;   /* largest model file loaded */
    long threads;        /* threads one explanation uses (0: one per CPU) */
    long progress_ms;    /* least interval between two progress writes */
};

struct xe_worker;

/* The service's state (s->app). */
struct xe_app {
    struct xe_config cfg;
    struct ticker *sweeper;   /* API mode */
    struct xe_worker *worker; /* worker mode */
};

const struct xe_config *xe_cfg(const struct svc *s);

/* ---- xreq.c: an explanation request, checked; the method choice (domain) ---- */
enum xe_type { XE_GLOBAL = 0, XE_LOCAL = 1, XE_IMPORTANCE = 2 };
enum xe_method { XE_AUTO = 0, XE_SHAP = 1, XE_LIME = 2, XE_PERMUTATION = 3, XE_PDP = 4 };
/* What is computed. */
enum xe_used {
    XE_TREE_SHAP = 0,
    XE_LINEAR_SHAP = 1,
    XE_KERNEL_SHAP = 2,
    XE_USE_LIME = 3,
    XE_USE_PERMUTATION = 4,
    XE_USE_PDP = 5
};
enum xe_audience { XE_NOVICE = 0, XE_INTERMEDIATE = 1, XE_EXPERT = 2 };
enum xe_lang { XE_EN = 0, XE_FR = 1 };

/* The options a request may give; 0 (or NULL) for "not given" unless said otherwise. */
struct xe_options {
    long nsamples;        /* KernelSHAP coalitions, LIME samples */
    long background_size; /* rows summarising the background (Linear, Kernel SHAP) */
    long long seed;       /* -1: not given (then 0) */
    long max_rows;        /* rows a global explanation covers */
    long repeats;         /* permutation repeats */
    long grid_points;     /* PDP grid */
    long ice_rows;        /* -1: not given */
    json_t *features;     /* owned array of input column names, or NULL */
};

struct xe_request {
    char experiment_id[37];
    enum xe_type type;
    enum xe_method method;
    int audience; /* enum xe_audience, or -1 when not given */
    enum xe_lang lang;
    json_t *instance;    /* owned object, or NULL */
    long instance_index; /* -1 when not given */
    struct xe_options opt;
};
void xreq_release(struct xe_request *r);
/* Check the body's shape and every field that needs no experiment. 0 and *out (release
 * it), or -EINVAL and *details ({"fields":[{"field","problem"}]}, caller decrefs). */
int xreq_parse(const json_t *body, struct xe_request *out, json_t **details) XE_WUR;
/* The options as given (a new object of the fields that were set). */
json_t *xreq_options_json(const struct xe_options *o);
/* The reverse, for a worker reading the stored options (0, -EINVAL). */
int xreq_options_parse(const json_t *obj, struct xe_options *out) XE_WUR;

/* The method for a request on a model of algorithm (a learner name) with p model features
 * (after one-hot encoding), for audience; *reason is static English text. -EINVAL with
 * *details when the method does not fit the explanation type. */
int xreq_choose(const struct xe_request *r, const char *algorithm, size_t p,
                enum xe_audience audience, enum xe_used *used, const char **reason,
                json_t **details) XE_WUR;

/* Names (static): "global"...; "auto"...; "tree_shap", "linear_shap", "kernel_shap",
 * "lime", "permutation", "pdp"; "novice"...; "en", "fr". The parsers return -1 for an
 * unknown name. */
const char *xe_type_name(enum xe_type t);
const char *xe_method_name(enum xe_method m);
const char *xe_used_name(enum xe_used u);
const char *xe_audience_name(enum xe_audience a);
const char *xe_lang_name(enum xe_lang l);
int xe_type_parse(const char *s);
int xe_method_parse(const char *s);
int xe_used_parse(const char *s);
int xe_audience_parse(const char *s);
int xe_lang_parse(const char *s);
/* The audience of an ai_familiarity level 1..5 as the gateway states it in the internal
 * token's aud_level ("" or unknown: -1). */
int xe_audience_of_claim(const char *aud_level);
/* {"fields":[{"field": field, "problem": problem}]} (new reference). */
json_t *xreq_problem(const char *field, const char *problem);
/* The first problem of details as "field: problem". */
void xreq_message(const json_t *details, char *out, size_t n);

/* ---- xcompute.c, xmethods.c: the explanation (domain) ---- */
/* Everything one explanation is computed from (all borrowed). */
struct xe_job {
    const struct model *model;
    const struct frame *data;
    const struct xe_request *req; /* type, options, instance */
    enum xe_used used;
    const char *method_reason;
    enum xe_audience audience;
    const char *experiment_id, *model_sha256, *dataset_version;
    const json_t *experiment_results; /* ml-pipeline's results (metrics), may be NULL */
    struct ml_control ctl;            /* progress counts the computation; cancel; threads */
};
/* The result object (new reference, caller decrefs): the same inputs always give the same
 * object. -EINVAL with a message in err (an instance or option the data refuses),
 * -ENOMEM, -ECANCELED. */
int xcompute_run(const struct xe_job *j, json_t **out, char *err, size_t errlen) XE_WUR;
/* The result's bytes as stored and served: compact, keys sorted (caller frees). */
char *xcompute_dump(const json_t *result);

/* ---- narrative.c: the texts (domain) ---- */
/* The narrative of a result (xcompute_run's object) for audience and language: a new
 * string (caller frees), or NULL when out of memory. Everything it states comes from the
 * result: the method and why, the top features with their signs and sizes, the model's
 * metrics, the additivity residual. */
char *narrative_text(const json_t *result, enum xe_audience audience, enum xe_lang lang);
/* Every narrative: {"en": {"novice": text, ...}, "fr": {...}} (new reference; NULL on
 * ENOMEM). */
json_t *narrative_all(const json_t *result);
/* Words in text (runs of non-space characters). */
size_t narrative_words(const char *text);

/* ---- prompt.c: the chat's messages for the language model (domain) ---- */
/* The OpenAI-style messages array (new reference): a system message stating the role,
 * the language and audience and the explanation's facts (from result and narrative), the
 * previous turns (history: [{"role": "user"|"assistant", "content"}]), then question. */
json_t *prompt_messages(const json_t *result, const char *narrative, enum xe_audience audience,
                        enum xe_lang lang, const json_t *history, const char *question);

/* ---- pipesrc.c: experiments (ml-pipeline) and datasets (selection) over HTTP ---- */
/* GET /api/v1/experiments/{id} as the token's user. -ENOENT (none, or not theirs), -EIO. */
int pipesrc_experiment(struct svc *s, const char *token, const char *id, json_t **out) XE_WUR;
/* GET .../{id}/results: -ENOENT, -EAGAIN (not completed), -EIO. */
int pipesrc_results(struct svc *s, const char *token, const char *id, json_t **out) XE_WUR;
/* The experiment's model file, loaded (*out, model_free) with the SHA-256 of its bytes.
 * -ENOENT, -EMSGSIZE (over IBX_XAI_MAX_MODEL_MB), -EINVAL (unreadable), -EIO; a message
 * in err. */
int pipesrc_model(struct svc *s, const char *token, const char *id, struct model **out,
                  char sha256[65], char *err, size_t errlen) XE_WUR;
/* GET selection /api/v1/datasets/{id}: -ENOENT, -EIO. */
int pipesrc_dataset(struct svc *s, const char *token, const char *id, json_t **out) XE_WUR;
/* The columnar copy of file 0 of a dataset (ref: id or version) as a frame (*out,
 * frame_free). -ENOENT, -EMSGSIZE, -EIO; a message in err. */
int pipesrc_frame(struct svc *s, const char *token, const char *ref, struct frame **out, char *err,
                  size_t errlen) XE_WUR;

/* ---- llm.c: model-serving's OpenAI-compatible chat completions ---- */
struct llm_answer {
    char *text; /* owned */
    char model[128];
    long tokens; /* usage.total_tokens, 0 when not said */
    long ms;
};
void llm_answer_release(struct llm_answer *a);
/* POST IBX_SERVING_URL/v1/chat/completions with messages (borrowed) as the token's user.
 * 0 and *out; -ENOTSUP (no model configured), -EAGAIN (the route is absent or
 * unavailable: 404, 503, unreachable, timeout), -EIO (any other failure); a message for
 * the user in err. */
int llm_ask(struct svc *s, const char *token, const json_t *messages, struct llm_answer *out,
            char *err, size_t errlen) XE_WUR;

/* ---- events.c: the only file that speaks Kafka ---- */
int events_request(struct svc *s, const char *explanation_id, const char *user_id) XE_WUR;
/* Publish value (borrowed) on ibx.xai.events with key; best effort (logged). */
int events_news(struct svc *s, const char *key, json_t *value);
int events_consume(struct svc *s, bus_handler_fn handler, void *ctx,
                   struct bus_consumer **out) XE_WUR;

/* ---- store_expl.c: the explanations table ---- */
/* A submission, as store_expl_create records it (borrowed). */
struct xe_new {
    const struct xe_request *req;
    const char *user_id, *role;
    enum xe_audience audience;
    const char *audience_source; /* "request", "profile" or "default" */
    enum xe_used used;
    const char *method_reason;
    const json_t *experiment; /* ml-pipeline's experiment object */
    const char *idem_key;     /* NULL: none */
    const char *request_hash; /* SHA-256 of the body */
};
/* Record (pending) unless the user has max_active pending or running (-EDQUOT) or the
 * Idempotency-Key was used: same body -> 0 with *created 0 and the existing row; another
 * body -> -EEXIST. *out: the explanation's JSON (caller decrefs). */
int store_expl_create(struct svc *s, const struct xe_new *n, long max_active, json_t **out,
                      int *created) XE_WUR;
void store_expl_published(struct svc *s, const char *id);
/* The explanation as JSON when it is user's; -ENOENT otherwise. */
int store_expl_get(struct svc *s, const char *id, const char *user, json_t **out) XE_WUR;
/* Status (16 bytes) always; *text the stored result bytes only when completed (caller
 * frees). -ENOENT. */
int store_expl_result(struct svc *s, const char *id, const char *user, char *status,
                      char **text) XE_WUR;
/* The narrative for audience and lang of a completed explanation (*text, caller frees;
 * NULL with *status otherwise). -ENOENT. */
int store_expl_narrative(struct svc *s, const char *id, const char *user, const char *audience,
                         const char *lang, char *status, char **text) XE_WUR;
/* {"id","status","progress","stage","error","method_used","updated_at"} for the stream. */
int store_expl_state(struct svc *s, const char *id, json_t **out) XE_WUR;
/* pending|running -> cancelled: *out the row; -EALREADY with *status; -ENOENT. */
int store_expl_cancel(struct svc *s, const char *id, const char *user, json_t **out,
                      char *status) XE_WUR;
int store_expl_delete(struct svc *s, const char *id, const char *user) XE_WUR;

/* What a worker needs of a request it claimed. */
struct xe_row {
    char id[37];
    char user_id[37];
    char owner_role[16];
    char experiment_id[37];
    char dataset_version[80];
    char model_sha256[65];
    char algorithm[64];
    char method_reason[256];
    enum xe_used used;
    enum xe_audience audience;
    struct xe_request req; /* owned parts: release with store_expl_row_release */
    long attempts;
};
void store_expl_row_release(struct xe_row *r);
/* pending -> running for worker: 0 and *out; -EALREADY (not pending), -ENOENT. */
int store_expl_claim(struct svc *s, const char *id, const char *worker, struct xe_row *out) XE_WUR;
/* -ECANCELED once the row is no longer this worker's running row. */
int store_expl_progress(struct svc *s, const char *id, const char *worker, int progress,
                        const char *stage) XE_WUR;
int store_expl_heartbeat(struct svc *s, const char *id, const char *worker) XE_WUR;
int store_expl_still_mine(struct svc *s, const char *id, const char *worker) XE_WUR;
/* The outcome, the result bytes (text) with their SHA-256, the requested narrative, every
 * narrative and the timings (borrowed). -ECANCELED as above. */
struct xe_outcome {
    const char *result_text;
    const char *result_sha256;
    const char *narrative;
    const json_t *narratives;
    const json_t *timings;
};
int store_expl_complete(struct svc *s, const char *id, const char *worker,
                        const struct xe_outcome *o) XE_WUR;
int store_expl_fail(struct svc *s, const char *id, const char *worker, const char *error,
                    const json_t *timings) XE_WUR;
/* running -> pending (this worker is stopping; the attempt is given back). */
int store_expl_release(struct svc *s, const char *id, const char *worker) XE_WUR;

/* ---- store_chat.c: chat sessions and messages ---- */
/* The session of (explanation, user), created when absent: 0 and *out with *created;
 * -ENOENT (no such explanation of user's), -EALREADY with *status (not completed). */
int store_chat_open(struct svc *s, const char *expl_id, const char *user, long max_questions,
                    json_t **out, int *created, char *status) XE_WUR;
/* What answering a question needs: {"session", "explanation_id", "language",
 * "audience_level", "questions_count", "max_questions", "result" (text), "narrative",
 * "history": [{"role","content"}]}. -ENOENT. */
int store_chat_context(struct svc *s, const char *session, const char *user, json_t **out) XE_WUR;
/* Take one of the session's questions (count + 1 while below the maximum): 0,
 * -EDQUOT (none left), -ENOENT. */
int store_chat_reserve(struct svc *s, const char *session, const char *user) XE_WUR;
/* Give it back (the question was not answered). */
void store_chat_unreserve(struct svc *s, const char *session);
/* Record the question and its answer (the next two message numbers). *out: the answer's
 * message with the session's counts. */
int store_chat_record(struct svc *s, const char *session, const char *user, const char *question,
                      const struct llm_answer *a, json_t **out) XE_WUR;
/* The session's messages in order, or -ENOENT. */
int store_chat_messages(struct svc *s, const char *session, const char *user, json_t **out) XE_WUR;

/* ---- store.c: data rights ---- */
json_t *store_export_user(struct svc *s, const char *user_id);
int store_erase_user(struct svc *s, const char *user_id) XE_WUR;

/* ---- explanations.c: the /explanations handlers ---- */
void expl_create(struct http_req *req, struct http_resp *resp);
void expl_list(struct http_req *req, struct http_resp *resp);
void expl_get(struct http_req *req, struct http_resp *resp);
void expl_events(struct http_req *req, struct http_resp *resp);
void expl_results(struct http_req *req, struct http_resp *resp);
void expl_narrative(struct http_req *req, struct http_resp *resp);
void expl_cancel(struct http_req *req, struct http_resp *resp);
void expl_delete(struct http_req *req, struct http_resp *resp);

/* ---- chat.c: the chat handlers ---- */
void chat_open(struct http_req *req, struct http_resp *resp);
void chat_ask(struct http_req *req, struct http_resp *resp);
void chat_messages(struct http_req *req, struct http_resp *resp);

/* ---- sweeper.c (API mode): one pass (a ticker runs it) ---- */
void sweeper_pass(void *svc);

/* ---- worker.c (worker mode) ---- */
int worker_start(struct svc *s, struct xe_worker **out) XE_WUR;
void worker_stop(struct xe_worker *w);

#endif
