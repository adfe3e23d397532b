-- Experiments as runs: where the data came from, the worker's claim and lease, the
-- outcome (model artifact, results, timings) and duplicate-submission protection.
ALTER TABLE experiments
    ADD COLUMN owner_role       text NOT NULL DEFAULT 'user',
    ADD COLUMN dataset_version  text,
    ADD COLUMN task_type_reason text,
    ADD COLUMN cv_folds         integer CHECK (cv_folds IS NULL OR cv_folds BETWEEN 2 AND 20),
    ADD COLUMN worker_id        text,
    ADD COLUMN heartbeat_at     timestamptz,
    ADD COLUMN attempts         integer NOT NULL DEFAULT 0,
    ADD COLUMN published_at     timestamptz,
    ADD COLUMN results          jsonb,
    ADD COLUMN timings          jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN idempotency_key  text,
    ADD COLUMN request_hash     text,
    ADD COLUMN started_at       timestamptz,
    ADD COLUMN finished_at      timestamptz;

-- One experiment per (user, Idempotency-Key).
CREATE UNIQUE INDEX experiments_idem_idx ON experiments (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- The per-user limit on pending and running runs.
CREATE INDEX experiments_active_idx ON experiments (user_id)
    WHERE status IN ('pending', 'running');
-- The reaper and the re-publisher scan these.
CREATE INDEX experiments_running_idx ON experiments (heartbeat_at) WHERE status = 'running';
CREATE INDEX experiments_pending_idx ON experiments (published_at) WHERE status = 'pending';
-- Artifact references (a model shared by two runs is released with the last one).
CREATE INDEX experiments_model_idx ON experiments (model_sha256) WHERE model_sha256 IS NOT NULL;
