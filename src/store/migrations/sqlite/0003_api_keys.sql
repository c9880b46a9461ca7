-- API keys: bearer tokens (`sbk_…`) the hub stores only as a SHA-256 hash.
CREATE TABLE api_keys (
  id         TEXT PRIMARY KEY,               -- key_<ULID>
  name       TEXT,
  hash       TEXT    NOT NULL UNIQUE,        -- hex SHA-256 of the whole token
  prefix     TEXT    NOT NULL,               -- first 8 characters of the token, for display
  scopes     TEXT    NOT NULL,               -- JSON array of scope strings
  created_at INTEGER NOT NULL,
  revoked_at INTEGER                         -- epoch ms, or NULL while active
);
CREATE INDEX api_keys_active ON api_keys (revoked_at);
