// Reading the module that `image`, `push` and `manifest` package: the file must be a core Wasm
// module (Istio's agent rejects anything that does not start with the Wasm magic), and unless the
// user opts out it must pass `verifyModule`, so nothing Envoy would refuse to load gets shipped.
import { readFile } from "node:fs/promises";
import { UserError } from "../errors.js";
import { formatVerifyResult, verifyModule } from "../verify.js";
import type { AbiVersion } from "../abi.js";

const MAGIC = [0x00, 0x61, 0x73, 0x6d];

export interface WasmInput {
  path: string;
  bytes: Buffer;
  /** The ABI version Envoy will pick for this module, or null when it has no known marker. */
  abiVersion: AbiVersion | null;
}

export interface ReadWasmOptions {
  /** Run verifyModule and refuse modules with problems (default true). */
  verify?: boolean;
  /** Where verifier warnings go (default: ignored). */
  warn?: (line: string) => void;
}

function readFailure(path: string, err: unknown): UserError {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case "ENOENT":
      return new UserError(`cannot read ${path}: no such file; build the filter first (proxy-wasm-as build)`);
    case "EISDIR":
      return new UserError(`cannot read ${path}: it is a directory; pass the .wasm file`);
    case "EACCES":
    case "EPERM":
      return new UserError(`cannot read ${path}: permission denied`);
    default:
      return new UserError(`cannot read ${path}: ${e?.message ?? String(err)}`);
  }
}

/** Names what a non-Wasm file most likely is, so the error can say what to pass instead. */
function describeNotWasm(bytes: Buffer): string {
  if (bytes.length === 0) return "it is empty";
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return "it is gzip-compressed; pass the uncompressed .wasm";
  const head = bytes.subarray(0, 64).toString("utf8").trimStart();
  if (head.startsWith("(module")) return "it is WebAssembly text (.wat); compile it to a binary .wasm first";
  if (bytes.length >= 262 && bytes.subarray(257, 262).toString("latin1") === "ustar") {
    return "it is a tar archive; pass the .wasm inside it";
  }
  return "it does not start with the Wasm magic bytes \\0asm";
}

/**
 * Checks that `bytes` are a core Wasm module (magic and version 1); returns a one-line reason
 * when they are not.
 */
export function notWasmReason(bytes: Buffer): string | null {
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) return describeNotWasm(bytes);
  const version = bytes.readUInt32LE(4);
  if (version !== 1) {
    return version === 0x0001000d
      ? "it is a Wasm component (component model); proxy-wasm hosts load core modules only"
      : `it has Wasm binary version ${version}, but hosts load version 1`;
  }
  return null;
}

export async function readWasmModule(path: string, opts: ReadWasmOptions = {}): Promise<WasmInput> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw readFailure(path, err);
  }
  const reason = notWasmReason(bytes);
  if (reason) throw new UserError(`${path} is not a WebAssembly module: ${reason}`);

  // verifyModule never throws; its ABI version also goes into the oci variant's runtime config,
  // so it is computed with and without --no-verify alike (the digest must not depend on it).
  const result = verifyModule(bytes);
  if (opts.verify !== false) {
    if (!result.ok) {
      const first = result.problems[0]?.message ?? "it failed verification";
      const more = result.problems.length > 1 ? ` (and ${result.problems.length - 1} more problem(s))` : "";
      throw new UserError(
        `${path} would not load in Envoy: ${first}${more}; run \`proxy-wasm-as verify ${path}\` for the full report, or pass --no-verify to ship it anyway`,
      );
    }
    if (opts.warn) {
      for (const line of formatVerifyResult(path, result).split("\n")) {
        if (line.startsWith("warning:")) opts.warn(line);
      }
    }
  }
  return { path, bytes, abiVersion: result.abiVersion };
}
