// proxy-wasm-as: the public API. Filters import from "proxy-wasm-as".
// The abort handler that builds route AssemblyScript's abort to (see abort.ts).
import "./abort";
export * from "./types";
export { Context, RootContext, HttpContext, StreamContext, ChildContext } from "./context";
export {
  setRootContext,
  registerRootContext,
  setHttpContext,
  setStreamContext,
  getContext,
  RootContextFactory,
  HttpContextFactory,
  StreamContextFactory,
} from "./registry";
export { Header, HeaderBytes } from "./headers";
export {
  lastStatus,
  setLogLevel,
  logEnabled,
  log,
  logTrace,
  logDebug,
  logInfo,
  logWarn,
  logError,
  logCritical,
  getCurrentTimeNanoseconds,
  setTickPeriodMilliseconds,
  setEffectiveContext,
  done,
  getBufferBytes,
  getBufferLength,
  setBufferBytes,
  getMapValue,
  getMapValueBytes,
  getMapPairs,
  getMapPairsBytes,
  getMapSize,
  setMapPairs,
  setMapPairsBytes,
  addMapValue,
  addMapValueBytes,
  replaceMapValue,
  replaceMapValueBytes,
  removeMapValue,
  continueStream,
  closeStream,
  sendLocalResponse,
  sendLocalResponseBytes,
  CallStatus,
  getStatus,
  getProperty,
  setProperty,
  SharedData,
  getSharedData,
  setSharedData,
  registerSharedQueue,
  resolveSharedQueue,
  enqueueSharedQueue,
  dequeueSharedQueue,
  defineMetric,
  incrementMetric,
  recordMetric,
  getMetric,
  httpCall,
  grpcCall,
  grpcStream,
  grpcSend,
  grpcCancel,
  grpcClose,
  callForeignFunction,
} from "./hostcalls";
export { Metric, Counter, Gauge, Histogram } from "./metrics";
export { getPropertyString, getPropertyInt, getPropertyBool, getPropertyMap, properties } from "./properties";
export { bytesToString, encodeUtf8, decodeUtf8 } from "./memory";
export { JsonKind, JsonValue, JsonError, parseJson, parseJsonBytes, parseJsonAt, lastJsonError, jsonError, quoteJson } from "./json";
export { ProtoWriter, ProtoReader, WireType } from "./protobuf";
export { lowerAscii, equalsIgnoreAsciiCase } from "./text";
