// The proxy's listening side: node:http with Envoy's limits, what Envoy refuses before any filter
// runs (upgrades, malformed requests), and binding the address with a clear error.
import http from "node:http";
import type { Socket } from "node:net";
import { LogLevel } from "../abi.js";
import { UserError } from "../errors.js";
import type { ExchangeSummary } from "./exchange-legs.js";
import type { Logger } from "./log.js";
import type { ListenAddress } from "./options.js";
import { formatAddress, nominatedHeaders } from "./wire.js";

/** Envoy's default max_request_headers_kb (60 KiB); larger request heads get 431. */
export const MAX_HEADER_BYTES = 60 * 1024;
/** Envoy's default max_headers_count (HttpProtocolOptions): more request headers get 431. */
export const MAX_HEADERS_COUNT = 100;

/** Envoy's limits on a request head, as run flags. */
export interface HeadLimits {
  /** Bytes of the request head (--max-request-headers, Envoy's max_request_headers_kb). */
  maxHeaderBytes: number;
  /** Request headers (--max-headers, Envoy's max_headers_count). */
  maxHeadersCount: number;
}

/** What the server does with requests. */
export interface ServerHandlers {
  /** Every request that got past Node's parser, before anything else. */
  arrived(): void;
  /** A request for the filter, with its connection id (1, 2, ... per client connection). */
  serve(req: http.IncomingMessage, res: http.ServerResponse, connectionId: number): void;
  /** A request refused before any filter ran, once its response is gone. */
  refused(summary: ExchangeSummary): void;
}

/**
 * An HTTP/1.1 server that hands requests to the filter, except upgrades (403, as Envoy without
 * upgrade_configs) and requests Node's parser rejects (400, 408 or 431, as Envoy's codec).
 */
export function createProxyServer(
  logger: Logger,
  handlers: ServerHandlers,
  limits: HeadLimits = { maxHeaderBytes: MAX_HEADER_BYTES, maxHeadersCount: MAX_HEADERS_COUNT },
): http.Server {
  const connectionIds = new WeakMap<Socket, number>();
  let nextConnectionId = 1;
  const refuse = (req: http.IncomingMessage, res: http.ServerResponse, status: number, outcome: string, why: string) => {
    logger.proxy(LogLevel.Debug, `refused ${req.method} ${req.url}: ${why} -> ${status}`);
    const body = http.STATUS_CODES[status] ?? "";
    res.writeHead(status, { "content-length": String(body.length), "content-type": "text/plain", connection: "close" }).end(body);
    res.on("close", () => handlers.refused({ method: req.method ?? "", path: req.url ?? "", status, outcome, ms: 0, generation: 0 }));
  };
  // Node counts up to maxHeadersCount and drops the rest silently (a Transfer-Encoding past it would
  // vanish); one more than the limit is enough to know the request is over it.
  const server = http.createServer({ maxHeaderSize: limits.maxHeaderBytes }, (req, res) => {
    handlers.arrived();
    let id = connectionIds.get(req.socket);
    if (id === undefined) connectionIds.set(req.socket, (id = nextConnectionId++));
    if (req.rawHeaders.length / 2 > limits.maxHeadersCount) {
      // Envoy's codec: "http1.too_many_headers", 431 before any filter runs.
      refuse(req, res, 431, "http1.too_many_headers", `more than ${limits.maxHeadersCount} headers (--max-headers)`);
      return;
    }
    if (nominatedHeaders(req) === null) {
      refuse(
        req,
        res,
        400,
        "http1.connection_header_rejected",
        `the Connection header nominates headers Envoy refuses to drop (${req.headers.connection})`,
      );
      return;
    }
    const upgrade = req.headers.upgrade;
    if (upgrade !== undefined && upgrade.toLowerCase() !== "h2c") {
      // Envoy without upgrade_configs refuses upgrades (WebSocket) with 403 before any filter runs.
      logger.proxy(
        LogLevel.Debug,
        `refused an upgrade to ${JSON.stringify(upgrade)} (not supported; Envoy answers 403 without upgrade_configs)`,
      );
      res.writeHead(403, { "content-length": "0" }).end();
      res.on("close", () =>
        handlers.refused({ method: req.method ?? "", path: req.url ?? "", status: 403, outcome: "upgrade_failed", ms: 0, generation: 0 }),
      );
      return;
    }
    handlers.serve(req, res, id);
  });
  server.maxHeadersCount = limits.maxHeadersCount + 1;
  // Envoy without upgrade_configs for CONNECT refuses it like any other upgrade: 403 upgrade_failed.
  server.on("connect", (req: http.IncomingMessage, socket: Socket) => {
    handlers.arrived();
    logger.proxy(LogLevel.Debug, `refused CONNECT ${req.url} (not supported; Envoy answers 403 without upgrade_configs for CONNECT)`);
    socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    socket.on("close", () =>
      handlers.refused({ method: "CONNECT", path: req.url ?? "", status: 403, outcome: "upgrade_failed", ms: 0, generation: 0 }),
    );
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    // Node's HTTP/1 parser rejected the request before any filter ran (Envoy: http1.codec_error).
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
    const body = http.STATUS_CODES[status] ?? "Bad Request";
    logger.proxy(
      LogLevel.Debug,
      `rejected a malformed request from ${formatAddress(socket.remoteAddress, socket.remotePort)}: ${err.code ?? err.message} -> ${status}`,
    );
    socket.end(
      `HTTP/1.1 ${status} ${body}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  return server;
}

/** Listens on the address; the port actually bound (port 0 picks one). A UserError says why not. */
export function listenOn(server: http.Server, listen: ListenAddress): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      const where = `${listen.host}:${listen.port}`;
      if (e.code === "EADDRINUSE")
        reject(new UserError(`cannot listen on ${where}: the port is in use; pick another with --listen ${listen.host}:PORT`));
      else if (e.code === "EACCES")
        reject(
          new UserError(`cannot listen on ${where}: permission denied (ports below 1024 need privileges); pick another with --listen`),
        );
      else if (e.code === "EADDRNOTAVAIL" || e.code === "ENOTFOUND" || e.code === "EAI_AGAIN")
        reject(new UserError(`cannot listen on ${where}: no such local address`));
      else reject(new UserError(`cannot listen on ${where}: ${e.code ?? e.message}`));
    };
    const onListening = () => {
      server.off("error", onError);
      const addr = server.address();
      resolve(typeof addr === "object" && addr ? addr.port : listen.port);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(listen.port, listen.host);
  });
}
