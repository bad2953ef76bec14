// The "How it is measured" section of docs/benchmarks.md: what each number means and how it is taken.
import { PEER_SDK } from "./filters.js";
import type { BenchResult } from "./suite.js";

export function methodSection(r: BenchResult): string[] {
  const o = r.options;
  const seedNames = r.examples
    .filter((e) => e.seed)
    .map((e) => `\`${e.name}\``)
    .join(" and ");
  return [
    "## How it is measured",
    "",
    `- Seed filters: ${seedNames || "none"}. Each is built three ways: with proxy-wasm-as (\`examples/<name>/index.ts\`),`,
    `  with ${PEER_SDK} (\`bench/fixtures/peer/<name>/\`, written the way that SDK's README and examples`,
    "  write a filter), and as a hand-written WAT floor (`bench/fixtures/floor-<name>.wat`) that makes",
    "  exactly the same host calls with the least machinery. Before any timing, each build runs one",
    "  request and must behave like the filter (status, header, body, log line); the bench stops otherwise.",
    "- The other examples are measured with their `wasmplugin.yaml` configuration when they have one;",
    "  callouts they make are answered at once (HTTP 200, gRPC OK).",
    "- Timing: every module gets its own host. Each example is timed on its own, its modules (ours, and for",
    "  a seed filter the peer's and the floor) interleaved with the empty module, in",
    `  ${o.processes === 1 ? "a fresh Node process" : `${o.processes} fresh Node processes run one after another`}, with Liftoff off as Envoy runs V8 (proxy-wasm-cpp-host's`,
    "  v8.cc sets `liftoff = false`), so every Wasm function is optimized from the start. A fresh process per",
    "  example keeps the host's JavaScript specialized for the modules compared, as each module would find it",
    "  alone; in one process shared by every example, the host's calls into the guest slow down for all, and",
    "  most for modules with more callbacks per request.",
    `  After a warm-up (${o.warmupMs} ms each) the modules run in interleaved rounds (${o.rounds} rounds of about ${o.batchMs} ms each`,
    "  per module, starting module rotated each round); each round's CPU and wall time per request is",
    `  taken, and the median of ${o.processes === 1 ? "the rounds" : "every process's rounds pooled"} is reported; a module's guest time is above the empty`,
    "  module's in the same processes. The host's log list is cleared every 10,000 requests.",
    ...(o.processes > 1
      ? [
          "  Several processes, since the same modules timed in two processes differ by a few percent (V8",
          "  compiles the host's JavaScript differently each time, and the machine's other work varies), more",
          "  than rounds within one process do. A ratio target (ours against the floor or the peer) is the median",
          "  of the processes' own ratios, each listed: within a process the modules share the conditions.",
        ]
      : []),
    `- The load average when the bench started is in the machine line above: other work on the machine`,
    "  moves wall-clock numbers (and the proxy's) much more than CPU time.",
    "- The harness is Node, not Envoy: absolute numbers are the Node host's. The guest's share and the",
    "  ratios are what carry over.",
  ];
}
