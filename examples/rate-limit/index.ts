// rate-limit: a token bucket per client, shared by every worker (VM) of the proxy.
// The client is the value of the configured header (e.g. an API key) or, without it, the IP of
// source.address. Each request takes a token from its client's bucket; an empty bucket answers
// 429 with retry-after. Buckets live in shared data, so all VMs with the same vm_id (Envoy runs one
// per worker thread) count together; every update is a compare-and-swap, retried when another VM
// got there first (CasMismatch).
// Refill is driven by the tick (setTickPeriod): each tick, the VMs advance one shared clock by the
// periods that elapsed (a CAS again, so two VMs ticking in the same period refill once), and a
// bucket takes the refills it missed the next time it is used. So a tick costs O(1) whatever the
// number of clients, and an idle client costs nothing.
// Configuration (JSON, all optional):
//   {"capacity": 10, "refill_tokens": 10, "period_ms": 1000, "key_header": "x-api-key"}
// Shared data: "<prefix>clock" = [last refill time ns: u64][generation: u64],
//              "<prefix>k/<client>" = [tokens: u32][generation: u64], little-endian;
// the prefix is "rate-limit/<root_id>/", so plugins with different root_ids keep separate buckets.
import {
  Action,
  Counter,
  Header,
  HttpContext,
  JsonKind,
  JsonValue,
  RootContext,
  SharedData,
  Status,
  jsonError,
  logError,
  logWarn,
  parseJsonBytes,
  properties,
  setRootContext,
} from "proxy-wasm-as";

const allowed = new Counter("rate_limit.allowed");
const limited = new Counter("rate_limit.limited");
const casRetries = new Counter("rate_limit.cas_retries");

/** Tries per update before giving up (then the request is let through: the limiter fails open). */
const MAX_ATTEMPTS = 8;

class Limits {
  capacity: u32 = 10;
  refill: u32 = 10;
  periodMs: u32 = 1000;
  keyHeader: string = "";
}

let problem = "";

function readLimits(config: JsonValue, out: Limits): bool {
  for (let i = 0, n = config.length; i < n; i++) {
    const key = config.keyAt(i)!;
    const v = config.at(i)!;
    if (key == "capacity" || key == "refill_tokens" || key == "period_ms") {
      const x = v.asInteger(-1);
      const max: i64 = key == "period_ms" ? 86_400_000 : 1_000_000_000;
      if (x < 1 || x > max) {
        problem = '"' + key + '" must be a whole number from 1 to ' + (key == "period_ms" ? "86400000" : "1000000000");
        return false;
      }
      if (key == "capacity") out.capacity = <u32>x;
      else if (key == "refill_tokens") out.refill = <u32>x;
      else out.periodMs = <u32>x;
    } else if (key == "key_header") {
      const s = v.asString();
      if (s === null) {
        problem = '"key_header" must be a string';
        return false;
      }
      out.keyHeader = s;
    } else {
      problem = '"' + key + '" is not a known field (expected capacity, refill_tokens, period_ms or key_header)';
      return false;
    }
  }
  if (!config.has("refill_tokens")) out.refill = out.capacity;
  return true;
}

function u64At(b: ArrayBuffer, offset: usize): u64 {
  return load<u64>(changetype<usize>(b) + offset);
}

function encode(a: u64, b: u64, firstIs32: bool): ArrayBuffer {
  const out = new ArrayBuffer(firstIs32 ? 12 : 16);
  const p = changetype<usize>(out);
  if (firstIs32) {
    store<u32>(p, <u32>a);
    store<u64>(p + 4, b);
  } else {
    store<u64>(p, a);
    store<u64>(p + 8, b);
  }
  return out;
}

/** The client IP of "ip:port" or "[ipv6]:port"; anything else as it is. */
function withoutPort(address: string): string {
  if (address.startsWith("[")) {
    const close = address.indexOf("]");
    return close > 0 ? address.substring(0, close + 1) : address;
  }
  const colon = address.indexOf(":");
  return colon > 0 && address.lastIndexOf(":") == colon ? address.substring(0, colon) : address;
}

class RateLimitRoot extends RootContext {
  limits: Limits = new Limits();
  prefix: string = "rate-limit//";
  /** This VM's view of the shared clock: the refill generation and when it last advanced. */
  generation: u64 = 0;
  lastRefillNanos: u64 = 0;

  onConfigure(pluginConfigurationSize: u32): bool {
    const limits = new Limits();
    if (pluginConfigurationSize > 0) {
      const config = parseJsonBytes(this.getPluginConfiguration()!);
      if (config === null || config.kind != JsonKind.Object) {
        logError("rate-limit: the configuration must be a JSON object: " + (config === null ? jsonError() : "not " + config.typeName()));
        return false;
      }
      if (!readLimits(config, limits)) {
        logError("rate-limit: " + problem);
        return false;
      }
    }
    this.limits = limits;
    const rootId = properties.pluginRootId();
    this.prefix = "rate-limit/" + (rootId !== null ? rootId : "") + "/";
    this.setTickPeriod(limits.periodMs);
    this.advanceClock();
    return true;
  }

  onTick(): void {
    this.advanceClock();
  }

  /** Moves the shared clock on by the whole periods elapsed, once across all VMs. */
  advanceClock(): void {
    const key = this.prefix + "clock";
    const period = <u64>this.limits.periodMs * 1_000_000;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = this.getCurrentTime();
      const current = this.getSharedData(key);
      if (current === null || current.value.byteLength != 16) {
        // First VM here: start the clock (a racing VM writes the same thing).
        this.setSharedData(key, encode(now, 0, false));
        this.lastRefillNanos = now;
        this.generation = 0;
        return;
      }
      const last = u64At(current.value, 0);
      const generation = u64At(current.value, 8);
      const periods = now > last ? (now - last) / period : 0;
      if (periods == 0) {
        this.lastRefillNanos = last;
        this.generation = generation;
        return;
      }
      const status = this.setSharedData(key, encode(last + periods * period, generation + periods, false), current.cas);
      if (status == Status.Ok) {
        this.lastRefillNanos = last + periods * period;
        this.generation = generation + periods;
        return;
      }
      if (status != Status.CasMismatch) return;
      casRetries.increment();
    }
  }

  createHttpContext(contextId: u32): HttpContext | null {
    return new RateLimitFilter(contextId, this);
  }
}

class RateLimitFilter extends HttpContext {
  constructor(
    contextId: u32,
    private root: RateLimitRoot,
  ) {
    super(contextId);
  }

  private clientKey(): string {
    const header = this.root.limits.keyHeader;
    if (header.length > 0) {
      const v = this.getHttpRequestHeader(header);
      if (v !== null) return "h:" + v;
    }
    const address = properties.sourceAddress();
    return address !== null ? "ip:" + withoutPort(address) : "unknown";
  }

  onHttpRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const root = this.root;
    const limits = root.limits;
    const key = root.prefix + "k/" + this.clientKey();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const generation = root.generation;
      const current: SharedData | null = this.getSharedData(key);
      let tokens: u64 = limits.capacity;
      let seen = generation;
      let cas: u32 = 0;
      if (current !== null && current.value.byteLength == 12) {
        tokens = load<u32>(changetype<usize>(current.value));
        seen = u64At(current.value, 4);
        cas = current.cas;
      }
      if (generation > seen) {
        // Refills this bucket missed since it was last used.
        const refilled = tokens + (generation - seen) * <u64>limits.refill;
        tokens = refilled < <u64>limits.capacity ? refilled : <u64>limits.capacity;
        seen = generation;
      }
      if (tokens == 0) {
        limited.increment();
        this.sendHttpResponse(429, [new Header("retry-after", this.retryAfterSeconds())], "rate limit exceeded\n");
        return Action.Pause;
      }
      const status = this.setSharedData(key, encode(tokens - 1, seen, true), cas);
      if (status == Status.Ok) {
        allowed.increment();
        return Action.Continue;
      }
      if (status != Status.CasMismatch) break;
      casRetries.increment();
    }
    logWarn("rate-limit: could not update the bucket of " + key + "; letting the request through");
    allowed.increment();
    return Action.Continue;
  }

  /** Whole seconds until the next refill is due (at least 1). */
  private retryAfterSeconds(): string {
    const root = this.root;
    const due = root.lastRefillNanos + <u64>root.limits.periodMs * 1_000_000;
    const now = this.getCurrentTime();
    const wait = due > now ? (due - now + 999_999_999) / 1_000_000_000 : 1;
    return (wait > 0 ? wait : 1).toString();
  }
}

setRootContext((contextId: u32): RootContext => new RateLimitRoot(contextId));
