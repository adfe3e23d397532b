-- Rate-limit budgets shared by gateway replicas: one GCRA bucket per name (class, limit
-- and identity). Replicas lease slices of a bucket (tat_us moves forward) and give unused
-- tokens back as credit; see services/gateway/src/limits.c. Times are the database's
-- clock in microseconds since the epoch, so replicas' clocks never need to agree.
CREATE TABLE rate_buckets (
    bucket     text PRIMARY KEY CHECK (length(bucket) <= 200),
    tat_us     bigint NOT NULL,
    credit     bigint NOT NULL DEFAULT 0 CHECK (credit >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rate_buckets_updated_idx ON rate_buckets (updated_at);

-- Failed sign-ins per account (hashed email) and per client address. Past a number of
-- free failures, further attempts wait until blocked_until.
CREATE TABLE login_failures (
    subject         text PRIMARY KEY CHECK (length(subject) <= 100),
    failures        integer NOT NULL CHECK (failures >= 0),
    last_failure_at timestamptz NOT NULL,
    blocked_until   timestamptz
);
