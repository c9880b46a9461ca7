import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford base32: sorts the same as the numbers it encodes

let lastMs = -1;
/** The random part of the last ULID as 16 base32 digits (80 bits, 5 at a time, most significant first). */
const lastDigits = new Uint8Array(16);
/** The characters of `lastDigits[0..14]`, or undefined when they changed: within a millisecond only the last changes, but every 32nd time. */
let head: string | undefined;

/**
 * A ULID: 10 characters of millisecond time then 16 of randomness, monotonic within one process (ids made in
 * the same millisecond increment the random part), so ids sort by creation time as strings.
 */
export function ulid(now: number = Date.now()): string {
  if (now <= lastMs) {
    // Same (or earlier: clock stepped back) millisecond: keep the last time and add one to the 80-bit random part,
    // digit by digit (a number of all ones wraps to zero).
    let i = 15;
    while (i >= 0 && lastDigits[i] === 31) lastDigits[i--] = 0;
    if (i >= 0) lastDigits[i]!++;
    if (i < 15) head = undefined;
  } else {
    lastMs = now;
    toDigits(nextRandom10(), lastDigits);
    head = undefined;
  }
  if (lastMs !== prefixMs) {
    prefixMs = lastMs;
    prefix = encodeTime(lastMs);
  }
  head ??= encodeDigits(lastDigits, 15);
  return prefix + head + ALPHABET[lastDigits[15]!]!;
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

/** 80 bits → 16 base32 digits, 5 bits at a time, into `out`. */
function toDigits(bytes: Uint8Array, out: Uint8Array): void {
  let buffer = 0;
  let bits = 0;
  let d = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[d++] = (buffer >> bits) & 31;
    }
    buffer &= (1 << bits) - 1;
  }
}

/** The characters of the first `count` digits. */
function encodeDigits(digits: Uint8Array, count: number): string {
  let out = "";
  for (let i = 0; i < count; i++) out += ALPHABET[digits[i]!];
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
