// An HTTP listener: HTTP/1.1 and HTTP/2 prior knowledge (h2c) on one port. With codec_type AUTO the
// first bytes decide, as Envoy does: the HTTP/2 connection preface means h2c, anything else HTTP/1.1.
import http from "node:http";
import http2 from "node:http2";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import { LogLevel } from "../../abi.js";
import { MAX_HEADER_BYTES } from "../../run/proxy.js";
import type { Logger } from "../../run/log.js";
import { formatAddress } from "../../run/wire.js";
import type { DownstreamRequest, DownstreamResponse } from "./downstream.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export interface HttpConnectionHandler {
  /** Called for each request, with an id and the client socket per connection. */
  request(req: DownstreamRequest, res: DownstreamResponse, connectionId: number, socket: Socket): void;
}

let nextConnectionId = 1;

/** Dispatches accepted sockets to an HTTP/1.1 or an h2c server. */
export class HttpCodec {
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  private readonly ids = new WeakMap<object, number>();
  private readonly sockets = new Set<Socket>();
  /** The servers read wrapper streams; these map them (and HTTP/2 sessions) to the client socket. */
  private readonly sessionSockets = new WeakMap<object, Socket>();
  private readonly streamSockets = new WeakMap<object, Socket>();
  private accepting: Socket | null = null;

  constructor(
    private readonly codec: "AUTO" | "HTTP1" | "HTTP2",
    handler: HttpConnectionHandler,
    private readonly logger: Logger,
  ) {
    const onRequest = (req: DownstreamRequest, res: DownstreamResponse) => {
      const socket =
        req.httpVersionMajor === 2
          ? this.sessionSockets.get((req as http2.Http2ServerRequest).stream.session!)!
          : this.streamSockets.get(req.socket)!;
      let id = this.ids.get(socket);
      if (id === undefined) this.ids.set(socket, (id = nextConnectionId++));
      handler.request(req, res, id, socket);
    };
    this.h1 = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, onRequest);
    // A client that half-closes after its request still gets its response (Envoy answers it).
    (this.h1 as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    this.h1.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === "ECONNRESET" || !socket.writable) return void socket.destroy();
      const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
      const body = http.STATUS_CODES[status] ?? "Bad Request";
      this.logger.proxy(
        LogLevel.Debug,
        `rejected a malformed request from ${formatAddress(socket.remoteAddress, socket.remotePort)}: ${err.code ?? err.message}`,
      );
      socket.end(
        `HTTP/1.1 ${status} ${body}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`,
      );
    });
    this.h2 = http2.createServer({ maxSessionMemory: 64 }, onRequest);
    this.h2.on("session", (session) => {
      if (this.accepting) this.sessionSockets.set(session, this.accepting);
    });
    this.h2.on("sessionError", (e) => this.logger.proxy(LogLevel.Debug, `HTTP/2 session error: ${e.message}`));
  }

  /** A new client connection. */
  accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => undefined);
    const onData = (chunk: Buffer) => {
      socket.off("data", onData);
      socket.pause();
      const n = Math.min(chunk.length, PREFACE.length);
      const h2 = this.codec === "HTTP2" || (this.codec === "AUTO" && chunk.subarray(0, n).equals(PREFACE.subarray(0, n)));
      if (!h2) {
        this.streamSockets.set(socket, socket);
        socket.unshift(chunk);
        this.h1.emit("connection", socket);
        socket.resume();
        return;
      }
      // The HTTP/2 server reads a stream that first gives back the bytes read here (see replay()).
      const stream = replay(socket, chunk);
      this.streamSockets.set(stream, socket);
      this.accepting = socket;
      (h2 ? this.h2 : this.h1).emit("connection", stream);
      this.accepting = null;
    };
    socket.on("data", onData);
  }

  /** Stops keep-alive connections (close) or all of them (force). */
  close(force: boolean): void {
    this.h1.closeIdleConnections();
    for (const s of this.sockets) if (force) s.destroy();
    if (force) this.h1.closeAllConnections();
  }
}

/**
 * The socket as a stream that first gives back the bytes already read to sniff the protocol.
 * Node's HTTP/2 session reads a socket's handle directly and would miss bytes put back with
 * unshift(); the HTTP/1 server takes them back, so only h2c connections read this wrapper.
 */
function replay(socket: Socket, first: Buffer): Duplex {
  const d = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, encoding, cb) {
      socket.write(chunk, encoding, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy();
      cb(err);
    },
  });
  d.push(first);
  socket.on("data", (c: Buffer) => {
    if (!d.push(c)) socket.pause();
  });
  socket.on("end", () => d.push(null));
  socket.on("error", (e) => d.destroy(e));
  socket.on("close", () => d.destroy());
  return d;
}
