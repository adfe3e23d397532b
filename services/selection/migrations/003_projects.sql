-- Projects (a user's dataset-selection workspace) and the per-domain ethical templates.
CREATE TABLE projects (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL,               -- the owner (a gateway user; no FK across services)
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    description  text,
    criteria     jsonb NOT NULL DEFAULT '{}', -- a canonical filter object (filters.c)
    weights      jsonb NOT NULL DEFAULT '[]', -- [{criterion_name, weight}], sum <= 1
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_user_idx ON projects (user_id, created_at);

-- Defaults for the ethical flags of imported datasets, per domain ('default' for the rest).
CREATE TABLE ethical_templates (
    domain                        text PRIMARY KEY CHECK (domain ~ '^[a-z0-9][a-z0-9_-]{0,127}$'),
    informed_consent              boolean NOT NULL,
    transparency                  boolean NOT NULL,
    user_control                  boolean NOT NULL,
    equity_non_discrimination     boolean NOT NULL,
    security_measures_in_place    boolean NOT NULL,
    data_quality_documented       boolean NOT NULL,
    anonymization_applied         boolean NOT NULL,
    record_keeping_policy_exists  boolean NOT NULL,
    purpose_limitation_respected  boolean NOT NULL,
    accountability_defined        boolean NOT NULL,
    representativity_level        text NOT NULL
                                  CHECK (representativity_level IN ('high', 'medium', 'low', 'unknown')),
    sample_balance_level          text NOT NULL
                                  CHECK (sample_balance_level IN
                                         ('balanced', 'moderate', 'imbalanced', 'severely_imbalanced')),
    updated_at                    timestamptz NOT NULL DEFAULT now()
);

-- IBIS-X datasets/kaggle-import/templates/ethical_defaults.yaml. Columns in order: consent,
-- transparency, user_control, equity, security, quality_documented, anonymization,
-- record_keeping, purpose_limitation, accountability, representativity, balance.
INSERT INTO ethical_templates VALUES
    ('default',      false, true, false, true, true, true, false, true, true, true, 'medium', 'balanced', now()),
    ('education',    true,  true, false, true, true, true, true,  true, true, true, 'medium', 'balanced', now()),
    ('social-media', true,  true, false, true, true, true, true,  true, true, true, 'medium', 'balanced', now()),
    ('healthcare',   true,  true, true,  true, true, true, true,  true, true, true, 'high',   'balanced', now()),
    ('finance',      false, true, false, true, true, true, true,  true, true, true, 'medium', 'balanced', now()),
    ('business',     false, true, false, true, true, true, true,  true, true, true, 'medium', 'balanced', now()),
    ('technology',   false, true, false, true, true, true, false, true, true, true, 'medium', 'balanced', now());
