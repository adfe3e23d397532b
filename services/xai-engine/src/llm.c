/* llm: questions to a language model through model-serving's OpenAI-compatible route
 * (IBX_SERVING_URL + /v1/chat/completions, model IBX_XAI_LLM_MODEL), as the asking
 * user. No model configured, or a route that is absent or unavailable, is said plainly:
 * the chat then answers 503 llm_unavailable. */
#include "engine.h"

#include <ibx/clock.h>
#include <ibx/httpc.h>
#include <ibx/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void llm_answer_release(struct llm_answer *a)
{
    if (!a)
        return;
    free(a->text);
    a->text = NULL;
}

/* The answer of a 200 response: choices[0].message.content (non-empty). */
static int llm_read(const json_t *v, struct llm_answer *out, const char *model)
{
    const json_t *msg =
        json_object_get(json_array_get(json_object_get(v, "choices"), 0), "message");
    const char *text = json_string_value(json_object_get(msg, "content"));
    if (!text || !text[0])
        return -EIO;
    out->text = strdup(text);
    if (!out->text)
        return -ENOMEM;
    const char *used = json_string_value(json_object_get(v, "model"));
    snprintf(out->model, sizeof(out->model), "%s", used ? used : model);
    const json_t *tok = json_object_get(json_object_get(v, "usage"), "total_tokens");
    out->tokens = json_is_integer(tok) ? (long)json_integer_value(tok) : 0;
    return 0;
}

int llm_ask(struct svc *s, const char *token, const json_t *messages, struct llm_answer *out,
            char *err, size_t errlen)
{
    const struct xe_config *cfg = xe_cfg(s);
    if (!cfg->llm_model || !cfg->llm_model[0]) {
        snprintf(err, errlen,
                 "no language model is configured for explanations (IBX_XAI_LLM_MODEL is "
                 "not set), so questions cannot be answered; the narrative is available");
        return -ENOTSUP;
    }
    char url[1024], auth[AUTH_MAX_TOKEN + 32];
    snprintf(url, sizeof(url), "%s/v1/chat/completions", cfg->serving_url);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *hdrs[] = {auth, NULL};
    json_t *body = json_pack("{s:s, s:O, s:I, s:f}", "model", cfg->llm_model, "messages", messages,
                             "max_tokens", (json_int_t)cfg->llm_max_tokens, "temperature", 0.3);
    long status = 0;
    json_t *v = NULL;
    int64_t t0 = clock_mono_ms();
    int rc = body ? httpc_json("POST", url, hdrs, body, cfg->llm_timeout_s * 1000, &status, &v)
                  : -ENOMEM;
    explicit_bzero(auth, sizeof(auth));
    json_decref(body);
    memset(out, 0, sizeof(*out));
    out->ms = (long)(clock_mono_ms() - t0);
    if (rc == 0 && status == 200)
        rc = llm_read(v, out, cfg->llm_model);
    else if (rc == 0)
        rc = status == 404 || status == 503 || status == 502 || status == 429 ? -EAGAIN : -EIO;
    else if (rc != -ENOMEM)
        rc = -EAGAIN; /* unreachable or timed out */
    json_decref(v);
    if (rc == -EAGAIN && status)
        snprintf(err, errlen,
                 "the language model behind model-serving is not available now (it answered "
                 "%ld); the question was not counted",
                 status);
    else if (rc == -EAGAIN)
        snprintf(err, errlen,
                 "the language model behind model-serving could not be reached; the question "
                 "was not counted");
    else if (rc)
        snprintf(err, errlen,
                 "the language model's answer could not be used (status %ld); the question "
                 "was not counted",
                 status);
    if (rc)
        log_warn("chat completion at %s failed: rc %d, status %ld", url, rc, status);
    return rc;
}
