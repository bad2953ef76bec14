// The stats the admin listener shows: the proxy's own counters under Envoy's names (with the tags
// Envoy's default tag extraction gives them) and the plugins' metrics, which Envoy keeps as
// wasmcustom.<name> and exports to Prometheus without the namespace and without the envoy_ prefix.
import type { Metric } from "../host/shared.js";
import type { StatsTag } from "./config/types.js";

interface Counter {
  /** Envoy's stat name, e.g. http.ingress_http.downstream_rq_total. */
  name: string;
  /** Prometheus name, e.g. envoy_http_downstream_rq_total. */
  prom: string;
  tags: Array<[string, string]>;
  value: number;
}

/** What a worker thread reports to the admin listener. */
export interface StatsSnapshot {
  counters: Counter[];
  metrics: Metric[];
}

export class Stats {
  private readonly counters = new Map<string, Counter>();

  constructor(
    /** The plugins' metrics (a SharedState's, or several workers' merged). */
    private readonly metricsOf: () => Iterable<Metric>,
    private readonly tags: readonly StatsTag[],
  ) {}

  snapshot(): StatsSnapshot {
    return { counters: [...this.counters.values()], metrics: [...this.metricsOf()] };
  }

  /** The sum of several workers' stats (Envoy's stats are process-wide). */
  static merged(snapshots: readonly StatsSnapshot[], tags: readonly StatsTag[]): Stats {
    const metrics = new Map<string, Metric>();
    for (const snap of snapshots) {
      for (const m of snap.metrics) {
        const key = `${m.type}\0${m.name}`;
        const have = metrics.get(key);
        if (!have) metrics.set(key, { ...m, values: [...m.values] });
        else {
          have.value += m.value;
          have.sum += m.sum;
          have.values.push(...m.values);
        }
      }
    }
    const s = new Stats(() => metrics.values(), tags);
    for (const snap of snapshots) {
      for (const c of snap.counters) {
        const have = s.counters.get(c.name);
        if (have) have.value += c.value;
        else s.counters.set(c.name, { ...c });
      }
    }
    return s;
  }

  private inc(name: string, prom: string, tags: Array<[string, string]>): void {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = { name, prom, tags, value: 0 }));
    c.value++;
  }

  /** One finished HTTP request on a connection manager (stat_prefix) and maybe a cluster. */
  httpRequest(statPrefix: string, status: number, cluster: string | null): void {
    const p: [string, string] = ["envoy_http_conn_manager_prefix", statPrefix];
    this.inc(`http.${statPrefix}.downstream_rq_total`, "envoy_http_downstream_rq_total", [p]);
    if (status >= 100) {
      const cls = String(Math.floor(status / 100));
      this.inc(`http.${statPrefix}.downstream_rq_${cls}xx`, "envoy_http_downstream_rq_xx", [["envoy_response_code_class", cls], p]);
    }
    if (cluster !== null) this.upstream(cluster, status);
  }

  private upstream(cluster: string, status: number): void {
    const c: [string, string] = ["envoy_cluster_name", cluster];
    this.inc(`cluster.${cluster}.upstream_rq_total`, "envoy_cluster_upstream_rq_total", [c]);
    if (status >= 100) {
      const cls = String(Math.floor(status / 100));
      this.inc(`cluster.${cluster}.upstream_rq_${cls}xx`, "envoy_cluster_upstream_rq_xx", [["envoy_response_code_class", cls], c]);
    }
  }

  /** One TCP connection through tcp_proxy. */
  tcpConnection(statPrefix: string, cluster: string): void {
    this.inc(`tcp.${statPrefix}.downstream_cx_total`, "envoy_tcp_downstream_cx_total", [["envoy_tcp_prefix", statPrefix]]);
    this.inc(`cluster.${cluster}.upstream_cx_total`, "envoy_cluster_upstream_cx_total", [["envoy_cluster_name", cluster]]);
  }

  /** Envoy's /stats text: "name: value" lines, sorted. */
  text(): string {
    const lines = [...this.counters.values()].map((c) => `${c.name}: ${c.value}`);
    for (const m of this.metricsOf()) {
      const v =
        m.type === "histogram"
          ? `P0(nan,${m.values.length ? String(m.values.reduce((a, b) => (a < b ? a : b))) : "nan"}) count=${m.value}`
          : String(m.value);
      lines.push(`wasmcustom.${m.name}: ${v}`);
    }
    return lines.sort().join("\n") + "\n";
  }

  /** Envoy's /stats/prometheus text exposition. */
  prometheus(): string {
    const families = new Map<string, { type: string; lines: string[] }>();
    const add = (name: string, type: string, line: string) => {
      let f = families.get(name);
      if (!f) families.set(name, (f = { type, lines: [] }));
      f.lines.push(line);
    };
    for (const c of this.counters.values()) add(c.prom, "counter", `${c.prom}${labels(c.tags)} ${c.value}`);
    for (const m of this.metricsOf()) {
      const { name, tags } = this.extract(`wasmcustom.${m.name}`);
      const prom = sanitize(name.replace(/^wasmcustom\./, ""));
      if (m.type === "histogram") {
        add(prom, "histogram", `${prom}_count${labels(tags)} ${m.value}`);
        add(prom, "histogram", `${prom}_sum${labels(tags)} ${m.sum}`);
      } else add(prom, m.type, `${prom}${labels(tags)} ${m.value}`);
    }
    let out = "";
    for (const [name, f] of [...families].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
      out += `# TYPE ${name} ${f.type}\n${f.lines.sort().join("\n")}\n`;
    return out;
  }

  /** stats_config.stats_tags: the regex's first group is cut from the name, its second is the tag's value. */
  private extract(name: string): { name: string; tags: Array<[string, string]> } {
    // Every regex runs on the full name (Envoy's TagExtractorImpl); the matched first groups are cut afterwards.
    const tags: Array<[string, string]> = [];
    const cuts: Array<[number, number]> = [];
    for (const t of this.tags) {
      const m = t.regex.exec(name);
      if (!m || m[1] === undefined) continue;
      tags.push([t.name, m[2] ?? m[1]]);
      const at = name.indexOf(m[1], m.index);
      cuts.push([at, at + m[1].length]);
    }
    let n = "";
    let pos = 0;
    for (const [a, b] of cuts.sort((x, y) => x[0] - y[0])) {
      if (a < pos) continue;
      n += name.slice(pos, a);
      pos = b;
    }
    return { name: n + name.slice(pos), tags };
  }
}

function sanitize(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_:]/g, "_");
  return /^[a-zA-Z_:]/.test(s) ? s : `_${s}`;
}

function labels(tags: Array<[string, string]>): string {
  if (tags.length === 0) return "";
  return `{${tags.map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`).join(",")}}`;
}
