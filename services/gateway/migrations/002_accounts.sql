-- The admin listing pages through accounts in creation order.
CREATE INDEX users_created_idx ON users (created_at, id);
