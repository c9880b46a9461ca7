-- Rotating a subscription's signing secret keeps the previous one signing too until previous_secret_until (epoch
-- ms), so receivers can switch at their pace: each attempt carries both signatures meanwhile.
ALTER TABLE subscriptions ADD COLUMN previous_secret TEXT;
ALTER TABLE subscriptions ADD COLUMN previous_secret_until BIGINT;
