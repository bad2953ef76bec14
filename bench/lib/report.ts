// Turns a BenchResult into tables (printed) and docs/benchmarks.md (committed), including the targets
// printed next to the numbers. Targets are judged here and shown; nothing is asserted.
import { PEER_SDK } from "./filters.js";
import { LATENCY_CONNECTIONS, THROUGHPUT_CONNECTIONS, type LoadResult } from "./proxy.js";
import type { BenchResult, ExampleResult, ModuleResult } from "./suite.js";
import { fixed, int, ns, ratio, times } from "./stats.js";
import { BASELINE, costTable, sizeChange } from "./cost-report.js";
import { methodSection } from "./method.js";
import { guestRatio, mark, ourName, targets } from "./targets.js";

export { extraHostCalls, guestRatio, SIZE_LIMIT, targets, type Target } from "./targets.js";

export type Table = { headers: string[]; rows: string[][]; align?: Array<"l" | "r"> };

/** A markdown table, padded so it also reads well in a terminal. */
export function renderTable(t: Table): string {
  const cols = t.headers.length;
  const width = Array.from({ length: cols }, (_, i) => Math.max(3, t.headers[i].length, ...t.rows.map((r) => (r[i] ?? "").length)));
  const align = t.align ?? t.headers.map((_, i) => (i === 0 ? "l" : "r"));
  const cell = (s: string, i: number) => (align[i] === "r" ? s.padStart(width[i]) : s.padEnd(width[i]));
  const line = (r: string[]) => `| ${r.map((c, i) => cell(c ?? "", i)).join(" | ")} |`;
  const sep = `| ${width.map((w, i) => (align[i] === "r" ? "-".repeat(w - 1) + ":" : "-".repeat(w))).join(" | ")} |`;
  return [line(t.headers), sep, ...t.rows.map(line)].join("\n");
}

function moduleLabel(m: ModuleResult): string {
  return m.role === "ours" ? ourName : m.role === "peer" ? PEER_SDK : "WAT floor";
}

function modulesOf(e: ExampleResult): ModuleResult[] {
  return [e.ours, e.peer, e.floor].filter((m): m is ModuleResult => m !== null);
}

export function targetsTable(r: BenchResult): Table {
  return {
    headers: ["target", "goal", "measured", "result"],
    rows: targets(r).map((t) => [t.what, t.goal, t.measured, mark(t.met)]),
    align: ["l", "l", "l", "l"],
  };
}

export function sizeTable(r: BenchResult): Table {
  const rows = r.examples
    .filter((e) => e.ours)
    .map((e) => [
      e.name,
      int(e.ours!.size.raw),
      int(e.ours!.size.gzip),
      e.peer ? int(e.peer.size.raw) : "—",
      e.peer ? int(e.peer.size.gzip) : "—",
      e.peerOurFlagsSize ? int(e.peerOurFlagsSize.raw) : "—",
      e.floor ? int(e.floor.size.raw) : "—",
      e.peer ? times(ratio(e.peer.size.raw, e.ours!.size.raw), 1) : "—",
      sizeChange(e.name, e.ours!.size.raw),
    ]);
  return {
    headers: [
      "example",
      `${ourName} raw B`,
      "gzip B",
      `${PEER_SDK} raw B`,
      "gzip B",
      "peer, our flags, raw B",
      "WAT floor raw B",
      "peer / ours",
      `raw B vs ${BASELINE.commit}`,
    ],
    rows,
  };
}

export function timeTable(r: BenchResult): Table {
  const rows: string[][] = [];
  for (const e of r.examples) {
    for (const m of modulesOf(e)) {
      const isOurs = m.role === "ours";
      rows.push([
        `${e.name}: ${moduleLabel(m)}`,
        ns(m.timing.nsPerRequest),
        int(m.timing.requestsPerSecond),
        ns(m.timing.wallNsPerRequest),
        ns(m.guestNs),
        isOurs && e.peer ? times(guestRatio(m, e.peer).value) : "",
        isOurs && e.floor ? times(guestRatio(m, e.floor).value) : "",
        isOurs && e.peer ? times(ratio(m.timing.nsPerRequest, e.peer.timing.nsPerRequest)) : "",
        isOurs && e.floor ? times(ratio(m.timing.nsPerRequest, e.floor.timing.nsPerRequest)) : "",
      ]);
    }
  }
  for (const [kind, t] of Object.entries(r.baseline)) {
    if (t)
      rows.push([
        `empty module (${kind}, host only)`,
        ns(t.nsPerRequest),
        int(t.requestsPerSecond),
        ns(t.wallNsPerRequest),
        "0",
        "",
        "",
        "",
        "",
      ]);
  }
  return {
    headers: [
      "module",
      "CPU ns/request",
      "requests/s",
      "wall ns/request",
      "guest ns/request",
      "ours/theirs (guest)",
      "ours/floor (guest)",
      "ours/theirs (total)",
      "ours/floor (total)",
    ],
    rows,
  };
}

function formatCalls(calls: Record<string, number>): string {
  const entries = Object.entries(calls);
  if (entries.length === 0) return "none";
  return entries.map(([k, v]) => `${k} ×${Number.isInteger(v) ? v : v.toFixed(2)}`).join(", ");
}

export function hostCallTable(r: BenchResult): Table {
  const rows: string[][] = [];
  for (const e of r.examples) {
    for (const m of modulesOf(e)) {
      const total = Object.values(m.hostCalls).reduce((a, b) => a + b, 0);
      rows.push([`${e.name}: ${moduleLabel(m)}`, fixed(total, Number.isInteger(total) ? 0 : 2), formatCalls(m.hostCalls)]);
    }
  }
  return { headers: ["module", "per request", "by function"], rows, align: ["l", "r", "l"] };
}

export function memoryTable(r: BenchResult): Table {
  const rows: string[][] = [];
  for (const e of r.examples) {
    for (const m of [e.ours, e.peer]) {
      if (!m?.memory) continue;
      const mm = m.memory;
      rows.push([
        `${e.name}: ${moduleLabel(m)}`,
        int(mm.requests),
        String(mm.pagesAtStart),
        String(mm.pagesAfterWarmup),
        String(mm.pagesAtEnd),
        mm.flat ? "yes" : `no (+${mm.pagesAtEnd - mm.pagesAfterWarmup})`,
        int(mm.requestsPerSecond),
        int(mm.requestsPerCpuSecond),
        fixed(mm.seconds, 1),
      ]);
    }
  }
  const warm = r.examples.find((e) => e.ours?.memory)?.ours?.memory?.warmupRequests ?? 0;
  return {
    headers: [
      "module",
      "requests",
      "pages at start",
      `pages after ${int(warm)}`,
      "pages at end",
      "flat after warm-up",
      "requests/s (wall)",
      "requests/CPU-s",
      "seconds",
    ],
    rows,
  };
}

export function coldBuildTable(r: BenchResult): Table {
  return {
    headers: ["example", "wall s (median)", "runs, wall s", "CPU s (median)"],
    rows: r.examples
      .filter((e) => e.coldBuild)
      .map((e) => [
        e.name,
        fixed(e.coldBuild!.medianMs / 1000),
        e.coldBuild!.runsMs.map((ms) => fixed(ms / 1000)).join(", "),
        fixed(e.coldBuild!.medianCpuMs / 1000),
      ]),
  };
}

export function proxyTable(r: BenchResult): Table | null {
  const p = r.proxy;
  if (!p.ran) return null;
  const row = (what: string, l: LoadResult) => [
    what,
    int(l.requestsPerSecond),
    l.proxyCpuUsPerRequest === null ? "n/a" : fixed(l.proxyCpuUsPerRequest, 1),
    fixed(l.p50Ms),
    fixed(l.p99Ms),
    int(l.requests),
    int(l.errors),
    String(l.connections),
  ];
  return {
    headers: ["load", "requests/s", "proxy CPU µs/request", "p50 ms", "p99 ms", "requests", "errors", "connections"],
    rows: [
      row("max throughput, no filter (no callbacks)", p.throughput.none),
      row(`max throughput, ${p.filter}`, p.throughput.filter),
      row(`${int(p.latency.rate)} req/s, no filter (no callbacks)`, p.latency.none),
      row(`${int(p.latency.rate)} req/s, ${p.filter}`, p.latency.filter),
    ],
  };
}

function machineLine(r: BenchResult): string {
  const m = r.machine;
  return `${m.cores} cores, ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; load average ${m.loadAverage} when the bench started`;
}

/** What the console shows. */
export function consoleReport(r: BenchResult): string {
  const parts = [
    `proxy-wasm-as benchmarks${r.quick ? " (quick run: small counts, numbers are rough)" : ""}`,
    `machine: ${machineLine(r)}`,
    `command: ${r.command}`,
    "",
    "Module size (bytes)",
    renderTable(sizeTable(r)),
    "",
    "Cost per request, counted (deterministic: executed guest instructions, guest calls, allocator blocks, GC cycles)",
    renderTable(costTable(r)),
    "",
    "Time per request in the harness (CPU time, median of interleaved rounds pooled across processes; guest = above the empty module timed with it)",
    renderTable(timeTable(r)),
    "",
    "Host calls per request",
    renderTable(hostCallTable(r)),
    "",
    "Guest memory (64 KiB pages)",
    renderTable(memoryTable(r)),
    "",
    "Cold `build` (fresh process)",
    renderTable(coldBuildTable(r)),
    "",
  ];
  const pt = proxyTable(r);
  parts.push("Through `proxy-wasm-as run`", pt ? renderTable(pt) : `not measured: ${r.proxy.ran ? "" : r.proxy.reason}`, "");
  parts.push("Targets (printed, not asserted)", renderTable(targetsTable(r)), "");
  if (r.errors.length) parts.push("Errors:", ...r.errors.map((e) => `  ${e}`), "");
  parts.push(`took ${fixed(r.durationSeconds, 0)} s`);
  return parts.join("\n");
}

/** docs/benchmarks.md. */
export function markdownReport(r: BenchResult, chartFile: string | null): string {
  const o = r.options;
  const pt = proxyTable(r);
  const v = r.versions;
  const lines = [
    "# Benchmarks",
    "",
    `Generated by \`${r.command}\` on ${r.date.slice(0, 10)}; do not edit by hand, run the bench again.`,
    "",
    `- Machine: ${machineLine(r)}.`,
    `- Versions: proxy-wasm-as ${v["proxy-wasm-as"]}, AssemblyScript ${v.assemblyscript}, ${PEER_SDK} ${v[PEER_SDK]} with @assemblyscript/wasi-shim ${v["@assemblyscript/wasi-shim"]}, wabt ${v.wabt}, autocannon ${v.autocannon}.`,
    `- The bench took ${fixed(r.durationSeconds, 0)} s. \`npm run bench -- --quick\` counts every module's cost and times them on small counts, without cold builds or the proxy.`,
    "",
    ...(chartFile ? [`![Module size and guest cost per request of the seed filters](${chartFile})`, ""] : []),
    "## Targets",
    "",
    'Printed next to the numbers, never asserted. "Guest cost" is the time per request above the',
    "empty module's, in the harness (see [How it is measured](#how-it-is-measured)).",
    "",
    renderTable(targetsTable(r)),
    "",
    "## Module size",
    "",
    `Release builds: ours with \`proxy-wasm-as build\`; the peer's with its own release configuration`,
    "(`asc --config asconfig.json --target release`, extending @assemblyscript/wasi-shim, `-O3`), and",
    "once more with our release flags (`-O3 --shrinkLevel 2 --noAssert`) for a comparison at",
    "equal flags. gzip is level 9.",
    "",
    renderTable(sizeTable(r)),
    "",
    "## Cost per request, counted",
    "",
    "Deterministic: these do not move with the machine's load. Each module runs 2,000 requests (after 200",
    "of warm-up) as a counting copy: the release binary with a counter added at every function entry and",
    "at the start of every straight-line run of code (each instruction counts 1; block, loop, else, end and",
    "nop count 0), and a second build with the same flags plus counters in AssemblyScript's runtime",
    "(blocks allocated and freed by its TLSF allocator, collections of its collector; for the WAT floors:",
    "calls of the exported allocator). Host functions are not counted: they are the host's work. Steer with",
    `these, confirm with time. "Before" is main at ${BASELINE.commit}, before the hot-path work.`,
    "",
    renderTable(costTable(r)),
    "",
    "## Time per request in the harness",
    "",
    `One request is what Envoy drives: \`proxy_on_context_create\`, request headers (\`:authority\`,`,
    "`:path`, `:method`, `:scheme`), response headers (unless the filter answered locally), then",
    "`proxy_on_done`, `proxy_on_log`, `proxy_on_delete`; a TCP filter gets a connection with one chunk",
    "each way. Same host for every module. Times are the timing process's CPU time per request (all threads:",
    "host, guest, garbage collector), which other processes on the machine barely move; requests/s is",
    '1e9 / that, what one core sustains; the wall-clock time is shown beside it. "Guest" is the time above',
    "the empty module (a module with no callbacks, so the host's own work): the guest's code plus the",
    "host work its calls cause, above the empty module timed in the same processes. The guest ratios are",
    "the median of the timing processes' own ratios, as in the targets; the total ratios include the host's",
    "own work.",
    "",
    renderTable(timeTable(r)),
    "",
    "## Host calls per request",
    "",
    `Counted by the host (\`host.hostCalls()\`) over 100 requests after warm-up, divided by 100. The WAT`,
    "floors make exactly the calls the seed filters' code asks for.",
    "",
    renderTable(hostCallTable(r)),
    "",
    "## Guest memory",
    "",
    `A fresh host per module, ${int(o.memoryRequests)} requests for the seed filters (ours and the peer's);`,
    o.otherMemorySeconds > 0
      ? `the other examples get as many as fit in about ${o.otherMemorySeconds} s, so the bench keeps its time as examples are added.`
      : "the same for the other examples.",
    `Pages are 64 KiB. "Flat" means no page was added after the first ${int(o.memoryWarmup)} requests.`,
    "Throughput is over the whole run, per wall-clock second and per CPU second.",
    "",
    renderTable(memoryTable(r)),
    "",
    "## Cold `build`",
    "",
    `\`node dist/src/cli.js build examples/<name>/index.ts -o <tmp>.wasm\` in a fresh process, wall time`,
    `from spawn to exit: median of ${o.coldBuildRuns} for the seed filters, ${o.otherColdBuildRuns === 1 ? "one run" : `median of ${o.otherColdBuildRuns}`} for the other examples.`,
    "The CPU column is the process's own CPU time (all threads, reported by a one-line `--import` hook as",
    "it exits); it can exceed the wall time since V8 compiles and collects garbage on other threads,",
    "and it moves less than the wall time when other work shares the machine.",
    "",
    renderTable(coldBuildTable(r)),
    "",
    "## Through `proxy-wasm-as run`",
    "",
    ...(pt && r.proxy.ran
      ? [
          `\`${r.proxy.command}\`, on loopback in front of a loopback upstream (a Node HTTP server answering`,
          "200 with a 24-byte body), loaded with autocannon (keep-alive, no pipelining). `run` always loads a",
          'filter, so "no filter" is the same proxy with a module that has no callbacks: the difference is',
          `the filter's own work. Max throughput: ${THROUGHPUT_CONNECTIONS} connections, the two proxies alternate, ${o.proxySeconds} s each, twice`,
          `(the table shows the mean). Latency: ${LATENCY_CONNECTIONS} connections at a fixed moderate rate (a third of the no-filter`,
          `throughput, at most 2,000 req/s), ${o.proxySeconds} s each; p50 and p99 from every response's own time.`,
          "The proxy's CPU time per request (from /proc) is shown beside the throughput: other work on the",
          "machine moves it much less than requests/s.",
          "",
          renderTable(pt),
        ]
      : [`Not measured: ${r.proxy.ran ? "" : r.proxy.reason}.`]),
    "",
    ...methodSection(r),
    "",
  ];
  return lines.join("\n");
}
