// The hostile filters and hostile HTTP input against `proxy-wasm-as run` as a separate process (the
// cases `npm run hostile` reports): every request gets an answer, the process stays under 1.5 GiB,
// and SIGTERM ends it within 3 s even while a request is stuck in the filter.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CASES, runCase } from "../hostile/cases.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "pwa-hostile-run-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const expected: Record<string, { status: number; note?: string }> = {
  "loop-forever": { status: 503 },
  "log-flood": { status: 200 },
  "wasi-amplify": { status: 200 },
  "memory-grow": { status: 200 },
  "many-headers": { status: 431 },
  "big-headers": { status: 431 },
  connect: { status: 403 },
  "hop-by-hop": { status: 200, note: "upstream saw x-secret: no" },
  "reply-content-type": { status: 403, note: "content-type: application/json; body 15 bytes" },
  "reply-head": { status: 403, note: "content-length: 6; body 0 bytes" },
  "reply-grpc": {
    status: 200,
    note: "content-type: application/grpc; grpc-status: 7; grpc-message: no way: 100%25; content-length: 0; body 0 bytes",
  },
  "reply-content-length": { status: 403, note: "content-length: 6; body 6 bytes" },
  "trailer-bytes": { status: 200, note: "upstream trailer bytes: fffe" },
};

for (const c of CASES) {
  test(`run: ${c.name} (${c.tried}): an answer per request, bounded memory, out within 3 s of SIGTERM`, async () => {
    const want = expected[c.name];
    assert.ok(want, `no expectation for case ${c.name}`);
    const r = await runCase(c, 2, dir);
    assert.equal(r.answers, `${want.status} ×2`, JSON.stringify(r));
    assert.ok(r.peakRssMiB < 1536, JSON.stringify(r));
    assert.ok(r.exitMs < 3000, JSON.stringify(r));
    if (want.note) assert.equal(r.note, want.note);
    if (c.harness) assert.doesNotMatch(r.harness, /^continued; \d+ log entries, (\d{8,}) chars/, "the harness keeps the log caps");
  });
}
