/** Sizes every event field is held to; each breach is a 400 naming the field and the limit. */
export const EVENT_LIMITS = Object.freeze({
  idLength: 200,
  typeLength: 256,
  sourceLength: 1024,
  subjectLength: 1024,
  keyLength: 256,
  attributeCount: 64,
  attributeNameLength: 128,
  attributeValueLength: 4096,
  idempotencyKeyLength: 200,
});
