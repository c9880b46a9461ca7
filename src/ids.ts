import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford base32: sorts the same as the numbers it encodes

let lastMs = -1;
const lastRandom = new Uint8Array(10);

/**
 * A ULID: 10 characters of millisecond time then 16 of randomness, monotonic within one process (ids made in
 * the same millisecond increment the random part), so ids sort by creation time as strings.
 */
export function ulid(now: number = Date.now()): string {
  if (now <= lastMs) {
    // Same (or earlier: clock stepped back) millisecond: keep the last time and increment the random part.
    for (let i = lastRandom.length - 1; i >= 0; i--) {
      if (lastRandom[i] !== 0xff) {
        lastRandom[i]!++;
        break;
      }
      lastRandom[i] = 0;
    }
  } else {
    lastMs = now;
    lastRandom.set(nextRandom10());
  }
  if (lastMs !== prefixMs) {
    prefixMs = lastMs;
    prefix = encodeTime(lastMs);
  }
  return prefix + encodeRandom(lastRandom);
}

// The time part changes once a millisecond; ids made within one reuse it.
let prefixMs = -1;
let prefix = "";

// randomBytes costs a call into OpenSSL each time; draw 10 bytes at a time from a 4 KiB pool instead.
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;

function nextRandom10(): Uint8Array {
  return drawRandom(10);
}

/** `bytes` random bytes from the pool (at most {@link POOL_SIZE}); a view, valid until the next draw refills it. */
function drawRandom(bytes: number): Buffer {
  if (poolOffset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const slice = pool.subarray(poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return slice;
}

/** `bytes` random bytes as lowercase hex, drawn from the same pool as ULIDs (trace and span ids need no more). */
export function randomHex(bytes: number): string {
  return drawRandom(bytes).toString("hex");
}

function encodeTime(ms: number): string {
  let out = "";
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits → 16 base32 characters, 5 bits at a time.
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

/** The millisecond time inside a ULID (or a prefixed id such as `evt_…`), or undefined if it is not one. */
export function ulidTime(id: string): number | undefined {
  const body = id.includes("_") ? id.slice(id.lastIndexOf("_") + 1) : id;
  if (!/^[0-9A-HJKMNP-TV-Z]{26}$/.test(body)) return undefined;
  let ms = 0;
  for (let i = 0; i < 10; i++) ms = ms * 32 + ALPHABET.indexOf(body[i]!);
  return ms;
}

/** A new event id: `evt_` and a ULID. */
export function newEventId(now?: number): string {
  return `evt_${ulid(now)}`;
}

/** A new prefixed id such as `sub_…` or `dlv_…`: the prefix, an underscore and a ULID. */
export function newPrefixedId(prefix: string, now?: number): string {
  return `${prefix}_${ulid(now)}`;
}
