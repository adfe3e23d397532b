/* store: the xai-engine service's data-rights SQL (export and erasure of a user). */
#include "engine.h"

json_t *store_export_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    json_t *doc = NULL;
    if (db_query_json(
            s->db,
            "SELECT jsonb_build_object('explanations', coalesce((SELECT jsonb_agg(to_jsonb(x) - "
            "'request_hash' - 'result' || jsonb_build_object('result', x.result::jsonb) ORDER "
            "BY x.created_at, x.id) FROM xai.explanations x WHERE x.user_id = $1::uuid), "
            "'[]'::jsonb), 'chat_sessions', coalesce((SELECT jsonb_agg(to_jsonb(c) || "
            "jsonb_build_object('messages', coalesce((SELECT jsonb_agg(to_jsonb(m) ORDER BY "
            "m.seq) FROM xai.chat_messages m WHERE m.session_id = c.id), '[]'::jsonb)) ORDER BY "
            "c.created_at, c.id) FROM xai.chat_sessions c WHERE c.user_id = $1::uuid), "
            "'[]'::jsonb))",
            1, p, &doc) != 0 ||
        !json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

int store_erase_user(struct svc *s, const char *user_id)
{
    const char *p[] = {user_id};
    /* chat sessions and messages go with their explanation (ON DELETE CASCADE); only an
     * explanation's owner opens a session about it */
    return db_query(s->db, "DELETE FROM xai.explanations WHERE user_id = $1::uuid", 1, p, NULL);
}
