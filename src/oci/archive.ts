// The compat layer: a tar holding one file, gzip-compressed, byte-for-byte reproducible.
//
// tar: one regular-file entry with fixed metadata (mtime 0, uid/gid 0, no user/group names,
// mode 0644), so the archive depends only on the name and the bytes.
// gzip: node:zlib writes a header with MTIME 0, no file name and no comment (it never calls
// deflateSetHeader), level 9 is pinned, and the one byte that depends on the build platform (OS,
// 3 on Unix, 10 on Windows) is set to 255 "unknown", as Go's compress/gzip writes it.
import { gunzipSync, gzipSync } from "node:zlib";
import { extract, pack } from "tar-stream";

const GZIP_OS_OFFSET = 9;
const GZIP_OS_UNKNOWN = 0xff;

export function gzipReproducible(data: Uint8Array): Buffer {
  const gz = gzipSync(data, { level: 9, memLevel: 8, windowBits: 15, strategy: 0 });
  // RFC 1952: ID1 ID2 CM FLG MTIME(4) XFL OS. FLG must be 0 (no name/comment/extra/hcrc).
  if (gz[0] !== 0x1f || gz[1] !== 0x8b || gz[3] !== 0 || gz.readUInt32LE(4) !== 0) {
    throw new Error("internal error: node:zlib wrote a gzip header with a name or a timestamp");
  }
  gz[GZIP_OS_OFFSET] = GZIP_OS_UNKNOWN;
  return gz;
}

/** A tar archive with exactly one regular file `name` holding `data`. */
export async function tarSingleFile(name: string, data: Uint8Array): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of p) chunks.push(Buffer.from(chunk as Uint8Array));
  })();
  await new Promise<void>((resolve, reject) => {
    p.entry(
      {
        name,
        type: "file",
        size: data.length,
        mode: 0o644,
        mtime: new Date(0),
        uid: 0,
        gid: 0,
        uname: "",
        gname: "",
      },
      Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      (err) => (err ? reject(err) : resolve()),
    );
  });
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface TarEntry {
  name: string;
  type: string;
  data: Buffer;
}

/** Reads every entry of a tar archive (regular files get their contents, others an empty buffer). */
export async function readTar(tar: Uint8Array): Promise<TarEntry[]> {
  const ex = extract();
  const entries: TarEntry[] = [];
  const consumed = (async () => {
    for await (const entry of ex) {
      const parts: Buffer[] = [];
      for await (const chunk of entry) parts.push(Buffer.from(chunk as Uint8Array));
      entries.push({ name: entry.header.name, type: entry.header.type ?? "file", data: Buffer.concat(parts) });
    }
  })();
  ex.end(Buffer.from(tar.buffer, tar.byteOffset, tar.byteLength));
  await consumed;
  return entries;
}

/** Thrown by gunzip when the data would unpack to more than `maxBytes`. */
export class TooLargeError extends Error {}

/** Decompresses gzip data, stopping (TooLargeError) as soon as the output passes `maxBytes`. */
export function gunzip(data: Uint8Array, maxBytes: number): Buffer {
  try {
    return gunzipSync(data, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE")
      throw new TooLargeError(`it unpacks to more than ${maxBytes} bytes`);
    throw err;
  }
}
