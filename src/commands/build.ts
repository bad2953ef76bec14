// `proxy-wasm-as build <entry.ts> [-o out.wasm] [--debug]`
import type { Command } from "commander";
import path from "node:path";
import { buildFilter } from "../build/build.js";

export function register(program: Command): void {
  program
    .command("build")
    .description("compile a filter (.ts) to a verified proxy-wasm module (.wasm)")
    .argument("<entry>", "the filter's AssemblyScript entry file, e.g. assembly/index.ts")
    .option("-o, --out <file>", "output .wasm (default: build/<name>.wasm beside the project)")
    .option("--debug", "no optimization; keep names, assertions and a source map")
    .option("--text", "also write the text format (.wat)")
    .option("--no-verify", "skip the ABI check of the result")
    .action(async (entry: string, opts: { out?: string; debug?: boolean; text?: boolean; verify: boolean }) => {
      const r = await buildFilter({
        entry,
        outFile: opts.out,
        debug: opts.debug,
        textFile: opts.text,
        noVerify: !opts.verify,
      });
      const rel = path.relative(process.cwd(), r.outFile) || r.outFile;
      const callbacks = r.verify ? r.verify.exports.filter((e) => e.name.startsWith("proxy_on_")).length : undefined;
      process.stdout.write(
        `built ${rel}: ${r.wasm.byteLength} bytes${callbacks !== undefined ? `, ${callbacks} callbacks` : ""}, ABI ${r.verify?.abiVersion ?? "unverified"}, in ${(r.durationMs / 1000).toFixed(1)}s\n`,
      );
    });
}
