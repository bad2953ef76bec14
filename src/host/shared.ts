// State that Envoy keeps per process rather than per VM: shared data (keyed by vm_id, with CAS),
// shared queues (keyed by vm_id and name) and the stats store where metrics live. Pass the same
// SharedState to several hosts to get several VMs of one vm_id, as Envoy runs one per worker.
import { MetricType } from "../abi.js";
import { byteStringToText } from "./bytes.js";

export interface SharedValue {
  value: Buffer;
  cas: number;
}

export interface QueueOwner {
  /** Called (outside any guest call) when a message arrives on a queue this owner registered. */
  notifyQueueReady(rootContextId: number, token: number): void;
}

export interface SharedQueue {
  token: number;
  vmId: string;
  name: string;
  messages: Buffer[];
  owner: QueueOwner;
  rootContextId: number;
}

export type MetricKind = "counter" | "gauge" | "histogram";
const KINDS: MetricKind[] = ["counter", "gauge", "histogram"];

export interface Metric {
  name: string;
  type: MetricKind;
  /** Counter and gauge value; for a histogram the number of recorded values. u64 like Envoy's. */
  value: bigint;
  /** Histogram only: recorded values (the first 100,000). */
  values: bigint[];
  sum: bigint;
}

const MAX_HISTOGRAM_VALUES = 100_000;

export class SharedState {
  private data = new Map<string, Map<string, SharedValue>>();
  private nextCasValue = 1;
  private queues = new Map<number, SharedQueue>();
  private queueIndex = new Map<string, number>();
  private nextQueueToken = 1;
  readonly metrics = new Map<string, Metric>();
  private pending: Array<() => void> = [];
  private flushing = false;
  /** How many guest calls are in progress across every VM using this state. */
  depth = 0;

  private nextCas(): number {
    const c = this.nextCasValue;
    this.nextCasValue = (this.nextCasValue + 1) >>> 0;
    if (this.nextCasValue === 0) this.nextCasValue = 1;
    return c;
  }

  getData(vmId: string, key: string): SharedValue | undefined {
    return this.data.get(vmId)?.get(key);
  }

  /** proxy_set_shared_data: a non-zero cas must match the current one (a missing key matches anything). */
  setData(vmId: string, key: string, value: Buffer, cas: number): boolean {
    let map = this.data.get(vmId);
    if (!map) {
      map = new Map();
      this.data.set(vmId, map);
    }
    const cur = map.get(key);
    if (cur && cas !== 0 && cas !== cur.cas) return false;
    map.set(key, { value, cas: this.nextCas() });
    return true;
  }

  /** Every key of a vm_id, decoded as text, with its value and CAS. */
  dataEntries(vmId: string): Array<{ key: string; value: Buffer; cas: number }> {
    const map = this.data.get(vmId);
    if (!map) return [];
    return [...map].map(([k, v]) => ({ key: byteStringToText(k), value: v.value, cas: v.cas }));
  }

  registerQueue(vmId: string, name: string, owner: QueueOwner, rootContextId: number): number {
    const k = vmId + "\0" + name;
    const existing = this.queueIndex.get(k);
    if (existing !== undefined) {
      // Like proxy-wasm-cpp-host: the latest registrant receives proxy_on_queue_ready.
      const q = this.queues.get(existing)!;
      q.owner = owner;
      q.rootContextId = rootContextId;
      return existing;
    }
    const token = this.nextQueueToken++;
    this.queues.set(token, { token, vmId, name, messages: [], owner, rootContextId });
    this.queueIndex.set(k, token);
    return token;
  }

  /** Who each queue notifies now, by token (to undo registrations later). */
  queueOwners(): Map<number, { owner: QueueOwner; rootContextId: number }> {
    const out = new Map<number, { owner: QueueOwner; rootContextId: number }>();
    for (const q of this.queues.values()) out.set(q.token, { owner: q.owner, rootContextId: q.rootContextId });
    return out;
  }

  /**
   * Gives the queues `owner` took over since `before` back to their previous owners. Queues it
   * created stay, still owned by it, until another VM registers them.
   */
  restoreQueueOwners(owner: QueueOwner, before: Map<number, { owner: QueueOwner; rootContextId: number }>): void {
    for (const q of this.queues.values()) {
      const was = before.get(q.token);
      if (q.owner === owner && was) {
        q.owner = was.owner;
        q.rootContextId = was.rootContextId;
      }
    }
  }

  resolveQueue(vmId: string, name: string): number {
    return this.queueIndex.get(vmId + "\0" + name) ?? 0;
  }

  queue(token: number): SharedQueue | undefined {
    return this.queues.get(token);
  }

  /** Finds a queue by vm_id and name (text). */
  findQueue(vmId: string, name: string): SharedQueue | undefined {
    const t = this.resolveQueue(vmId, name);
    return t ? this.queues.get(t) : undefined;
  }

  enqueue(token: number, value: Buffer): boolean {
    const q = this.queues.get(token);
    if (!q) return false;
    q.messages.push(value);
    // Envoy posts proxy_on_queue_ready to the owner's thread; here it runs once no guest code is
    // on the stack.
    this.defer(() => q.owner.notifyQueueReady(q.rootContextId, token));
    return true;
  }

  defer(fn: () => void): void {
    this.pending.push(fn);
    if (this.depth === 0) this.flush();
  }

  /**
   * Runs deferred notifications when no guest call is in progress. Not re-entrant: a notification
   * that queues more (a queue_ready handler that enqueues, the VM's own flush after the call)
   * leaves them to this loop, so any number of pending notifications runs at a constant stack
   * depth, in order.
   */
  flush(): void {
    if (this.depth !== 0 || this.flushing) return;
    this.flushing = true;
    let done = 0;
    try {
      while (done < this.pending.length) {
        const fn = this.pending[done];
        done++;
        fn();
      }
    } finally {
      this.pending.splice(0, done);
      this.flushing = false;
    }
  }

  metricFor(name: string, type: number): Metric {
    const kind = KINDS[type];
    const key = kind + "\0" + name;
    let m = this.metrics.get(key);
    if (!m) {
      m = { name: byteStringToText(name), type: kind, value: 0n, values: [], sum: 0n };
      this.metrics.set(key, m);
    }
    return m;
  }

  recordHistogram(m: Metric, v: bigint): void {
    m.value++;
    m.sum += v;
    if (m.values.length < MAX_HISTOGRAM_VALUES) m.values.push(v);
  }

  static readonly MetricType = MetricType;
}
