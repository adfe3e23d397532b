/* store_chat: the SQL of chat sessions (one per explanation and user, a bounded number of
 * questions taken atomically) and their messages. */
#include "engine.h"

#include <ibx/ids.h>
#include <ibx/log.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_JSON                                                                               \
    "jsonb_build_object('id', c.id, 'explanation_id', c.explanation_id, 'language', "              \
    "c.language, 'audience_level', c.audience_level, 'max_questions', c.max_questions, "           \
    "'questions_asked', c.questions_count, 'remaining_questions', greatest(c.max_questions - "     \
    "c.questions_count, 0), 'created_at', c.created_at, 'last_activity', c.last_activity)"

static int chat_json(struct svc *s, const char *sql, int np, const char *const *p, json_t **out)
{
    PGresult *r = NULL;
    int rc = db_query(s->db, sql, np, p, &r);
    if (rc)
        return rc;
    json_t *v = PQntuples(r) == 1 && db_val(r, 0, 0) ? json_loads(db_val(r, 0, 0), 0, NULL) : NULL;
    int rows = PQntuples(r);
    PQclear(r);
    if (!v)
        return rows == 1 ? -EIO : -ENOENT;
    *out = v;
    return 0;
}

int store_chat_open(struct svc *s, const char *expl_id, const char *user, long max_questions,
                    json_t **out, int *created, char *status)
{
    char id[37], maxq[24];
    ids_uuid4(id);
    snprintf(maxq, sizeof(maxq), "%ld", max_questions);
    const char *p[] = {expl_id, user};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "SELECT status FROM xai.explanations WHERE id = $1::uuid AND user_id = "
                      "$2::uuid",
                      2, p, &r);
    if (rc)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return -ENOENT;
    }
    snprintf(status, 16, "%s", db_val(r, 0, 0));
    PQclear(r);
    if (strcmp(status, "completed") != 0)
        return -EALREADY;
    const char *q[] = {id, user, expl_id, maxq};
    /* the insert answers only when it created the row */
    rc = chat_json(s,
                   "INSERT INTO xai.chat_sessions AS c (id, user_id, explanation_id, language, "
                   "audience_level, max_questions) SELECT $1::uuid, $2::uuid, x.id, x.language, "
                   "x.audience_level, $4::int FROM xai.explanations x WHERE x.id = $3::uuid ON "
                   "CONFLICT (explanation_id, user_id) DO NOTHING RETURNING " SESSION_JSON "::text",
                   4, q, out);
    *created = rc == 0;
    if (rc != -ENOENT)
        return rc;
    return chat_json(s,
                     "SELECT " SESSION_JSON "::text FROM xai.chat_sessions c WHERE "
                     "c.explanation_id = $1::uuid AND c.user_id = $2::uuid",
                     2, p, out);
}

int store_chat_context(struct svc *s, const char *session, const char *user, json_t **out)
{
    const char *p[] = {session, user};
    return chat_json(
        s,
        "SELECT jsonb_build_object('session', c.id, 'explanation_id', c.explanation_id, "
        "'language', c.language, 'audience_level', c.audience_level, 'questions_count', "
        "c.questions_count, 'max_questions', c.max_questions, 'result', x.result, 'narrative', "
        "x.narratives -> c.language ->> c.audience_level, 'history', coalesce((SELECT "
        "jsonb_agg(jsonb_build_object('role', m.role, 'content', m.content) ORDER BY m.seq) "
        "FROM xai.chat_messages m WHERE m.session_id = c.id), '[]'::jsonb))::text FROM "
        "xai.chat_sessions c JOIN xai.explanations x ON x.id = c.explanation_id WHERE c.id = "
        "$1::uuid AND c.user_id = $2::uuid",
        2, p, out);
}

int store_chat_reserve(struct svc *s, const char *session, const char *user)
{
    const char *p[] = {session, user};
    PGresult *r = NULL;
    int rc = db_query(s->db,
                      "UPDATE xai.chat_sessions SET questions_count = questions_count + 1, "
                      "last_activity = now() WHERE id = $1::uuid AND user_id = $2::uuid AND "
                      "questions_count < max_questions",
                      2, p, &r);
    if (rc)
        return rc;
    int took = db_affected(r) == 1;
    PQclear(r);
    if (took)
        return 0;
    rc = db_query(s->db,
                  "SELECT 1 FROM xai.chat_sessions WHERE id = $1::uuid AND user_id = $2::uuid", 2,
                  p, &r);
    if (rc)
        return rc;
    rc = PQntuples(r) == 1 ? -EDQUOT : -ENOENT;
    PQclear(r);
    return rc;
}

void store_chat_unreserve(struct svc *s, const char *session)
{
    const char *p[] = {session};
    if (db_query(s->db,
                 "UPDATE xai.chat_sessions SET questions_count = greatest(questions_count - 1, "
                 "0) WHERE id = $1::uuid",
                 1, p, NULL) != 0)
        log_warn("chat session %s: a question that was not answered still counts", session);
}

int store_chat_record(struct svc *s, const char *session, const char *user, const char *question,
                      const struct llm_answer *a, json_t **out)
{
    char q_id[37], a_id[37], tokens[24], ms[24];
    ids_uuid4(q_id);
    ids_uuid4(a_id);
    snprintf(tokens, sizeof(tokens), "%ld", a->tokens);
    snprintf(ms, sizeof(ms), "%ld", a->ms);
    const char *p[] = {session, user, q_id, question, a_id, a->text, a->model, tokens, ms};
    return chat_json(
        s,
        "WITH base AS (SELECT coalesce(max(seq), 0) AS n FROM xai.chat_messages WHERE "
        "session_id = $1::uuid), q AS (INSERT INTO xai.chat_messages (id, session_id, user_id, "
        "seq, role, content) SELECT $3::uuid, $1::uuid, $2::uuid, n + 1, 'user', $4 FROM base), "
        "a AS (INSERT INTO xai.chat_messages (id, session_id, user_id, seq, role, content, "
        "model, tokens_used, response_ms) SELECT $5::uuid, $1::uuid, $2::uuid, n + 2, "
        "'assistant', $6, $7, $8::int, $9::int FROM base RETURNING *) SELECT "
        "jsonb_build_object('message_id', a.id, 'seq', a.seq, 'answer', a.content, 'model', "
        "a.model, 'tokens_used', a.tokens_used, 'response_ms', a.response_ms, "
        "'questions_asked', c.questions_count, 'remaining_questions', greatest(c.max_questions "
        "- c.questions_count, 0), 'can_ask_more', c.questions_count < c.max_questions)::text "
        "FROM a JOIN xai.chat_sessions c ON c.id = a.session_id",
        9, p, out);
}

int store_chat_messages(struct svc *s, const char *session, const char *user, json_t **out)
{
    const char *p[] = {session, user};
    return chat_json(
        s,
        "SELECT (" SESSION_JSON " || jsonb_build_object('messages', coalesce((SELECT "
        "jsonb_agg(jsonb_build_object('id', m.id, 'seq', m.seq, 'role', m.role, 'content', "
        "m.content, 'model', m.model, 'tokens_used', m.tokens_used, 'response_ms', "
        "m.response_ms, 'created_at', m.created_at) ORDER BY m.seq) FROM xai.chat_messages m "
        "WHERE m.session_id = c.id), '[]'::jsonb)))::text FROM xai.chat_sessions c WHERE c.id "
        "= $1::uuid AND c.user_id = $2::uuid",
        2, p, out);
}
