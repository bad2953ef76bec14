// The proxy's listening side: node:http with Envoy's limits, what Envoy refuses before any filter
// runs (upgrades, malformed requests), and binding the address with a clear error.
import http from "node:http";
import type { Socket } from "node:net";
import { LogLevel } from "../abi.js";
import { UserError } from "../errors.js";
import type { ExchangeSummary } from "./exchange-legs.js";
import type { Logger } from "./log.js";
import type { ListenAddress } from "./options.js";
import { formatAddress } from "./wire.js";

/** Envoy's default max_request_headers_kb (60 KiB); larger request heads get 431. */
export const MAX_HEADER_BYTES = 60 * 1024;

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
export function createProxyServer(logger: Logger, handlers: ServerHandlers): http.Server {
  const connectionIds = new WeakMap<Socket, number>();
  let nextConnectionId = 1;
  const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    handlers.arrived();
    let id = connectionIds.get(req.socket);
    if (id === undefined) connectionIds.set(req.socket, (id = nextConnectionId++));
    const upgrade = req.headers.upgrade;
    if (upgrade !== undefined && upgrade.toLowerCase() !== "h2c") {
      // Envoy without upgrade_configs refuses upgrades (WebSocket) with 403 before any filter runs.
      logger.proxy(LogLevel.Debug, `refused an upgrade to ${JSON.stringify(upgrade)} (not supported; Envoy answers 403 without upgrade_configs)`);
      res.writeHead(403, { "content-length": "0" }).end();
      res.on("close", () => handlers.refused({ method: req.method ?? "", path: req.url ?? "", status: 403, outcome: "upgrade_failed", ms: 0, generation: 0 }));
      return;
    }
    handlers.serve(req, res, id);
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    // Node's HTTP/1 parser rejected the request before any filter ran (Envoy: http1.codec_error).
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
    const body = http.STATUS_CODES[status] ?? "Bad Request";
    logger.proxy(LogLevel.Debug, `rejected a malformed request from ${formatAddress(socket.remoteAddress, socket.remotePort)}: ${err.code ?? err.message} -> ${status}`);
    socket.end(`HTTP/1.1 ${status} ${body}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`);
  });
  return server;
}

/** Listens on the address; the port actually bound (port 0 picks one). A UserError says why not. */
export function listenOn(server: http.Server, listen: ListenAddress): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      const where = `${listen.host}:${listen.port}`;
      if (e.code === "EADDRINUSE") reject(new UserError(`cannot listen on ${where}: the port is in use; pick another with --listen ${listen.host}:PORT`));
      else if (e.code === "EACCES") reject(new UserError(`cannot listen on ${where}: permission denied (ports below 1024 need privileges); pick another with --listen`));
      else if (e.code === "EADDRNOTAVAIL" || e.code === "ENOTFOUND" || e.code === "EAI_AGAIN") reject(new UserError(`cannot listen on ${where}: no such local address`));
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
