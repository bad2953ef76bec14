// A small proxy-wasm host for the AssemblyScript unit tests (as-pect). It provides the `env.proxy_*`
// imports the SDK code under test reaches, records what the SDK sends (exact bytes), and returns what
// a test configured through the `mock.*` imports (tests/assembly/mock.ts).
//
// Memory handed to the module is allocated with the test module's `malloc` export (which calls the
// SDK's allocateForHost, see host-exports.include.ts), exactly as Envoy allocates through the
// filter's malloc / proxy_on_memory_allocate, so the SDK's ownership code (copy, then heap.free) runs.
// An empty result is written as pointer 0 / size 0, as Envoy does.
//
// Every other env import of the SDK (the list is generated from the ABI table into
// mock-host.generated.js) fails the test that reaches it, naming the function.

import { ENV_IMPORTS, unimplementedEnv } from "./mock-host.generated.js";

/** Record kinds; the same numbers are in tests/assembly/mock.ts. */
export const Rec = {
  LOG: 0, // value: level, bytes: message
  SET_MAP: 1, // value: map type, bytes: serialized map
  GET_PROPERTY: 2, // bytes: path
  SET_PROPERTY: 3, // bytes: path (the value is recorded as SET_PROPERTY_VALUE)
  SET_PROPERTY_VALUE: 4, // bytes: value
  EFFECTIVE_CONTEXT: 5, // value: context id
  HTTP_CALL: 6, // value: token handed out, bytes: upstream name
  GRPC_CALL: 7, // value: token, bytes: upstream name
  GRPC_STREAM: 8, // value: token, bytes: upstream name
  HOST_ALLOC: 9, // value: pointer handed to the module (bytes: what was written there)
};

const OK = 0;
const NOT_FOUND = 1;

/** Latin-1 string of a byte array: a Map key that keeps every byte. */
const key = (bytes) => Buffer.from(bytes).toString("latin1");

export function createMockHost() {
  /** The raw instance exports (memory, malloc); set by attach(). */
  let ex = null;
  let state;

  function reset() {
    state = {
      records: new Map(), // kind -> [{ value, bytes }]
      maps: new Map(), // map type -> Uint8Array (serialized)
      buffers: new Map(), // buffer type -> Uint8Array
      properties: new Map(), // latin1(path) -> Uint8Array
      nextToken: 100,
      logLevel: 0,
    };
  }
  reset();

  const u8 = () => new Uint8Array(ex.memory.buffer);
  const view = () => new DataView(ex.memory.buffer);
  const read = (ptr, size) => u8().slice(ptr >>> 0, (ptr >>> 0) + (size >>> 0));
  const setU32 = (ptr, v) => view().setUint32(ptr >>> 0, v >>> 0, true);

  function record(kind, value, bytes = new Uint8Array(0)) {
    let list = state.records.get(kind);
    if (!list) state.records.set(kind, (list = []));
    list.push({ value: value >>> 0, bytes });
  }

  function entry(kind, index) {
    const list = state.records.get(kind) ?? [];
    const e = list[index >>> 0];
    if (!e) throw new Error(`mock host: no record ${index} of kind ${kind} (have ${list.length})`);
    return e;
  }

  /** Hands `bytes` to the module through its allocator, as Envoy's copyToPointerSize does. */
  function give(bytes, retPtr, retSize) {
    if (bytes.length === 0) {
      setU32(retPtr, 0);
      setU32(retSize, 0);
      return;
    }
    const p = ex.malloc(bytes.length) >>> 0;
    if (p === 0) throw new Error("mock host: malloc returned 0");
    u8().set(bytes, p); // re-read the buffer: malloc may have grown memory
    setU32(retPtr, p);
    setU32(retSize, bytes.length);
    record(Rec.HOST_ALLOC, p, bytes);
  }

  /** The first value of `wanted` in a serialized map (a well-formed one: the tests write them). */
  function mapValue(map, wanted) {
    const dv = new DataView(map.buffer, map.byteOffset, map.byteLength);
    const n = map.length < 4 ? 0 : dv.getUint32(0, true);
    let data = 4 + n * 8;
    for (let i = 0; i < n; i++) {
      const k = dv.getUint32(4 + i * 8, true);
      const v = dv.getUint32(8 + i * 8, true);
      const name = map.subarray(data, data + k);
      const value = map.subarray(data + k + 1, data + k + 1 + v);
      data += k + v + 2;
      if (key(name) === key(wanted)) return value;
    }
    return undefined;
  }

  function nextToken(kind, upstreamPtr, upstreamSize, retToken) {
    const token = state.nextToken++;
    record(kind, token, read(upstreamPtr, upstreamSize));
    setU32(retToken, token);
    return OK;
  }

  const env = {
    ...unimplementedEnv(),
    proxy_log(level, ptr, size) {
      record(Rec.LOG, level, read(ptr, size));
      return OK;
    },
    proxy_get_log_level(ret) {
      setU32(ret, state.logLevel);
      return OK;
    },
    proxy_set_effective_context(id) {
      record(Rec.EFFECTIVE_CONTEXT, id);
      return OK;
    },
    proxy_get_header_map_pairs(type, retPtr, retSize) {
      give(state.maps.get(type) ?? new Uint8Array(0), retPtr, retSize);
      return OK;
    },
    proxy_get_header_map_value(type, keyPtr, keySize, retPtr, retSize) {
      const value = mapValue(state.maps.get(type) ?? new Uint8Array(0), read(keyPtr, keySize));
      if (value === undefined) return NOT_FOUND;
      give(value, retPtr, retSize);
      return OK;
    },
    proxy_get_buffer_bytes(type, start, maxSize, retPtr, retSize) {
      const buffer = state.buffers.get(type);
      if (buffer === undefined) return NOT_FOUND;
      give(buffer.subarray(start >>> 0, (start >>> 0) + (maxSize >>> 0)), retPtr, retSize);
      return OK;
    },
    proxy_set_header_map_pairs(type, ptr, size) {
      record(Rec.SET_MAP, type, read(ptr, size));
      return OK;
    },
    proxy_get_property(pathPtr, pathSize, retPtr, retSize) {
      const path = read(pathPtr, pathSize);
      record(Rec.GET_PROPERTY, 0, path);
      const value = state.properties.get(key(path));
      if (value === undefined) return NOT_FOUND;
      give(value, retPtr, retSize);
      return OK;
    },
    proxy_set_property(pathPtr, pathSize, valuePtr, valueSize) {
      record(Rec.SET_PROPERTY, 0, read(pathPtr, pathSize));
      record(Rec.SET_PROPERTY_VALUE, 0, read(valuePtr, valueSize));
      return OK;
    },
    // proxy_http_call(upstream, upstream_size, headers, headers_size, body, body_size, trailers,
    //                 trailers_size, timeout, return_token)
    proxy_http_call(up, upSize, _h, _hs, _b, _bs, _t, _ts, _timeout, retToken) {
      return nextToken(Rec.HTTP_CALL, up, upSize, retToken);
    },
    // proxy_grpc_call(upstream, size, service, size, method, size, metadata, size, message, size,
    //                 timeout, return_token)
    proxy_grpc_call(up, upSize, _s, _ss, _m, _ms, _md, _mds, _msg, _msgs, _timeout, retToken) {
      return nextToken(Rec.GRPC_CALL, up, upSize, retToken);
    },
    // proxy_grpc_stream(upstream, size, service, size, method, size, metadata, size, return_token)
    proxy_grpc_stream(up, upSize, _s, _ss, _m, _ms, _md, _mds, retToken) {
      return nextToken(Rec.GRPC_STREAM, up, upSize, retToken);
    },
  };

  const known = new Set(ENV_IMPORTS.map(([name]) => name));
  for (const name of Object.keys(env)) {
    if (!known.has(name)) throw new Error(`mock host: ${name} is not an ABI host function (see src/abi/functions.ts)`);
  }

  // What the tests call (module "mock"): configure answers and read records.
  const mock = {
    reset,
    setMap(type, ptr, size) {
      state.maps.set(type, read(ptr, size));
    },
    setBuffer(type, ptr, size) {
      state.buffers.set(type, read(ptr, size));
    },
    setProperty(pathPtr, pathSize, valuePtr, valueSize) {
      state.properties.set(key(read(pathPtr, pathSize)), read(valuePtr, valueSize));
    },
    setNextToken(token) {
      state.nextToken = token >>> 0;
    },
    setLogLevel(level) {
      state.logLevel = level >>> 0;
    },
    count(kind) {
      return (state.records.get(kind) ?? []).length;
    },
    value(kind, index) {
      return entry(kind, index).value;
    },
    size(kind, index) {
      return entry(kind, index).bytes.length;
    },
    copy(kind, index, dst) {
      u8().set(entry(kind, index).bytes, dst >>> 0);
    },
    // Reference conversions for differential tests: WHATWG TextDecoder / TextEncoder.
    /** Decodes `len` bytes at `ptr` as UTF-8 into UTF-16 units at `dst` (room for `len` units). */
    referenceDecode(ptr, len, dst) {
      const s = new TextDecoder("utf-8").decode(read(ptr, len));
      const v = view();
      for (let i = 0; i < s.length; i++) v.setUint16((dst >>> 0) + i * 2, s.charCodeAt(i), true);
      return s.length;
    },
    /** Encodes `units` UTF-16 units at `src` as UTF-8 at `dst` (room for 3 bytes per unit). */
    referenceEncode(src, units, dst) {
      const v = view();
      let s = "";
      for (let i = 0; i < units; i++) s += String.fromCharCode(v.getUint16((src >>> 0) + i * 2, true));
      const out = new TextEncoder().encode(s);
      u8().set(out, dst >>> 0);
      return out.length;
    },
  };

  return {
    imports: { env, mock },
    /** Call with the raw instance exports once the module is instantiated. */
    attach(instanceExports) {
      if (typeof instanceExports.malloc !== "function") {
        throw new Error("mock host: the test module exports no malloc (is tests/assembly/host-exports.include.ts included?)");
      }
      ex = instanceExports;
    },
  };
}
