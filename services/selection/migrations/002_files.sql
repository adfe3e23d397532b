-- Files of a dataset, their profiled columns, and the cached quality reports.
ALTER TABLE datasets ADD COLUMN version text;                    -- SHA-256 over the files' content hashes
ALTER TABLE datasets ADD COLUMN missing_values_description text;
ALTER TABLE datasets ADD COLUMN data_errors_description text;

CREATE TABLE dataset_files (
    id                 uuid PRIMARY KEY,
    dataset_id         uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    position           integer NOT NULL CHECK (position >= 0),
    original_filename  text NOT NULL CHECK (length(original_filename) BETWEEN 1 AND 255),
    format             text NOT NULL CHECK (format IN ('csv', 'tsv', 'json', 'jsonl')),
    media_type         text NOT NULL,
    logical_role       text NOT NULL DEFAULT 'data_file'
                       CHECK (logical_role IN ('data_file', 'training_data', 'test_data', 'metadata')),
    size_bytes         bigint NOT NULL CHECK (size_bytes >= 0),
    row_count          bigint NOT NULL CHECK (row_count >= 0),
    column_count       integer NOT NULL CHECK (column_count >= 0),
    blob_id            text NOT NULL CHECK (blob_id ~ '^[0-9a-f]{64}$'),   -- the original bytes
    columnar_blob_id   text NOT NULL CHECK (columnar_blob_id ~ '^[0-9a-f]{64}$'), -- the typed copy
    profile            jsonb NOT NULL DEFAULT '{}',  -- file-level profile: format, correlations, ...
    description        text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (dataset_id, position)
);
CREATE INDEX dataset_files_blob_idx ON dataset_files (blob_id);
CREATE INDEX dataset_files_columnar_idx ON dataset_files (columnar_blob_id);

CREATE TABLE file_columns (
    id                        uuid PRIMARY KEY,
    file_id                   uuid NOT NULL REFERENCES dataset_files(id) ON DELETE CASCADE,
    position                  integer NOT NULL CHECK (position >= 0),
    name                      text NOT NULL,
    data_type_interpreted     text NOT NULL CHECK (data_type_interpreted IN
                              ('numerical_integer', 'numerical_float', 'boolean', 'temporal',
                               'categorical', 'text')),
    is_nullable               boolean NOT NULL,
    is_pii                    boolean NOT NULL DEFAULT false,
    is_primary_key_component  boolean NOT NULL DEFAULT false,
    description               text,
    example_values            text[] NOT NULL DEFAULT '{}',
    stats                     jsonb NOT NULL DEFAULT '{}',
    UNIQUE (file_id, position)
);
CREATE INDEX file_columns_name_idx ON file_columns (lower(name));

-- GET /datasets/{id}/quality, cached by dataset version (content hash)
CREATE TABLE quality_reports (
    version     text PRIMARY KEY,
    report      jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
