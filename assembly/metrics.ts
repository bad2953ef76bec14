// Typed metrics over proxy_define_metric / increment / record / get. A metric is defined with the host
// on first use, not when the object is created, so metrics can be module-level constants (the host
// refuses host calls while the module initializes). Envoy prefixes names with "wasmcustom.".

import { MetricType, Status } from "./types";
import { defineMetric, getMetric, incrementMetric, recordMetric } from "./hostcalls";
import { lastStatus } from "./status";

export class Metric {
  private _id: u32 = 0;

  constructor(
    public readonly type: MetricType,
    public readonly name: string,
  ) {}

  /** The host's id for this metric, defining it on first use; 0 when the host refused. */
  id(): u32 {
    let id = this._id;
    if (id == 0) this._id = id = defineMetric(this.type, this.name);
    return id;
  }

  /** Current value (0 when the host refuses: see lastStatus()). */
  value(): u64 {
    const id = this.id();
    return id == 0 ? 0 : getMetric(id);
  }
}

/** A monotonically increasing count. */
export class Counter extends Metric {
  constructor(name: string) {
    super(MetricType.Counter, name);
  }
  increment(delta: u64 = 1): Status {
    const id = this.id();
    return id == 0 ? lastStatus() : incrementMetric(id, <i64>delta);
  }
}

/** A value that goes up and down. */
export class Gauge extends Metric {
  constructor(name: string) {
    super(MetricType.Gauge, name);
  }
  /** Sets the value. */
  set(value: u64): Status {
    const id = this.id();
    return id == 0 ? lastStatus() : recordMetric(id, value);
  }
  /** Adds a signed offset. */
  add(offset: i64): Status {
    const id = this.id();
    return id == 0 ? lastStatus() : incrementMetric(id, offset);
  }
}

/** A distribution of recorded values (e.g. latencies, sizes). */
export class Histogram extends Metric {
  constructor(name: string) {
    super(MetricType.Histogram, name);
  }
  record(value: u64): Status {
    const id = this.id();
    return id == 0 ? lastStatus() : recordMetric(id, value);
  }
}
