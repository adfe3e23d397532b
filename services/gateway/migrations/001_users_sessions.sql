-- Accounts and refresh-token sessions owned by the gateway.
CREATE TABLE users (
    id              uuid PRIMARY KEY,
    email           text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash   text NOT NULL,
    display_name    text CHECK (display_name IS NULL OR length(display_name) <= 100),
    role            text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'contributor', 'admin')),
    is_active       boolean NOT NULL DEFAULT true,
    locale          text NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'fr')),
    education_level text CHECK (education_level IN ('no_formal', 'high_school', 'bachelor',
                                'master', 'phd', 'engineer', 'other')),
    age             integer CHECK (age BETWEEN 13 AND 120),
    ai_familiarity  integer CHECK (ai_familiarity BETWEEN 1 AND 5),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- One row per refresh token. A refresh rotates the token inside its family; presenting a
-- token that was already rotated revokes the whole family.
CREATE TABLE sessions (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id    uuid NOT NULL,
    token_hash   text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    rotated_at   timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_family_idx ON sessions (family_id);
