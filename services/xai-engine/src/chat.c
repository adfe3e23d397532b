/* chat: questions about a completed explanation, answered by a language model through
 * model-serving with the explanation's facts as context. One session per explanation and
 * user, at most IBX_XAI_CHAT_MAX_QUESTIONS answered questions (then 429). A question the
 * model could not answer (none configured: 503 llm_unavailable at once; unavailable or
 * failing: 503 after the try) is not recorded and does not count. */
#include "engine.h"

#include <ibx/ids.h>
#include <ibx/jsonv.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAT_LLM_RETRY_AFTER "30"

static const char *chat_session_id(struct http_req *req, struct http_resp *resp)
{
    const char *id = http_req_param(req, "session_id");
    if (!id || !ids_is_uuid(id)) {
        http_resp_error(resp, 404, "not_found", "no such chat session", NULL);
        return NULL;
    }
    return id;
}

static void chat_fail(struct http_resp *resp, int rc)
{
    if (rc == -ENOENT)
        http_resp_error(resp, 404, "not_found", "no such chat session", NULL);
    else
        http_resp_errno(resp, rc, NULL);
}

void chat_open(struct http_req *req, struct http_resp *resp)
{
    const char *id = http_req_param(req, "id");
    if (!id || !ids_is_uuid(id)) {
        http_resp_error(resp, 404, "not_found", "no such explanation", NULL);
        return;
    }
    json_t *session = NULL;
    int created = 0;
    char status[16] = "";
    int rc = store_chat_open(req->app, id, req->claims.sub, xe_cfg(req->app)->chat_max_questions,
                             &session, &created, status);
    if (rc == -ENOENT) {
        http_resp_error(resp, 404, "not_found", "no such explanation", NULL);
    } else if (rc == -EALREADY) {
        char msg[160];
        snprintf(msg, sizeof(msg), "the explanation is %s; a chat opens once it is completed",
                 status);
        http_resp_error(resp, 409, "not_completed", msg, json_pack("{s:s}", "status", status));
    } else if (rc) {
        http_resp_errno(resp, rc, NULL);
    } else {
        const char *llm = xe_cfg(req->app)->llm_model;
        json_object_set_new(session, "llm_available", json_boolean(llm && llm[0]));
        http_resp_json(resp, created ? 201 : 200, session);
    }
}

static const struct jsonv_field ask_fields[] = {
    {"question", JSONV_STRING, 1, XE_QUESTION_MAX, 1, 0, 0},
};

/* The question of the body: 0 and *body (its owner), or the response is set. */
static int chat_question(struct http_req *req, struct http_resp *resp, json_t **body,
                         const char **question)
{
    json_t *details = NULL;
    if (http_req_json(req, resp, body) != 0)
        return -1;
    if (!json_is_object(*body) || jsonv_check(*body, ask_fields, 1, 1, &details) != 0) {
        if (!details)
            details = xreq_problem("body", "must be a JSON object {\"question\": text}");
        char msg[300];
        xreq_message(details, msg, sizeof(msg));
        http_resp_error(resp, 422, "validation_failed", msg, details);
        return -1;
    }
    *question = jsonv_str(*body, "question");
    if (strspn(*question, " \t\r\n") == strlen(*question)) {
        http_resp_error(resp, 422, "validation_failed", "question: must not be blank",
                        xreq_problem("question", "must not be blank"));
        return -1;
    }
    return 0;
}

static void chat_limit(struct http_resp *resp, const json_t *ctx)
{
    char msg[200];
    json_int_t max = json_integer_value(json_object_get(ctx, "max_questions"));
    snprintf(msg, sizeof(msg), "this chat has used its %lld questions", (long long)max);
    http_resp_header(resp, "Retry-After", "86400");
    http_resp_error(resp, 429, "question_limit", msg, json_pack("{s:I}", "limit", max));
}

static void chat_unavailable(struct http_resp *resp, const char *why)
{
    http_resp_header(resp, "Retry-After", CHAT_LLM_RETRY_AFTER);
    http_resp_error(resp, 503, "llm_unavailable", why, NULL);
}

/* Ask the model with the session's context; answer 200 or 503. The question is taken. */
static void chat_answer(struct http_req *req, struct http_resp *resp, const char *session,
                        const json_t *ctx, const char *question)
{
    json_t *result = json_loads(json_string_value(json_object_get(ctx, "result")), 0, NULL);
    int aud = xe_audience_parse(json_string_value(json_object_get(ctx, "audience_level")));
    int lang = xe_lang_parse(json_string_value(json_object_get(ctx, "language")));
    json_t *msgs = prompt_messages(result, json_string_value(json_object_get(ctx, "narrative")),
                                   aud < 0 ? XE_NOVICE : (enum xe_audience)aud,
                                   lang < 0 ? XE_EN : (enum xe_lang)lang,
                                   json_object_get(ctx, "history"), question);
    json_decref(result);
    struct llm_answer a;
    memset(&a, 0, sizeof(a));
    char err[XE_ERROR_MAX] = "";
    int rc = msgs ? llm_ask(req->app, svc_bearer(req), msgs, &a, err, sizeof(err)) : -ENOMEM;
    json_decref(msgs);
    json_t *out = NULL;
    if (rc == 0)
        rc = store_chat_record(req->app, session, req->claims.sub, question, &a, &out);
    if (rc) {
        store_chat_unreserve(req->app, session);
        if (rc == -EAGAIN || rc == -EIO || rc == -ENOTSUP)
            chat_unavailable(resp, err[0] ? err : "the language model is not available");
        else
            http_resp_errno(resp, rc, NULL);
    } else {
        http_resp_json(resp, 200, out);
    }
    llm_answer_release(&a);
}

void chat_ask(struct http_req *req, struct http_resp *resp)
{
    const char *session = chat_session_id(req, resp), *question = NULL;
    json_t *body = NULL, *ctx = NULL;
    if (!session || chat_question(req, resp, &body, &question) != 0) {
        json_decref(body);
        return;
    }
    int rc = store_chat_context(req->app, session, req->claims.sub, &ctx);
    const char *llm = xe_cfg(req->app)->llm_model;
    if (rc) {
        chat_fail(resp, rc);
    } else if (json_integer_value(json_object_get(ctx, "questions_count")) >=
               json_integer_value(json_object_get(ctx, "max_questions"))) {
        chat_limit(resp, ctx);
    } else if (!llm || !llm[0]) {
        chat_unavailable(resp, "no language model is configured for explanations "
                               "(IBX_XAI_LLM_MODEL is not set), so questions cannot be "
                               "answered; the explanation's narrative is available");
    } else if ((rc = store_chat_reserve(req->app, session, req->claims.sub)) == -EDQUOT) {
        chat_limit(resp, ctx);
    } else if (rc) {
        chat_fail(resp, rc);
    } else {
        chat_answer(req, resp, session, ctx, question);
    }
    json_decref(ctx);
    json_decref(body);
}

void chat_messages(struct http_req *req, struct http_resp *resp)
{
    const char *session = chat_session_id(req, resp);
    json_t *out = NULL;
    int rc = session ? store_chat_messages(req->app, session, req->claims.sub, &out) : 0;
    if (rc)
        chat_fail(resp, rc);
    else if (session)
        http_resp_json(resp, 200, out);
}
