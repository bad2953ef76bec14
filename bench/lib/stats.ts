// Small numeric helpers for the bench: medians and human-readable numbers.

/** The median of a non-empty list (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of an empty list");
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** A ratio a/b, or NaN when b is not positive (so it prints as "n/a"). */
export function ratio(a: number, b: number): number {
  return b > 0 && Number.isFinite(a) ? a / b : NaN;
}

/** 12345 -> "12,345". */
export function int(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a";
}

/** Fixed decimals, "n/a" for NaN. */
export function fixed(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

/** A ratio as "0.23×". */
export function times(n: number, digits = 2): string {
  return Number.isFinite(n) ? `${n.toFixed(digits)}×` : "n/a";
}

/** Nanoseconds, rounded to 10 ns above 1 µs. */
export function ns(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  return n >= 1000 ? int(Math.round(n / 10) * 10) : int(n);
}

/** Bytes as "5,126 B". */
export function bytes(n: number): string {
  return Number.isFinite(n) ? `${int(n)} B` : "n/a";
}

/** The p-th percentile (0..100) by nearest rank; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))];
}
