-- Explanations as runs (the request as checked, the method chosen and why, the worker's
-- claim and lease, progress, the result bytes and the narratives, duplicate-submission
-- protection, timings) and chat sessions with their messages.
ALTER TABLE explanations DROP CONSTRAINT explanations_status_check;
ALTER TABLE explanations ADD CONSTRAINT explanations_status_check
    CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled'));
-- The result is served byte for byte (the same request gives the same bytes): text, not
-- jsonb, which would reorder keys and reformat numbers.
ALTER TABLE explanations ALTER COLUMN result TYPE text USING result::text;
ALTER TABLE explanations
    ADD COLUMN owner_role      text NOT NULL DEFAULT 'user',
    ADD COLUMN audience_source text NOT NULL DEFAULT 'request'
                               CHECK (audience_source IN ('request', 'profile', 'default')),
    ADD COLUMN stage           text NOT NULL DEFAULT 'queued',
    ADD COLUMN method_used     text CHECK (method_used IN ('tree_shap', 'linear_shap',
                               'kernel_shap', 'lime', 'permutation', 'pdp')),
    ADD COLUMN method_reason   text,
    ADD COLUMN algorithm       text,
    ADD COLUMN task_type       text,
    ADD COLUMN instance        jsonb,
    ADD COLUMN instance_index  integer CHECK (instance_index >= 0),
    ADD COLUMN options         jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN seed            bigint NOT NULL DEFAULT 0,
    ADD COLUMN dataset_id      uuid,
    ADD COLUMN dataset_version text,
    ADD COLUMN model_sha256    text,
    ADD COLUMN result_sha256   text,
    ADD COLUMN narratives      jsonb,
    ADD COLUMN worker_id       text,
    ADD COLUMN heartbeat_at    timestamptz,
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
    ADD COLUMN published_at    timestamptz,
    ADD COLUMN idempotency_key text,
    ADD COLUMN request_hash    text,
    ADD COLUMN timings         jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN started_at      timestamptz,
    ADD COLUMN finished_at     timestamptz;

-- One explanation per (user, Idempotency-Key).
CREATE UNIQUE INDEX explanations_idem_idx ON explanations (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- The per-user limit on pending and running explanations.
CREATE INDEX explanations_active_idx ON explanations (user_id)
    WHERE status IN ('pending', 'running');
-- The reaper and the re-publisher scan these.
CREATE INDEX explanations_running_idx ON explanations (heartbeat_at) WHERE status = 'running';
CREATE INDEX explanations_pending_idx ON explanations (published_at) WHERE status = 'pending';

-- What GET /explanations lists (no result bytes, no narratives).
CREATE VIEW explanation_list AS
    SELECT id, user_id, experiment_id, explanation_type, method, method_used, audience_level,
           language, status, progress, stage, error, created_at, updated_at, finished_at
    FROM explanations;

-- A chat about one explanation: one session per explanation and user, at most
-- max_questions answered questions (questions_count also holds those being answered).
CREATE TABLE chat_sessions (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    explanation_id  uuid NOT NULL REFERENCES explanations (id) ON DELETE CASCADE,
    language        text NOT NULL CHECK (language IN ('en', 'fr')),
    audience_level  text NOT NULL CHECK (audience_level IN ('novice', 'intermediate', 'expert')),
    max_questions   integer NOT NULL CHECK (max_questions BETWEEN 1 AND 100),
    questions_count integer NOT NULL DEFAULT 0 CHECK (questions_count >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_activity   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (explanation_id, user_id)
);
CREATE INDEX chat_sessions_user_idx ON chat_sessions (user_id);

CREATE TABLE chat_messages (
    id          uuid PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL,
    seq         integer NOT NULL,
    role        text NOT NULL CHECK (role IN ('user', 'assistant')),
    content     text NOT NULL,
    model       text,
    tokens_used integer,
    response_ms integer,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, seq)
);
CREATE INDEX chat_messages_user_idx ON chat_messages (user_id);
