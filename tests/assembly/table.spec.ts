// The id tables: IdTable (table.ts, open addressing with backward-shift deletion; callouts by token)
// and the context table in contexts.ts (buckets chained through each context's __sdkNext field).
import { IdTable } from "../../assembly/table";
import { contexts } from "../../assembly/contexts";
import { Context } from "../../assembly/context";

// Deterministic PRNG (xorshift32).
let seed: u32 = 0x9e3779b9;
function rand(): u32 {
  let x = seed;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  seed = x;
  return x;
}

/**
 * `n` ids whose home slot is `home` in a table of `mask + 1` slots. This mirrors IdTable's hash
 * (Fibonacci hashing, table.ts slotOf) only to build colliding inputs; the assertions are about
 * behaviour, so they stay valid if the hash changes (they would just collide less).
 */
function idsWithHome(home: u32, mask: u32, n: i32, from: u32 = 1): u32[] {
  const out: u32[] = [];
  for (let id = from; out.length < n; id++) {
    if (((id * 0x9e3779b1) & mask) == home) out.push(id);
  }
  return out;
}

function expectAll(t: IdTable<u64>, ids: u32[]): void {
  for (let i = 0; i < ids.length; i++) {
    expect(t.has(ids[i])).toBe(true, "id " + ids[i].toString() + " lost");
    expect(t.get(ids[i])).toBe(<u64>ids[i] * 10, "id " + ids[i].toString() + " has a wrong value");
  }
}

// Loops with thousands of checks collect the first failure and assert once (as-pect's expect() is
// slow enough to matter at that scale).
let firstFailure: string | null = null;
function check(ok: bool, what: string): void {
  if (!ok && firstFailure === null) firstFailure = what;
}
function expectNoFailure(): void {
  const f = firstFailure;
  firstFailure = null;
  expect(f).toBeNull();
}

function fill(t: IdTable<u64>, ids: u32[]): void {
  for (let i = 0; i < ids.length; i++) t.set(ids[i], <u64>ids[i] * 10);
}

describe("IdTable", () => {
  test("set, get, overwrite and delete", () => {
    const t = new IdTable<u64>();
    expect(t.size).toBe(0);
    expect(t.get(7)).toBe(0);
    expect(t.has(7)).toBe(false);
    t.set(7, 70);
    t.set(8, 80);
    expect(t.size).toBe(2);
    expect(t.get(7)).toBe(70);
    t.set(7, 71);
    expect(t.size).toBe(2);
    expect(t.get(7)).toBe(71);
    expect(t.delete(7)).toBe(71);
    expect(t.size).toBe(1);
    expect(t.has(7)).toBe(false);
    expect(t.get(7)).toBe(0);
    expect(t.delete(7)).toBe(0); // already gone
    expect(t.size).toBe(1);
    expect(t.get(8)).toBe(80);
  });

  test("id 0 is ignored: never stored, never found", () => {
    const t = new IdTable<u64>();
    t.set(0, 5);
    expect(t.size).toBe(0);
    expect(t.has(0)).toBe(false);
    expect(t.get(0)).toBe(0);
    expect(t.delete(0)).toBe(0);
    t.set(1, 10);
    expect(t.has(0)).toBe(false);
    expect(t.size).toBe(1);
  });

  test("reference values: a missing id gives null", () => {
    const t = new IdTable<Context>();
    const c = new Context(3);
    t.set(3, c);
    expect(t.get(3) === c).toBe(true);
    expect(changetype<usize>(t.get(4))).toBe(0);
    expect(t.delete(3) === c).toBe(true);
    expect(changetype<usize>(t.get(3))).toBe(0);
  });

  test("ids with the same home slot are all found (collisions)", () => {
    const t = new IdTable<u64>();
    const ids = idsWithHome(3, 15, 6);
    fill(t, ids);
    expect(t.size).toBe(6);
    expectAll(t, ids);
  });

  test("deleting from the head and the middle of a probe chain keeps the rest reachable", () => {
    const t = new IdTable<u64>();
    const a = idsWithHome(3, 15, 3); // slots 3, 4, 5
    const b = idsWithHome(4, 15, 1); // home 4, lands in slot 6
    fill(t, a);
    fill(t, b);
    expect(t.delete(a[0])).toBe(<u64>a[0] * 10); // head of the chain
    expect(t.has(a[0])).toBe(false);
    expectAll(t, [a[1], a[2], b[0]]);
    expect(t.delete(a[2])).toBe(<u64>a[2] * 10); // middle
    expectAll(t, [a[1], b[0]]);
    expect(t.has(a[2])).toBe(false);
    expect(t.size).toBe(2);
  });

  test("an entry sitting in its home slot is not moved into a hole before it", () => {
    const t = new IdTable<u64>();
    const a = idsWithHome(3, 15, 3);
    const e = idsWithHome(5, 15, 1);
    t.set(a[0], <u64>a[0] * 10); // slot 3
    t.set(a[1], <u64>a[1] * 10); // slot 4
    t.set(e[0], <u64>e[0] * 10); // slot 5 (its home)
    t.set(a[2], <u64>a[2] * 10); // slot 6
    t.delete(a[1]);
    expectAll(t, [a[0], e[0], a[2]]);
    t.delete(e[0]);
    expectAll(t, [a[0], a[2]]);
    t.delete(a[0]);
    expectAll(t, [a[2]]);
    expect(t.size).toBe(1);
  });

  test("chains that wrap around the end of the table", () => {
    const t = new IdTable<u64>();
    const c = idsWithHome(15, 15, 3); // slots 15, 0, 1
    const d = idsWithHome(0, 15, 2); // home 0: slots 2, 3
    fill(t, c);
    fill(t, d);
    t.delete(c[0]);
    expectAll(t, [c[1], c[2], d[0], d[1]]);
    t.delete(d[0]);
    expectAll(t, [c[1], c[2], d[1]]);
    t.set(c[0], <u64>c[0] * 10);
    expectAll(t, [c[0], c[1], c[2], d[1]]);
    expect(t.size).toBe(4);
  });

  test("grows past its initial 16 slots and keeps every entry", () => {
    const t = new IdTable<u64>();
    const ids: u32[] = [];
    for (let i: u32 = 1; i <= 3000; i++) ids.push(i * 4 + (i & 1 ? 0x10000 : 0)); // tokens like Envoy's, and others
    fill(t, ids);
    expect(t.size).toBe(3000);
    for (let i = 0; i < ids.length; i++) check(t.get(ids[i]) == <u64>ids[i] * 10, "id " + ids[i].toString() + " lost");
    expectNoFailure();
    for (let i = 0; i < ids.length; i += 2) t.delete(ids[i]);
    expect(t.size).toBe(1500);
    for (let i = 0; i < ids.length; i++) check(t.has(ids[i]) == ((i & 1) == 1), "id " + ids[i].toString() + " after deletes");
    expectNoFailure();
  });

  test("20000 random set/delete/get operations agree with Map", () => {
    const t = new IdTable<u64>();
    const ref = new Map<u32, u64>();
    for (let op = 0; op < 20000; op++) {
      const r = rand();
      const id = (r >> 8) % 200; // a small key range: many collisions, deletes and re-inserts (0 included)
      const v = <u64>rand();
      switch (r & 3) {
        case 0:
        case 1:
          t.set(id, v);
          if (id != 0) ref.set(id, v);
          break;
        case 2: {
          const want: u64 = ref.has(id) ? ref.get(id) : 0;
          check(t.delete(id) == want, "delete(" + id.toString() + ") at op " + op.toString());
          ref.delete(id);
          break;
        }
        default:
          check(t.get(id) == (ref.has(id) ? ref.get(id) : 0), "get(" + id.toString() + ") at op " + op.toString());
      }
      if (op % 500 == 499) {
        check(t.size == <u32>ref.size, "size at op " + op.toString());
        for (let k: u32 = 0; k < 200; k++) {
          check(t.has(k) == ref.has(k) && (!ref.has(k) || t.get(k) == ref.get(k)), "id " + k.toString() + " at op " + op.toString());
        }
      }
    }
    expectNoFailure();
  });
});

function ctx(id: u32): Context {
  return new Context(id);
}

describe("context table (registry.ts)", () => {
  test("contexts that share a bucket: delete the middle, the head, then the tail", () => {
    // 5, 69 and 133 share bucket 5 of the initial 64.
    const a = ctx(5);
    const b = ctx(69);
    const c = ctx(133);
    contexts.set<Context>(a);
    contexts.set<Context>(b);
    contexts.set<Context>(c);
    expect(contexts.size).toBe(3);
    expect(contexts.get<Context>(69) === b).toBe(true);
    contexts.take<Context>(69);
    expect(contexts.get<Context>(69)).toBeNull();
    expect(b.__sdkNext).toBeNull();
    expect(contexts.get<Context>(5) === a).toBe(true);
    expect(contexts.get<Context>(133) === c).toBe(true);
    contexts.take<Context>(133);
    expect(contexts.get<Context>(133)).toBeNull();
    expect(contexts.get<Context>(5) === a).toBe(true);
    contexts.take<Context>(5);
    expect(contexts.get<Context>(5)).toBeNull();
    expect(contexts.size).toBe(0);
  });

  test("deleting an unknown id changes nothing", () => {
    contexts.set<Context>(ctx(10));
    contexts.take<Context>(74); // same bucket, not there
    contexts.take<Context>(11);
    expect(contexts.size).toBe(1);
    expect(contexts.get<Context>(10)).not.toBeNull();
    contexts.take<Context>(10);
    expect(contexts.size).toBe(0);
  });

  test("2000 contexts: growth, then deletes in random order", () => {
    const ids: u32[] = [];
    for (let i: u32 = 0; i < 1500; i++) ids.push(2 + i); // sequential, as Envoy hands them out
    for (let i: u32 = 0; i < 500; i++) ids.push(100000 + i * 64); // all in one initial bucket
    for (let i = 0; i < ids.length; i++) contexts.set<Context>(ctx(ids[i]));
    expect(contexts.size).toBe(2000);
    for (let i = 0; i < ids.length; i++) {
      const c = contexts.get<Context>(ids[i]);
      check(c !== null && c.contextId == ids[i], "context " + ids[i].toString() + " lost after growth");
    }
    expectNoFailure();
    // Fisher-Yates shuffle, then delete one by one.
    for (let i = ids.length - 1; i > 0; i--) {
      const j = <i32>(rand() % <u32>(i + 1));
      const t = ids[i];
      ids[i] = ids[j];
      ids[j] = t;
    }
    for (let i = 0; i < ids.length; i++) {
      contexts.take<Context>(ids[i]);
      check(contexts.get<Context>(ids[i]) === null, "context " + ids[i].toString() + " still found after delete");
      check(contexts.size == <u32>(ids.length - 1 - i), "size after " + (i + 1).toString() + " deletes");
      if (i % 37 == 0) {
        for (let k = i + 1; k < ids.length; k++) {
          const c = contexts.get<Context>(ids[k]);
          check(c !== null && c.contextId == ids[k], "context " + ids[k].toString() + " lost after " + (i + 1).toString() + " deletes");
        }
      }
    }
    expectNoFailure();
    expect(contexts.size).toBe(0);
  });
});
