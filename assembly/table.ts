// A small open-addressing hash table from u32 ids to values, for contexts (by context id) and callouts
// (by token). Ids are never 0 in proxy-wasm (Envoy reserves context 0 for the VM and starts tokens at
// 4), so key 0 marks an empty slot; get(0) finds nothing and set(0, v) is ignored.
// It is smaller than the standard Map, and get() on a missing id returns null/0 instead of trapping.

export class IdTable<V> {
  private keys: StaticArray<u32> = zeroed<u32>(16);
  private values: StaticArray<V> = zeroed<V>(16);
  private mask: u32 = 15;
  private used: u32 = 0;

  get size(): u32 {
    return this.used;
  }

  // @ts-ignore: decorator
  @inline private slotOf(id: u32): u32 {
    return (id * 0x9e3779b1) & this.mask;
  }

  /** Index of `id`'s slot, or -1. */
  private find(id: u32): i32 {
    if (id == 0) return -1;
    const keys = this.keys;
    const mask = this.mask;
    let i = this.slotOf(id);
    while (true) {
      const k = unchecked(keys[i]);
      if (k == id) return <i32>i;
      if (k == 0) return -1;
      i = (i + 1) & mask;
    }
  }

  /** The value for `id`, or null (0 for numbers) when there is none. */
  get(id: u32): V {
    const i = this.find(id);
    if (i < 0) return this.empty();
    return unchecked(this.values[i]);
  }

  has(id: u32): bool {
    return this.find(id) >= 0;
  }

  set(id: u32, value: V): void {
    if (id == 0) return;
    if ((this.used + 1) << 1 > this.mask + 1) this.grow();
    const keys = this.keys;
    const mask = this.mask;
    let i = this.slotOf(id);
    while (true) {
      const k = unchecked(keys[i]);
      if (k == id || k == 0) {
        if (k == 0) this.used++;
        unchecked((keys[i] = id));
        unchecked((this.values[i] = value));
        return;
      }
      i = (i + 1) & mask;
    }
  }

  /** Removes `id` and returns its value (null / 0 when it was not there). */
  delete(id: u32): V {
    let i = this.find(id);
    if (i < 0) return this.empty();
    const keys = this.keys;
    const values = this.values;
    const mask = this.mask;
    const old = unchecked(values[i]);
    // Backward-shift deletion keeps probe chains intact without tombstones.
    let j = <u32>i;
    while (true) {
      j = (j + 1) & mask;
      const k = unchecked(keys[j]);
      if (k == 0) break;
      const home = this.slotOf(k);
      // Move k back to the hole at i when its home slot is not cyclically within (i, j].
      if (((j - home) & mask) >= ((j - <u32>i) & mask)) {
        unchecked((keys[i] = k));
        unchecked((values[i] = unchecked(values[j])));
        i = <i32>j;
      }
    }
    unchecked((keys[i] = 0));
    unchecked((values[i] = this.empty()));
    this.used--;
    return old;
  }

  // @ts-ignore: decorator
  @inline private empty(): V {
    if (isReference<V>()) return changetype<V>(0);
    // @ts-ignore: numeric V
    return <V>0;
  }

  private grow(): void {
    this.rehash((this.mask + 1) << 1);
  }

  /** How many slots there are: a walk over them reads keyAt and valueAt (0 keys are empty slots). */
  get capacity(): u32 {
    return this.mask + 1;
  }

  // @ts-ignore: decorator
  @inline keyAt(slot: u32): u32 {
    return unchecked(this.keys[slot]);
  }

  // @ts-ignore: decorator
  @inline valueAt(slot: u32): V {
    return unchecked(this.values[slot]);
  }

  /** Replaces the value in an occupied slot, in place. */
  // @ts-ignore: decorator
  @inline setValueAt(slot: u32, value: V): void {
    unchecked((this.values[slot] = value));
  }

  private rehash(cap: u32): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    this.keys = zeroed<u32>(cap);
    this.values = zeroed<V>(cap);
    this.mask = cap - 1;
    this.used = 0;
    for (let i = 0, n = oldKeys.length; i < n; i++) {
      const k = unchecked(oldKeys[i]);
      if (k == 0) continue;
      const v = unchecked(oldValues[i]);
      this.set(k, v);
    }
  }
}

/** A StaticArray of `n` zeros (without the constructor's length check and its error strings). */
function zeroed<T>(n: u32): StaticArray<T> {
  const bytes = (<usize>n) << alignof<T>();
  const a = __new(bytes, idof<StaticArray<T>>());
  memory.fill(a, 0, bytes);
  return changetype<StaticArray<T>>(a);
}
