-- API keys: bearer tokens (`sbk_…`) the hub stores only as a SHA-256 hash.
CREATE TABLE api_keys (
  id         text COLLATE "C" PRIMARY KEY,       -- key_<ULID>
  name       text,
  hash       text   NOT NULL UNIQUE,             -- hex SHA-256 of the whole token
  prefix     text   NOT NULL,                    -- first 8 characters of the token, for display
  scopes     jsonb  NOT NULL,                    -- array of scope strings
  created_at bigint NOT NULL,
  revoked_at bigint                              -- epoch ms, or NULL while active
);
CREATE INDEX api_keys_active ON api_keys (revoked_at);
