// The `proxy-wasm-as run` command line: one-line errors for bad flags, the startup line, serving,
// and a clean exit on SIGINT / SIGTERM.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { built, repoRoot } from "./helpers.js";

const CLI = path.join(repoRoot, "dist/src/cli.js");
let wasm: string;
let dir: string;

before(async () => {
  wasm = (await built("examples/add-header/index.ts")).outFile;
  dir = await mkdtemp(path.join(os.tmpdir(), "pwas-run-cli-"));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: repoRoot, env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test("bad flags give one line that names the problem, and exit 1", async () => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
  const takenPort = (taken.address() as net.AddressInfo).port;
  const badJson = path.join(dir, "bad.json");
  await writeFile(badJson, '{"a": 1,}');
  const cases: Array<[string[], RegExp]> = [
    [["--upstream", "not a url"], /--upstream "not a url" is not a URL: give it as http:\/\/HOST:PORT/],
    [["--upstream", "ftp://example.com"], /must be an http:\/\/ or https:\/\/ URL, not ftp/],
    [["--upstream", "http://127.0.0.1:8080/api"], /has a path or query/],
    [["--listen", "nowhere"], /--listen "nowhere" has no port/],
    [["--listen", "127.0.0.1:70000"], /has a port above 65535/],
    [["--listen", `127.0.0.1:${takenPort}`], new RegExp(`cannot listen on 127\\.0\\.0\\.1:${takenPort}: the port is in use`)],
    [["--config", "@" + path.join(dir, "missing.json")], /--config @.*missing\.json: cannot read the file: no such file/],
    [["--config", '{"unterminated": '], /--config is not valid JSON \(.*\); fix it/],
    [["--vm-config", "@" + badJson], /--vm-config @.*bad\.json is not valid JSON/],
    [["--log-level", "loud"], /--log-level "loud" is not a log level: use one of trace, debug, info, warn, error, critical/],
    [["--cluster", "auth"], /--cluster "auth" must be NAME=URL/],
    [["--cluster", "auth=localhost"], /--cluster auth= "localhost"/],
    [["--timeout", "soon"], /--timeout "soon" is not a duration/],
    [["--max-memory", "5GiB"], /--max-memory 5368709120 bytes is out of range: use 65536 bytes to 4294967296 bytes/],
  ];
  try {
    const results = await Promise.all(cases.map(([args]) => runCli(["run", wasm, "--listen", "127.0.0.1:0", ...args])));
    results.forEach((r, i) => {
      const [args, pattern] = cases[i];
      assert.equal(r.code, 1, `${args.join(" ")}: exit code (stderr: ${r.stderr})`);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `${args.join(" ")}: one line, got:\n${r.stderr}`);
      assert.match(lines[0], /^proxy-wasm-as: /);
      assert.match(lines[0], pattern, args.join(" "));
    });
  } finally {
    taken.close();
  }
  const missing = await runCli(["run", path.join(dir, "nope.wasm")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^proxy-wasm-as: cannot read .*nope\.wasm: no such file\n$/);
  const wrongKind = await runCli(["run", path.join(dir, "filter.js")]);
  assert.match(wrongKind.stderr, /give a filter module \(\.wasm\) or its AssemblyScript entry \(\.ts\)/);
});

async function serveAndStop(signal: NodeJS.Signals): Promise<void> {
  const up = http.createServer((req, res) => res.end(`upstream saw ${req.url}`));
  await new Promise<void>((r) => up.listen(0, "127.0.0.1", r));
  const upUrl = `http://127.0.0.1:${(up.address() as net.AddressInfo).port}`;
  const child = spawn(process.execPath, [CLI, "run", wasm, "--listen", "127.0.0.1:0", "--upstream", upUrl], {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: "1" },
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (c) => {
        stdout += c;
        const m = /serving (\S+) on (http:\/\/127\.0\.0\.1:\d+) -> (\S+)\n/.exec(stdout);
        if (m) {
          assert.equal(m[1], wasm);
          assert.equal(m[3], upUrl);
          resolve(m[2]);
        }
      });
      child.on("close", () => reject(new Error(`exited before serving: ${stderr}`)));
    });
    const body = await new Promise<{ header: unknown; text: string }>((resolve, reject) => {
      http
        .get(`${url}/via-cli`, { agent: false }, (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => resolve({ header: res.headers["x-service-name"], text }));
        })
        .on("error", reject);
    });
    assert.equal(body.text, "upstream saw /via-cli");
    assert.equal(body.header, "my-custom-service");
    child.kill(signal);
    assert.equal(await exited, 0, `exit code after ${signal} (stderr: ${stderr})`);
    assert.match(stderr, new RegExp(`${signal}: shutting down`));
    assert.match(stderr, /access: GET \/via-cli 200 /);
  } finally {
    child.kill("SIGKILL");
    up.close();
  }
}

test("serves with the startup line and exits 0 on SIGTERM", () => serveAndStop("SIGTERM"));
test("exits 0 on SIGINT", () => serveAndStop("SIGINT"));
