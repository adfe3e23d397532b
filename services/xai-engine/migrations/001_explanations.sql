-- Explanation requests and their results.
CREATE TABLE explanations (
    id                uuid PRIMARY KEY,
    user_id           uuid NOT NULL,
    experiment_id     uuid NOT NULL,
    explanation_type  text NOT NULL CHECK (explanation_type IN ('global', 'local', 'feature_importance')),
    method            text NOT NULL CHECK (method IN ('shap', 'lime', 'permutation', 'pdp', 'auto')),
    audience_level    text NOT NULL CHECK (audience_level IN ('novice', 'intermediate', 'expert')),
    language          text NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'fr')),
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    progress          integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    result            jsonb,
    narrative         text,
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX explanations_user_idx ON explanations (user_id, created_at DESC);
