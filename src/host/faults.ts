// Fault injection: a test makes a host call answer with a failure status the next time(s) it is
// made (NotFound, Empty, CasMismatch, BadArgument, ...), without doing its work, as Envoy answers when
// the thing is missing or the call fails. Only calls whose failure a filter must handle can be failed.
import { Status, type StatusCode } from "../abi.js";

/** Host calls a test can fail, and the statuses Envoy can answer them with (the first is the usual one). */
export const FAULTABLE_CALLS: Readonly<Record<string, readonly StatusCode[]>> = {
  proxy_get_header_map_value: [Status.NotFound],
  proxy_get_buffer_bytes: [Status.NotFound],
  proxy_get_property: [Status.NotFound],
  proxy_get_shared_data: [Status.NotFound],
  proxy_set_shared_data: [Status.CasMismatch],
  proxy_register_shared_queue: [Status.InternalFailure],
  proxy_resolve_shared_queue: [Status.NotFound],
  proxy_enqueue_shared_queue: [Status.NotFound],
  proxy_dequeue_shared_queue: [Status.Empty, Status.NotFound],
  proxy_http_call: [Status.BadArgument, Status.InternalFailure],
  proxy_grpc_call: [Status.BadArgument, Status.InternalFailure],
  proxy_grpc_stream: [Status.BadArgument, Status.InternalFailure],
  proxy_call_foreign_function: [Status.NotFound],
  proxy_define_metric: [Status.BadArgument],
};

interface Fault {
  status: number;
  /** Calls of this function to let through before failing. */
  skip: number;
  /** How many more calls fail. */
  left: number;
  /** Fails only calls whose arguments match. */
  when?: (args: readonly number[]) => boolean;
}

/** Faults waiting to happen, by host call name. */
export class FaultPlan {
  private readonly faults = new Map<string, Fault[]>();
  /** Whether any fault is armed (a cheap check on every faultable call). */
  armed = false;

  /** Fails `call` with `status` `times` times, after letting `skip` calls through. */
  add(call: string, status: number, options: { times?: number; skip?: number; when?: (args: readonly number[]) => boolean } = {}): void {
    if (!(call in FAULTABLE_CALLS)) {
      throw new RangeError(`${call} cannot be failed: choose one of ${Object.keys(FAULTABLE_CALLS).join(", ")}`);
    }
    const times = options.times ?? 1;
    const skip = options.skip ?? 0;
    if (!Number.isInteger(times) || times < 1 || !Number.isInteger(skip) || skip < 0) {
      throw new RangeError(`times must be an integer >= 1 and skip >= 0, not ${times} and ${skip}`);
    }
    const list = this.faults.get(call) ?? [];
    list.push({ status, skip, left: times, when: options.when });
    this.faults.set(call, list);
    this.armed = true;
  }

  /** The status `call` must answer now, or undefined to run it. */
  take(call: string, args: readonly number[]): number | undefined {
    const list = this.faults.get(call);
    if (!list) return undefined;
    const f = list.find((x) => !x.when || x.when(args));
    if (!f) return undefined;
    if (f.skip > 0) {
      f.skip--;
      return undefined;
    }
    if (--f.left === 0) list.splice(list.indexOf(f), 1);
    if (list.length === 0) this.faults.delete(call);
    this.armed = this.faults.size > 0;
    return f.status;
  }

  clear(): void {
    this.faults.clear();
    this.armed = false;
  }
}
