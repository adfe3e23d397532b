-- A deployment name is the owner's: two users may both deploy "iris".
ALTER TABLE deployments DROP CONSTRAINT deployments_name_version_key;
ALTER TABLE deployments ADD CONSTRAINT deployments_user_name_version_key UNIQUE (user_id, name, version);
