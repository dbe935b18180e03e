-- Contact filters a user saves under a name, to use again as @name.
CREATE TABLE saved_filters (
    user_id    bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
    expression text NOT NULL CHECK (length(expression) <= 4096),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, name)
);
