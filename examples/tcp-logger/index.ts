// tcp-logger: a network (TCP) filter that counts the bytes of each connection in both directions
// and logs one line per connection when it ends, with who closed each side:
//   tcp 10.0.0.1:5555 -> 127.0.0.1:10000 (connection 7): 9 bytes from client, 7 bytes from upstream,
//   client closed (remote), upstream closed (unknown)
// It also keeps counters `tcp_logger.connections`, `tcp_logger.bytes_from_client`,
// `tcp_logger.bytes_from_upstream` and a gauge `tcp_logger.active_connections` (Envoy prefixes them
// with "wasmcustom."), and can log the first bytes a client sends (to recognise a protocol).
// Data passes through unchanged.
// Configuration (JSON, optional): {"peek_bytes": 16}  (0, the default, logs no data)
import {
  Action,
  Counter,
  Gauge,
  JsonKind,
  PeerType,
  RootContext,
  StreamContext,
  jsonError,
  logDebug,
  logError,
  logInfo,
  parseJson,
  properties,
  setRootContext,
} from "proxy-wasm-as";

// Metrics are defined with the host on first use, so module-level constants are fine.
const connections = new Counter("tcp_logger.connections");
const bytesFromClient = new Counter("tcp_logger.bytes_from_client");
const bytesFromUpstream = new Counter("tcp_logger.bytes_from_upstream");
const activeConnections = new Gauge("tcp_logger.active_connections");

const MAX_PEEK: i64 = 256;

class TcpLoggerRoot extends RootContext {
  peekBytes: u32 = 0;

  onConfigure(pluginConfigurationSize: u32): bool {
    if (pluginConfigurationSize == 0) return true;
    const config = parseJson(this.getPluginConfigurationString());
    if (config === null) {
      logError("tcp-logger: the configuration is not valid JSON: " + jsonError());
      return false;
    }
    const peek = config.get("peek_bytes");
    if (peek !== null) {
      const n = peek.asInteger(-1);
      if (n < 0 || n > MAX_PEEK) {
        logError("tcp-logger: 'peek_bytes' must be a whole number from 0 to " + MAX_PEEK.toString());
        return false;
      }
      this.peekBytes = <u32>n;
    } else if (config.kind != JsonKind.Object) {
      logError("tcp-logger: the configuration must be a JSON object, not " + config.typeName());
      return false;
    }
    return true;
  }

  createStreamContext(contextId: u32): StreamContext | null {
    return new TcpLogger(contextId, this.peekBytes);
  }
}

class TcpLogger extends StreamContext {
  fromClient: u64 = 0;
  fromUpstream: u64 = 0;
  downstreamClosedBy: PeerType = PeerType.Unknown;
  upstreamClosedBy: PeerType = PeerType.Unknown;
  downstreamClosed: bool = false;
  upstreamClosed: bool = false;

  constructor(
    contextId: u32,
    private peekBytes: u32,
  ) {
    super(contextId);
  }

  onNewConnection(): Action {
    connections.increment();
    activeConnections.add(1);
    return Action.Continue;
  }

  onDownstreamData(dataSize: u32, endOfStream: bool): Action {
    // `dataSize` is what the host holds now: only this chunk, since we always continue.
    if (dataSize > 0) {
      if (this.fromClient == 0 && this.peekBytes > 0) {
        const head = this.getDownstreamData(0, this.peekBytes);
        if (head !== null) logInfo("tcp connection " + this.contextId.toString() + " starts with " + printable(head));
      }
      this.fromClient += dataSize;
      bytesFromClient.increment(dataSize);
    }
    return Action.Continue;
  }

  onUpstreamData(dataSize: u32, endOfStream: bool): Action {
    if (dataSize > 0) {
      this.fromUpstream += dataSize;
      bytesFromUpstream.increment(dataSize);
    }
    return Action.Continue;
  }

  onDownstreamClose(peerType: PeerType): void {
    this.downstreamClosed = true;
    this.downstreamClosedBy = peerType;
    logDebug("tcp connection " + this.contextId.toString() + ": client side closed (" + peerName(peerType) + ")");
  }

  onUpstreamClose(peerType: PeerType): void {
    this.upstreamClosed = true;
    this.upstreamClosedBy = peerType;
    logDebug("tcp connection " + this.contextId.toString() + ": upstream side closed (" + peerName(peerType) + ")");
  }

  // Envoy calls onLog (after onDone) once the client side has closed.
  onLog(): void {
    const source = properties.sourceAddress();
    const destination = properties.destinationAddress();
    const id = properties.connectionId();
    logInfo(
      "tcp " +
        (source !== null ? source : "-") +
        " -> " +
        (destination !== null ? destination : "-") +
        " (connection " +
        (id >= 0 ? id.toString() : "-") +
        "): " +
        this.fromClient.toString() +
        " bytes from client, " +
        this.fromUpstream.toString() +
        " bytes from upstream, " +
        (this.downstreamClosed ? "client closed (" + peerName(this.downstreamClosedBy) + ")" : "client open") +
        ", " +
        (this.upstreamClosed ? "upstream closed (" + peerName(this.upstreamClosedBy) + ")" : "upstream open"),
    );
  }

  // Always the last callback, also when Envoy drops the connection without onLog (e.g. at shutdown).
  onDelete(): void {
    activeConnections.add(-1);
  }
}

/** Who closed: Envoy reports Remote when the peer closed, Local when Envoy did, Unknown otherwise. */
function peerName(peer: PeerType): string {
  if (peer == PeerType.Remote) return "remote";
  if (peer == PeerType.Local) return "local";
  return "unknown";
}

/** Bytes as quoted text with non-printable bytes escaped as \xNN. */
function printable(data: ArrayBuffer): string {
  const hex = "0123456789abcdef";
  let out = "'";
  const p = changetype<usize>(data);
  for (let i = 0, n = data.byteLength; i < n; i++) {
    const c = <i32>load<u8>(p + <usize>i);
    if (c >= 0x20 && c < 0x7f && c != 0x5c && c != 0x27) out += String.fromCharCode(c);
    else out += "\\x" + hex.charAt(c >> 4) + hex.charAt(c & 15);
  }
  return out + "'";
}

setRootContext((contextId: u32): RootContext => new TcpLoggerRoot(contextId));
