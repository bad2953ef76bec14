// `proxy-wasm-as verify <file.wasm...>`: check proxy-wasm modules against the ABI and explain
// every problem in one line. Exit codes: 0 all modules pass, 1 a module has problems (or, with
// --strict, warnings), 2 a file could not be read or the command line is wrong.
import { type Command, CommanderError } from "commander";
import { readFile } from "node:fs/promises";
import { formatVerifyResult, verifyModule, verifyResultJson } from "../verify.js";

export const EXIT_OK = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_UNREADABLE = 2;

interface VerifyOptions {
  json?: boolean;
  strict?: boolean;
}

function readError(file: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case "ENOENT":
      return `cannot read ${file}: no such file`;
    case "EISDIR":
      return `cannot read ${file}: it is a directory; pass the .wasm file`;
    case "EACCES":
    case "EPERM":
      return `cannot read ${file}: permission denied`;
    default:
      return `cannot read ${file}: ${e?.message ?? String(err)}`;
  }
}

/** Verifies each file and writes the report; returns the exit code. */
export async function runVerify(
  files: string[],
  opts: VerifyOptions,
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  let code = EXIT_OK;
  for (const file of files) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (e) {
      err(`proxy-wasm-as: ${readError(file, e)}\n`);
      code = Math.max(code, EXIT_UNREADABLE);
      continue;
    }
    const result = verifyModule(bytes);
    const failed = !result.ok || (opts.strict === true && result.warnings.length > 0);
    if (opts.json) {
      out(JSON.stringify({ ...verifyResultJson(file, result), strict: opts.strict === true, passed: !failed }) + "\n");
    } else {
      let text = formatVerifyResult(file, result);
      if (result.ok && failed) {
        text += `\nFAILED: ${file}: ${result.warnings.length} warning${result.warnings.length === 1 ? "" : "s"} (--strict)`;
      }
      out(text + "\n");
    }
    if (failed) code = Math.max(code, EXIT_PROBLEMS);
  }
  return code;
}

export function register(program: Command): void {
  const cmd = program
    .command("verify")
    .description(
      "Check proxy-wasm modules (from any SDK) against the proxy-wasm ABI: version marker, allocator, memory, imports, callback names and types, start section",
    )
    .argument("<files...>", "the .wasm modules to check")
    .option("--json", "print one JSON object per file (JSON Lines) instead of text")
    .option("--strict", "fail (exit 1) on warnings too")
    .addHelpText("after", "\nExit codes: 0 every module passes, 1 a module has problems, 2 a file cannot be read or bad usage.")
    .action(async (files: string[], opts: VerifyOptions) => {
      process.exitCode = await runVerify(files, opts);
    });
  // Usage errors exit with 2 (commander's default is 1, which here means "the module has problems").
  cmd.exitOverride((e: CommanderError) => {
    if (e.exitCode !== 0) throw new CommanderError(EXIT_UNREADABLE, e.code, e.message);
    throw e;
  });
}
