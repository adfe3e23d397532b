-- Quotas: one counter per scope (a user, or an API key for its own token limit), kind
-- and period (the UTC month for pipeline runs, the UTC day for LLM tokens). used comes
-- from settled usage events, reserved from admissions not settled yet.
CREATE TABLE quota_counters (
    scope_id     uuid NOT NULL,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('pipeline_run', 'llm_tokens')),
    period_start timestamptz NOT NULL,
    used         bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
    reserved     bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    PRIMARY KEY (scope_id, kind, period_start)
);
CREATE INDEX quota_counters_user_idx ON quota_counters (user_id);

-- Admissions waiting for their usage event (matched by request id) or for expiry.
CREATE TABLE quota_reservations (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('pipeline_run', 'llm_tokens')),
    period_start timestamptz NOT NULL,
    amount       bigint NOT NULL CHECK (amount > 0),
    request_id   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX quota_reservations_request_idx ON quota_reservations (request_id);
CREATE INDEX quota_reservations_expires_idx ON quota_reservations (expires_at);

-- Every usage event once (event_key: the event's event_id, else its request id and
-- kind), for idempotent settlement and the /usage aggregates.
CREATE TABLE usage_ledger (
    event_key         text PRIMARY KEY,
    request_id        text NOT NULL,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_id            uuid,
    model             text,
    kind              text NOT NULL CHECK (kind IN ('llm', 'pipeline_run')),
    prompt_tokens     bigint NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens bigint NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    runs              integer NOT NULL DEFAULT 0 CHECK (runs >= 0),
    at                timestamptz NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_ledger_user_at_idx ON usage_ledger (user_id, at);
