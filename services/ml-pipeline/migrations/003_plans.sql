-- Pipeline plans: a DAG of steps (load, preprocess, train, evaluate, compare) run by a
-- worker, each step's output cached by the hash of its inputs and configuration.
CREATE TABLE plans (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL,
    owner_role       text NOT NULL DEFAULT 'user',
    name             text,
    dataset_id       uuid NOT NULL,
    dataset_version  text,
    target_column    text NOT NULL,
    task_type        text CHECK (task_type IN ('classification', 'regression')),
    task_type_reason jsonb,
    spec             jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    error            text,
    worker_id        text,
    heartbeat_at     timestamptz,
    attempts         integer NOT NULL DEFAULT 0,
    published_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plans_user_idx ON plans (user_id, created_at DESC);
CREATE INDEX plans_running_idx ON plans (heartbeat_at) WHERE status = 'running';
CREATE INDEX plans_pending_idx ON plans (published_at) WHERE status = 'pending';

-- One row per step: its state, timing, cache outcome and output artifact.
CREATE TABLE plan_steps (
    plan_id        uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    step_id        text NOT NULL,
    position       integer NOT NULL,
    type           text NOT NULL
                   CHECK (type IN ('load', 'preprocess', 'train', 'evaluate', 'compare')),
    depends_on     jsonb NOT NULL DEFAULT '[]',
    level          integer NOT NULL,
    retries        integer NOT NULL DEFAULT 0,
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'running', 'completed', 'failed', 'skipped',
                                     'cancelled')),
    attempts       integer NOT NULL DEFAULT 0,
    cache_key      text,
    cache_hit      boolean,
    output_sha256  text,
    result         jsonb,
    error          text,
    started_at     timestamptz,
    finished_at    timestamptz,
    duration_ms    double precision,
    PRIMARY KEY (plan_id, step_id)
);
CREATE INDEX plan_steps_output_idx ON plan_steps (output_sha256) WHERE output_sha256 IS NOT NULL;

-- The step cache: a step's key (SHA-256 of its type, canonical configuration and input
-- hashes) -> the artifact it produced and the summary a step shows (metrics, ranking).
-- Per user, so erasing a user erases their cache.
CREATE TABLE plan_cache (
    user_id        uuid NOT NULL,
    cache_key      text NOT NULL,
    step_type      text NOT NULL,
    output_sha256  text NOT NULL,
    media_type     text NOT NULL,
    result         jsonb,
    hits           bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_hit_at    timestamptz,
    PRIMARY KEY (user_id, cache_key)
);
CREATE INDEX plan_cache_output_idx ON plan_cache (output_sha256);

-- What GET /pipelines lists (one line per plan, newest first).
CREATE VIEW plan_list AS
SELECT p.id, p.user_id, p.name, p.dataset_id, p.target_column, p.task_type, p.status, p.error,
       p.created_at, p.started_at, p.finished_at, p.updated_at,
       (SELECT count(*) FROM plan_steps st WHERE st.plan_id = p.id) AS steps,
       (SELECT count(*) FROM plan_steps st WHERE st.plan_id = p.id
          AND st.status = 'completed') AS steps_completed,
       (SELECT count(*) FROM plan_steps st WHERE st.plan_id = p.id AND st.cache_hit) AS cache_hits
FROM plans p;
