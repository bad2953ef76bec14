#!/usr/bin/env node
// The `proxy-wasm-as` command line. Each command lives in src/commands/<name>.ts and exports a
// `register(program)` function; this file only wires them up and turns errors into one line.
import { Command, CommanderError } from "commander";
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { UserError } from "./errors.js";
// --- command modules (one import and one register call per command) ---
import { register as registerBuild } from "./commands/build.js";
import { register as registerInit } from "./commands/init.js";
import { register as registerVerify } from "./commands/verify.js";
import { register as registerImage } from "./commands/image.js";
import { register as registerPush } from "./commands/push.js";
import { register as registerManifest } from "./commands/manifest.js";
import { register as registerConfigSchema } from "./commands/config-schema.js";
import { register as registerRun } from "./commands/run.js";
import { register as registerEnvoy } from "./commands/envoy.js";
// --- end command modules ---

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

export function createProgram(): Command {
  const program = new Command();
  program
    .name("proxy-wasm-as")
    .description("Build, verify, run and ship proxy-wasm filters written in AssemblyScript.")
    .version(pkg.version)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  // --- register commands ---
  registerBuild(program);
  registerInit(program);
  registerVerify(program);
  registerImage(program);
  registerPush(program);
  registerManifest(program);
  registerConfigSchema(program);
  registerRun(program);
  registerEnvoy(program);
  // --- end register commands ---
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its message (unknown option, missing argument, --help).
      return err.exitCode;
    }
    if (err instanceof UserError) {
      process.stderr.write(`proxy-wasm-as: ${err.message}\n`);
      return err.exitCode;
    }
    const e = err as Error;
    process.stderr.write(`proxy-wasm-as: internal error: ${e?.stack ?? String(err)}\n`);
    return 70;
  }
}

// `proxy-wasm-as ... | head` closes stdout early: stop quietly instead of crashing on EPIPE.
function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}

function invokedAsScript(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (invokedAsScript()) {
  exitQuietlyOnClosedPipe(process.stdout);
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
