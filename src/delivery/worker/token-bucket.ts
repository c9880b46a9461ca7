/** A rate limit of `rate` attempts a second, in bursts of up to `max(1, rate)`; null: unlimited. Time passed in. */
export class TokenBucket {
  private readonly rate: number | null;
  private tokens: number;
  private at: number;

  constructor(rate: number | null, now: number) {
    this.rate = rate;
    this.tokens = rate ?? 0;
    this.at = now;
  }

  /** Takes a token if one is there at `now`. */
  take(now: number): boolean {
    const rate = this.rate;
    if (rate === null) return true;
    this.tokens = Math.min(Math.max(1, rate), this.tokens + ((now - this.at) * rate) / 1000);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Gives back a token taken for an attempt that could not start. */
  giveBack(): void {
    if (this.rate !== null) this.tokens += 1;
  }

  /** When the next token comes, if the bucket is empty at `now`; undefined when a token is there or unlimited. */
  nextTokenAt(now: number): number | undefined {
    if (this.rate === null || this.tokens >= 1) return undefined;
    return now + Math.ceil(((1 - this.tokens) * 1000) / this.rate);
  }
}
