-- API keys. Only the SHA-256 of the secret is stored: a key is 256 random bits, so a fast
-- hash is enough (a slow KDF protects guessable passwords, not high-entropy secrets), and
-- it lets every request look its key up by an index. prefix is the non-secret start of
-- the key, shown in lists so people can tell their keys apart.
CREATE TABLE api_keys (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix              text NOT NULL CHECK (length(prefix) BETWEEN 4 AND 16),
    key_hash            text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    scopes              text[] NOT NULL CHECK (cardinality(scopes) BETWEEN 1 AND 8),
    requests_per_minute integer CHECK (requests_per_minute BETWEEN 1 AND 1000000),
    tokens_per_day      bigint CHECK (tokens_per_day BETWEEN 1 AND 1000000000000),
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_used_at        timestamptz,
    expires_at          timestamptz,
    revoked_at          timestamptz
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id, created_at DESC);
