/* prompt: the messages a language model gets to answer a question about an explanation:
 * a system message with its role, the reader's audience and language, the explanation's
 * facts (taken from the stored result) and the narrative the reader saw, then the
 * session's previous turns and the new question. No HTTP, SQL or Kafka. */
#include "engine.h"

#include <ibx/buf.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROMPT_MAX_FEATURES 8

static void facts_metrics(struct buf *b, const json_t *res)
{
    const char *k;
    const json_t *v;
    (void)!buf_printf(b, "- Model: %s predicting \"%s\" (%s). Test metrics:",
                      json_string_value(json_object_get(res, "algorithm")),
                      json_string_value(json_object_get(res, "target")),
                      json_string_value(json_object_get(res, "task")));
    json_object_foreach((json_t *)json_object_get(res, "metrics"), k,
                        v)(void) !buf_printf(b, " %s %.4g", k, json_number_value(v));
    (void)!buf_append_str(b, ".\n");
}

static void facts_ranking(struct buf *b, const json_t *res)
{
    const json_t *rank = json_object_get(res, "ranking");
    if (!json_array_size(rank))
        return;
    (void)!buf_printf(
        b, "- Ranking by %s:", json_string_value(json_object_get(res, "ranking_measure")));
    size_t i;
    const json_t *e;
    json_array_foreach(rank, i, e)
    {
        if (i >= PROMPT_MAX_FEATURES)
            break;
        const json_t *sd = json_object_get(e, "sd");
        (void)!buf_printf(b, "%s \"%s\" %.4g", i ? ";" : "",
                          json_string_value(json_object_get(e, "feature")),
                          json_number_value(json_object_get(e, "importance")));
        if (json_is_number(sd))
            (void)!buf_printf(b, " (sd %.3g)", json_number_value(sd));
    }
    (void)!buf_append_str(b, ".\n");
}

static void facts_local(struct buf *b, const json_t *loc)
{
    if (!json_is_object(loc))
        return;
    const json_t *pred = json_object_get(loc, "prediction");
    const char *label = json_string_value(json_object_get(pred, "label"));
    char which[64];
    if (json_is_integer(json_object_get(loc, "row")))
        snprintf(which, sizeof(which), "dataset row %lld",
                 (long long)json_integer_value(json_object_get(loc, "row")));
    else
        snprintf(which, sizeof(which), "entered by the user");
    (void)!buf_printf(b,
                      "- One instance (%s): predicted %s%s%s; output \"%s\" = %.4g from a base "
                      "value of %.4g. Contributions:",
                      which, label ? "\"" : "", label ? label : "a value", label ? "\"" : "",
                      json_string_value(json_object_get(loc, "output")),
                      json_number_value(json_object_get(loc, "output_value")),
                      json_number_value(json_object_get(loc, "base_value")));
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(loc, "contributions"), i, e)
    {
        if (i >= PROMPT_MAX_FEATURES)
            break;
        const char *cond = json_string_value(json_object_get(e, "condition"));
        char *val = json_dumps(json_object_get(e, "value"), JSON_ENCODE_ANY);
        (void)!buf_printf(b, "%s \"%s\" = %s%s%s%s: %+.4g", i ? ";" : "",
                          json_string_value(json_object_get(e, "feature")), val ? val : "null",
                          cond ? " (rule " : "", cond ? cond : "", cond ? ")" : "",
                          json_number_value(json_object_get(e, "contribution")));
        free(val);
    }
    (void)!buf_append_str(b, ".\n");
}

static char *system_text(const json_t *res, const char *narrative, enum xe_audience audience,
                         enum xe_lang lang)
{
    static const char *const style[] = {
        "a novice: plain words, no jargon, an everyday comparison when it helps",
        "an intermediate reader: name the metrics and what they mean",
        "an expert: precise terms, the method's assumptions and limits"};
    struct buf b;
    buf_init(&b, (size_t)1 << 20);
    (void)!buf_printf(
        &b,
        "You answer questions about one explanation of a machine-learning model. The reader "
        "is %s. Answer in %s, in at most 150 words. Use only the facts below and say so when "
        "they do not answer the question; never invent numbers.\nFacts:\n",
        style[audience], lang == XE_FR ? "French" : "English");
    facts_metrics(&b, res);
    (void)!buf_printf(&b, "- Explanation: %s, method %s (%s).\n",
                      json_string_value(json_object_get(res, "explanation_type")),
                      json_string_value(json_object_get(res, "method")),
                      json_string_value(json_object_get(res, "method_reason")));
    facts_ranking(&b, res);
    facts_local(&b, json_object_get(res, "local"));
    const json_t *add = json_object_get(res, "additivity");
    if (json_is_object(add))
        (void)!buf_printf(&b, "- Additivity residual (max |prediction - base - sum|): %.3g.\n",
                          json_number_value(json_object_get(add, "max_abs_residual")));
    (void)!buf_printf(&b, "The reader was shown this narrative:\n%s", narrative ? narrative : "");
    return buf_steal(&b);
}

json_t *prompt_messages(const json_t *result, const char *narrative, enum xe_audience audience,
                        enum xe_lang lang, const json_t *history, const char *question)
{
    char *sys = system_text(result, narrative, audience, lang);
    json_t *msgs = sys ? json_pack("[{s:s, s:s}]", "role", "system", "content", sys) : NULL;
    free(sys);
    size_t i;
    const json_t *h;
    json_array_foreach(history, i, h)
    {
        const char *role = json_string_value(json_object_get(h, "role"));
        const char *content = json_string_value(json_object_get(h, "content"));
        if (msgs && role && content)
            json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", role, "content", content));
    }
    if (msgs)
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", question));
    return msgs;
}
