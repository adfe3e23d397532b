-- Experiments (training runs). The row is the truth about a run's state.
CREATE TABLE experiments (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL,
    project_id       uuid,
    dataset_id       uuid NOT NULL,
    target_column    text NOT NULL,
    task_type        text NOT NULL CHECK (task_type IN ('classification', 'regression')),
    algorithm        text NOT NULL,
    hyperparameters  jsonb NOT NULL DEFAULT '{}',
    preprocessing    jsonb NOT NULL DEFAULT '{}',
    test_size        double precision NOT NULL DEFAULT 0.2 CHECK (test_size > 0 AND test_size < 1),
    random_state     integer NOT NULL DEFAULT 42,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    progress         integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    stage            text,
    error            text,
    model_sha256     text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX experiments_user_idx ON experiments (user_id, created_at DESC);
