// proxy-wasm-as: the public API. Filters import from "proxy-wasm-as".
// One public spelling per idea (docs/sdk.md): what the Rust SDK puts on its context traits is a
// method of Context, RootContext, HttpContext or StreamContext; the free functions below are what
// Rust keeps in `hostcalls` only (logging, metrics by id, buffers and maps by type, the effective
// context, done) and the SDK's own helpers (JSON, protobuf, typed properties, text).
// The abort handler that builds route AssemblyScript's abort to (see abort.ts).
import "./abort";
export * from "./types";
export { Context } from "./context";
export { RootContext, ChildContext } from "./root-context";
export { HttpContext } from "./http-context";
export { StreamContext } from "./stream-context";
export {
  setRootContext,
  registerRootContext,
  setHttpContext,
  setSharedHttpContext,
  setStreamContext,
  getContext,
  RootContextFactory,
  HttpContextFactory,
  StreamContextFactory,
} from "./registry";
export { Header, HeaderBytes } from "./headers";
export { lastStatus } from "./status";
export { setLogLevel, logEnabled, log, logTrace, logDebug, logInfo, logWarn, logError, logCritical } from "./log";
export {
  setEffectiveContext,
  done,
  getBuffer,
  getBufferSize,
  setBuffer,
  getMap,
  getMapBytes,
  getMapSize,
  setMap,
  setMapBytes,
  getMapValue,
  getMapValueBytes,
  setMapValue,
  setMapValueBytes,
  addMapValue,
  addMapValueBytes,
  removeMapValue,
  SharedData,
  defineMetric,
  incrementMetric,
  recordMetric,
  getMetric,
} from "./hostcalls";
export { CallStatus } from "./callouts";
export { Metric, Counter, Gauge, Histogram } from "./metrics";
export { getPropertyString, getPropertyInt, getPropertyBool, getPropertyMap, properties } from "./properties";
export { bytesToString } from "./utf8";
export { encodeUtf8 } from "./memory";
export { JsonKind, JsonValue, JsonError, quoteJson } from "./json-value";
export { parseJson, parseJsonBytes, lastJsonError, jsonError } from "./json";
export { ProtoWriter, ProtoReader, WireType } from "./protobuf";
export { lowerAscii, equalsIgnoreAsciiCase } from "./text";
