// `npm run bench:profile -- <example> [--top N]`: where an example's guest instructions go per
// request, by function (the same counted requests as `npm run bench`'s cost table). A tool for
// steering hot-path work: the functions are named as the compiler named them (AssemblyScript's
// `~lib/...` for its standard library and runtime, the source path for SDK and filter code).
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { profileFunctions } from "./lib/cost.js";
import { buildOurs, exampleConfig, isSeed, listExamples } from "./lib/filters.js";
import { requestKind } from "./lib/harness.js";

const USAGE = "usage: npm run bench:profile -- <example> [--top N]";

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: { top: { type: "string" } }; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: { top: { type: "string" } }, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`bench:profile: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [name] = parsed.positionals;
  const examples = await listExamples();
  if (!name || !examples.includes(name)) {
    process.stderr.write(
      `bench:profile: ${name ? `no example named '${name}'` : "name an example"} (one of: ${examples.join(", ")})\n${USAGE}\n`,
    );
    return 2;
  }
  const top = parsed.values.top === undefined ? 25 : Number(parsed.values.top);
  if (!Number.isInteger(top) || top < 1) {
    process.stderr.write(`bench:profile: --top takes a whole number above 0, not '${parsed.values.top}'\n`);
    return 2;
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), "pwas-profile-"));
  try {
    // The release build, with a name section (--debug keeps the names; the code is the same).
    const { wasm } = await buildOurs(name, dir, false, ["--debug"]);
    const config = isSeed(name) ? {} : await exampleConfig(name);
    const fns = await profileFunctions({ label: name, wasm, ...config }, requestKind(wasm));
    const total = fns.reduce((s, f) => s + f.instructions, 0);
    const rows = fns.slice(0, top);
    const width = Math.max(8, ...rows.map((f) => f.name.length));
    const lines = [
      `${name}: ${total.toLocaleString("en-US", { maximumFractionDigits: 1 })} guest instructions per request, ${wasm.byteLength.toLocaleString("en-US")} B`,
      `${"function".padEnd(width)}  instructions/request  share  calls/request`,
    ];
    for (const f of rows) {
      const n = f.instructions.toLocaleString("en-US", { maximumFractionDigits: 1 });
      const calls = f.calls.toLocaleString("en-US", { maximumFractionDigits: 1 });
      lines.push(
        `${f.name.padEnd(width)}  ${n.padStart(20)}  ${((100 * f.instructions) / total).toFixed(1).padStart(4)}%  ${calls.padStart(13)}`,
      );
    }
    if (fns.length > rows.length) lines.push(`(${fns.length - rows.length} more functions)`);
    process.stdout.write(lines.join("\n") + "\n");
    return 0;
  } catch (e) {
    process.stderr.write(`bench:profile: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main(process.argv.slice(2));
