-- Deployed models: a name with versions; the artifact is addressed by its SHA-256.
CREATE TABLE deployments (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL,
    name             text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    version          integer NOT NULL CHECK (version >= 1),
    experiment_id    uuid,
    artifact_sha256  text NOT NULL CHECK (artifact_sha256 ~ '^[0-9a-f]{64}$'),
    status           text NOT NULL DEFAULT 'loading' CHECK (status IN ('loading', 'ready', 'failed')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);
CREATE INDEX deployments_user_idx ON deployments (user_id, created_at DESC);
