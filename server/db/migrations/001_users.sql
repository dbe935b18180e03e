-- People who use Carillon (administrators, supervisors, agents) and their login sessions.
CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    login         text NOT NULL UNIQUE
                  CHECK (login ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    display_name  text NOT NULL CHECK (length(display_name) <= 128),
    role          text NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    password_hash text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Session tokens are never stored: only their SHA-256.
CREATE TABLE sessions (
    token_sha256 text PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    peer         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Who did what to whom; every later feature appends here.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor_id   bigint REFERENCES users(id),
    action     text NOT NULL,
    subject    text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}'
);
