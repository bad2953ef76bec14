// Shared data and shared queues across worker threads, as Envoy shares them across its workers'
// VMs. One store lives on the main thread; a worker's SharedState asks it synchronously (the guest
// sees a synchronous host call): it posts the request on a MessagePort, waits on a
// SharedArrayBuffer with Atomics.wait, and reads the answer with receiveMessageOnPort. A message put
// on a queue is announced to the worker whose VM registered the queue, which then calls that VM's
// proxy_on_queue_ready.
import { type MessagePort, receiveMessageOnPort } from "node:worker_threads";
import { SharedState } from "../../host/index.js";
import type { QueueOwner, SharedQueue, SharedValue } from "../../host/shared.js";

export type StoreRequest =
  | { op: "get"; vmId: string; key: string }
  | { op: "set"; vmId: string; key: string; value: Uint8Array; cas: number }
  | { op: "register"; vmId: string; name: string; rootContextId: number }
  | { op: "resolve"; vmId: string; name: string }
  | { op: "enqueue"; token: number; value: Uint8Array }
  | { op: "drain"; token: number };

/** The main thread's side: one store for every worker, answering on each worker's port. */
export class SharedStore {
  readonly state = new SharedState();

  /** Serves one worker's requests; `notify` tells it a queue it registered has a message. */
  serve(port: MessagePort, flag: Int32Array, notify: (token: number, rootContextId: number) => void): void {
    const owner: QueueOwner = { notifyQueueReady: (rootContextId, token) => notify(token, rootContextId) };
    port.on("message", (req: StoreRequest) => {
      let answer: unknown;
      try {
        answer = this.answer(req, owner);
      } catch (e) {
        answer = { error: (e as Error).message };
      }
      port.postMessage(answer);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    });
  }

  private answer(req: StoreRequest, owner: QueueOwner): unknown {
    const s = this.state;
    switch (req.op) {
      case "get": {
        const v = s.getData(req.vmId, req.key);
        return v ? { value: v.value, cas: v.cas } : null;
      }
      case "set":
        return s.setData(req.vmId, req.key, Buffer.from(req.value), req.cas);
      case "register":
        return s.registerQueue(req.vmId, req.name, owner, req.rootContextId);
      case "resolve":
        return s.resolveQueue(req.vmId, req.name);
      case "enqueue":
        return s.enqueue(req.token, Buffer.from(req.value));
      case "drain": {
        const q = s.queue(req.token);
        if (!q) return null;
        const out = q.messages;
        q.messages = [];
        return out;
      }
    }
  }
}

/** A worker's SharedState: data and queues in the main thread's store, metrics local (the admin sums them). */
export class RemoteSharedState extends SharedState {
  private readonly owners = new Map<number, { owner: QueueOwner; rootContextId: number }>();
  private readonly local = new Map<number, SharedQueue>();

  constructor(
    private readonly port: MessagePort,
    private readonly flag: Int32Array,
  ) {
    super();
  }

  private call<T>(req: StoreRequest): T {
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage(req);
    Atomics.wait(this.flag, 0, 0, 10_000);
    const m = receiveMessageOnPort(this.port);
    if (!m) throw new Error("the shared-data store on the main thread did not answer");
    const a = m.message as T & { error?: string };
    if (a && typeof a === "object" && "error" in a && typeof a.error === "string") throw new Error(a.error);
    return a;
  }

  override getData(vmId: string, key: string): SharedValue | undefined {
    const v = this.call<{ value: Uint8Array; cas: number } | null>({ op: "get", vmId, key });
    return v ? { value: Buffer.from(v.value), cas: v.cas } : undefined;
  }

  override setData(vmId: string, key: string, value: Buffer, cas: number): boolean {
    return this.call<boolean>({ op: "set", vmId, key, value, cas });
  }

  override registerQueue(vmId: string, name: string, owner: QueueOwner, rootContextId: number): number {
    const token = this.call<number>({ op: "register", vmId, name, rootContextId });
    this.owners.set(token, { owner, rootContextId });
    return token;
  }

  override resolveQueue(vmId: string, name: string): number {
    return this.call<number>({ op: "resolve", vmId, name });
  }

  override enqueue(token: number, value: Buffer): boolean {
    return this.call<boolean>({ op: "enqueue", token, value });
  }

  /** The queue's waiting messages, taken from the store into this worker (dequeue reads them here). */
  override queue(token: number): SharedQueue | undefined {
    const taken = this.call<Uint8Array[] | null>({ op: "drain", token });
    if (taken === null) return undefined;
    let q = this.local.get(token);
    if (!q) {
      const o = this.owners.get(token);
      q = { token, vmId: "", name: "", messages: [], owner: o?.owner ?? { notifyQueueReady() {} }, rootContextId: o?.rootContextId ?? 0 };
      this.local.set(token, q);
    }
    for (const m of taken) q.messages.push(Buffer.from(m));
    return q;
  }

  override queueOwners(): Map<number, { owner: QueueOwner; rootContextId: number }> {
    return new Map(this.owners);
  }

  override restoreQueueOwners(owner: QueueOwner, before: Map<number, { owner: QueueOwner; rootContextId: number }>): void {
    for (const [token, o] of this.owners) {
      const was = before.get(token);
      if (o.owner === owner && was) this.owners.set(token, was);
    }
  }

  /** The store says a queue this worker registered has a message: proxy_on_queue_ready on its VM. */
  queueReady(token: number): void {
    const o = this.owners.get(token);
    if (o) this.defer(() => o.owner.notifyQueueReady(o.rootContextId, token));
  }
}
