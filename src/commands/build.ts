// `proxy-wasm-as build <entry.ts> [-o out.wasm] [--debug]`
import type { Command } from "commander";
import path from "node:path";
import { setFlagsFromString } from "node:v8";
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
    .option("--config <file>", "the asconfig.json to honour (default: the one beside or above the entry, up to package.json)")
    .option("--no-config", "ignore any asconfig.json")
    .option("--target <name>", "the asconfig.json target (default: release, or debug with --debug)")
    .action(
      async (
        entry: string,
        opts: { out?: string; debug?: boolean; text?: boolean; verify: boolean; config?: string | false; target?: string },
      ) => {
        // This process only compiles: V8's baseline compiler alone for Binaryen's large Wasm module
        // halves a cold build's CPU time (optimizing that code costs more than it saves in one build).
        // Only here: `run` and the tests build and then run filters, which must get V8's full compiler.
        setFlagsFromString("--liftoff-only");
        const r = await buildFilter({
          entry,
          outFile: opts.out,
          debug: opts.debug,
          textFile: opts.text,
          noVerify: !opts.verify,
          config: opts.config,
          target: opts.target,
        });
        // The compiler's warnings (the SDK's own included), at the filter's lines.
        if (r.warnings) process.stderr.write(r.warnings);
        const rel = path.relative(process.cwd(), r.outFile) || r.outFile;
        // The same count `verify` prints: callbacks the host calls (not the allocator or entry points).
        const callbacks = r.verify ? r.verify.callbacks.length : undefined;
        process.stdout.write(
          `built ${rel}: ${r.wasm.byteLength} bytes${callbacks !== undefined ? `, ${callbacks} callback${callbacks === 1 ? "" : "s"}` : ""}, ABI ${r.verify?.abiVersion ?? "unverified"}, in ${(r.durationMs / 1000).toFixed(1)}s\n`,
        );
      },
    );
}
