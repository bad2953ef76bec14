// The host's clock. Real by default; a VirtualClock lets a test move time itself: the filter's
// proxy_get_current_time_nanoseconds and WASI clocks read it, ticks fire as it passes their period,
// and callouts time out or get a late answer when it reaches them (Host.advanceTime).

/** What the host reads time from. */
export interface Clock {
  /** Wall-clock time in milliseconds since the epoch (may have a fraction). */
  nowMs(): number;
  /** Wall-clock time in nanoseconds since the epoch. */
  nowNs(): bigint;
  /** Monotonic time in nanoseconds since the clock started. */
  monotonicNs(): bigint;
}

const MONO_ORIGIN = process.hrtime.bigint();

/** The machine's clock. */
export const realClock: Clock = {
  nowMs: () => Date.now(),
  nowNs: () => BigInt(Date.now()) * 1_000_000n,
  monotonicNs: () => process.hrtime.bigint() - MONO_ORIGIN,
};

/** Something due at a time: the earliest one runs first (ties in the order they were scheduled). */
export interface DueWork {
  at: number;
  run(): void;
}

/** A clock that moves only when told to. */
export class VirtualClock implements Clock {
  private now: number;
  private readonly origin: number;
  private seq = 0;
  private queue: Array<DueWork & { seq: number }> = [];

  /** Starts at `startMs` (default 2026-01-01T00:00:00Z). */
  constructor(startMs = Date.UTC(2026, 0, 1)) {
    if (!Number.isFinite(startMs) || startMs < 0) throw new RangeError(`a virtual clock starts at a time >= 0 in ms, not ${startMs}`);
    this.now = startMs;
    this.origin = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  nowNs(): bigint {
    return BigInt(Math.round(this.now * 1e6));
  }

  monotonicNs(): bigint {
    return BigInt(Math.round((this.now - this.origin) * 1e6));
  }

  /** Runs `run` when the clock reaches `atMs`. Returns a function that cancels it. */
  schedule(atMs: number, run: () => void): () => void {
    const item = { at: atMs, run, seq: this.seq++ };
    this.queue.push(item);
    return () => {
      this.queue = this.queue.filter((q) => q !== item);
    };
  }

  /**
   * Moves the clock to `targetMs`, running scheduled work and what `more` says is due (ticks) in time
   * order, each with the clock at its own time. Returns how many ran.
   */
  advanceTo(targetMs: number, more: () => DueWork | null = () => null): number {
    let ran = 0;
    for (;;) {
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const scheduled = this.queue[0];
      const other = more();
      const next = scheduled && (!other || scheduled.at <= other.at) ? scheduled : other;
      if (!next || next.at > targetMs) break;
      if (next === scheduled) this.queue.shift();
      this.now = Math.max(this.now, next.at);
      next.run();
      ran++;
    }
    this.now = Math.max(this.now, targetMs);
    return ran;
  }
}
