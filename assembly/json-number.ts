// JSON numbers: the value of a checked number literal as the nearest f64, rounded as JavaScript's
// Number() does.

// Decimal to double, correctly rounded (compiled only into filters that read numbers).
// The value is D x 10^e, D the significant digits. Up to 19 significant digits with a small
// exponent are exact in f64 arithmetic (Clinger's fast path). Other numbers start from an f64
// estimate (a few ulps off at most) and are corrected one ulp at a time by comparing D x 10^e with
// the halfway points around the estimate in exact big-integer arithmetic, so every number rounds
// like JavaScript's Number() does.

const MAX_DIGITS: i32 = 800; // a double's halfway points have at most 767 significant digits
const LIMBS: usize = 128; // 4096 bits: enough for the largest comparison (about 2700 bits)
const HIDDEN: u64 = 1 << 52;

// The significant digits of the number being converted are [digitsFrom, digitsTo) (a '.' among
// them is skipped); the value is those digits x 10^digitsExp.
let digitsFrom: usize = 0;
let digitsTo: usize = 0;
let digitsExp: i32 = 0;

/** The value of a checked JSON number literal of `len` bytes at `p`. */
export function numberFromText(p: usize, len: usize): f64 {
  const stop = p + len;
  const negative = load<u8>(p) == 0x2d;
  if (negative) p++;
  // The first 19 significant digits in m; nd counts them all; tail: a nonzero digit after the 19th.
  let m: u64 = 0;
  let nd = 0;
  let e10 = 0;
  let tail = false;
  let dot = false;
  for (; p < stop; p++) {
    const c = <u32>load<u8>(p);
    if (c == 0x2e) {
      dot = true;
      continue;
    }
    const d = c - 0x30;
    if (d >= 10) break;
    if (dot) e10--;
    if (nd == 0) {
      if (d == 0) continue;
      digitsFrom = p;
    }
    if (nd < 19) m = m * 10 + d;
    else if (d != 0) tail = true;
    nd++;
  }
  digitsTo = p;
  if (p < stop) {
    // e or E, an optional sign, digits.
    const expNegative = load<u8>(++p) == 0x2d;
    if (expNegative || load<u8>(p) == 0x2b) p++;
    let exp = 0;
    for (; p < stop; p++) {
      if (exp < 100000) exp = exp * 10 + <i32>(load<u8>(p) - 0x30);
    }
    e10 += expNegative ? -exp : exp;
  }
  digitsExp = e10;
  // m x 10^e is the value, give or take the digits after the 19th. In f64 arithmetic: exact operands
  // and one rounding when e is small (Clinger's fast path), otherwise an estimate a few roundings
  // away from the answer.
  let e = nd > 19 ? e10 + nd - 19 : e10;
  const exact = m == 0 || (!tail && m <= HIDDEN << 1 && e >= -22 && e <= 22);
  let n = <f64>m;
  for (; e > 22; e -= 22) n *= 1e22;
  for (; e < -22; e += 22) n /= 1e22;
  n = e >= 0 ? n * pow10(e) : n / pow10(-e);
  if (!exact) {
    if (e10 + nd > 310) n = Infinity; // at least 10^310
    else if (e10 + nd < -324) n = 0; // below 10^-324
    else {
      // Walk to the nearest double, one ulp at a time, comparing with the halfway points in exact
      // big-integer arithmetic (ties to even). Neighbouring doubles are neighbouring bit patterns,
      // binade and subnormal edges included.
      let bits = reinterpret<u64>(isFinite(n) ? n : f64.MAX_VALUE);
      while (true) {
        const up = compareWithHalfway(bits);
        if (up > 0 || (up == 0 && (bits & 1) != 0)) {
          bits++;
          if (up == 0 || bits == 0x7ff0000000000000) break; // a tie, or past the largest double
          continue;
        }
        if (bits == 0) break;
        const down = compareWithHalfway(bits - 1);
        if (down < 0 || (down == 0 && (bits & 1) != 0)) {
          bits--;
          if (down == 0) break;
          continue;
        }
        break;
      }
      n = reinterpret<f64>(bits);
    }
  }
  return negative ? -n : n;
}

function pow10(e: i32): f64 {
  let r: f64 = 1;
  for (; e > 0; e--) r *= 10; // exact up to 1e22
  return r;
}

/** Sign of (the number's digits x 10^digitsExp) - (the halfway point between `bits` and `bits` + 1). */
function compareWithHalfway(bits: u64): i32 {
  // The double is M x 2^k; the halfway point above it is (2M + 1) x 2^(k - 1).
  const be = <i32>(bits >> 52);
  let M = bits & (HIDDEN - 1);
  let k = -1074;
  if (be != 0) {
    M |= HIDDEN;
    k = be - 1075;
  }
  // D: at most MAX_DIGITS significant digits, then a sticky 1 for any nonzero digit cut off.
  bigSet(BIG_D, 0);
  let e = digitsExp;
  let count = 0;
  let sticky = false;
  for (let q = digitsFrom; q < digitsTo; q++) {
    const c = <u32>load<u8>(q);
    if (c == 0x2e) continue;
    if (count++ < MAX_DIGITS) bigMulAdd(BIG_D, 10, c - 0x30);
    else {
      e++;
      if (c != 0x30) sticky = true;
    }
  }
  if (sticky) {
    bigMulAdd(BIG_D, 10, 1);
    e--;
  }
  bigSet(BIG_H, (M << 1) + 1);
  // D x 5^e x 2^e against H x 2^(k - 1): the power of 5 goes to one side, the power of 2 to one side.
  if (e >= 0) bigMulPow5(BIG_D, e);
  else bigMulPow5(BIG_H, -e);
  const t = e - k + 1;
  if (t > 0) bigShl(BIG_D, t);
  else bigShl(BIG_H, -t);
  return bigCompare(BIG_D, BIG_H);
}

// Two big integers in static memory: a limb count, then LIMBS little-endian 32-bit limbs.
// @ts-ignore: decorator
@lazy const BIG_D: usize = memory.data(<i32>((LIMBS + 1) << 2), 4);
// @ts-ignore: decorator
@lazy const BIG_H: usize = memory.data(<i32>((LIMBS + 1) << 2), 4);

function bigSet(b: usize, v: u64): void {
  store<u64>(b, v, 4);
  store<i32>(b, v == 0 ? 0 : v >> 32 != 0 ? 2 : 1);
}

/** b = b * mul + add. */
function bigMulAdd(b: usize, mul: u32, add: u32): void {
  const n = load<i32>(b);
  let carry: u64 = add;
  let q = b + 4;
  const stop = q + (<usize>n << 2);
  for (; q < stop; q += 4) {
    const t = <u64>load<u32>(q) * mul + carry;
    store<u32>(q, <u32>t);
    carry = t >> 32;
  }
  if (carry != 0) {
    store<u32>(q, <u32>carry);
    store<i32>(b, n + 1);
  }
}

/** b = b * 5^e. */
function bigMulPow5(b: usize, e: i32): void {
  for (; e >= 13; e -= 13) bigMulAdd(b, 1220703125, 0);
  let m: u32 = 1;
  for (; e > 0; e--) m *= 5;
  bigMulAdd(b, m, 0);
}

/** b = b * 2^bits. */
function bigShl(b: usize, bits: i32): void {
  for (; bits >= 31; bits -= 31) bigMulAdd(b, <u32>1 << 31, 0);
  bigMulAdd(b, <u32>1 << bits, 0);
}

function bigCompare(a: usize, b: usize): i32 {
  let n = load<i32>(a);
  if (n != load<i32>(b)) return n > load<i32>(b) ? 1 : -1;
  while (n > 0) {
    const x = load<u32>(a + (<usize>n << 2));
    const y = load<u32>(b + (<usize>n << 2));
    if (x != y) return x > y ? 1 : -1;
    n--;
  }
  return 0;
}
