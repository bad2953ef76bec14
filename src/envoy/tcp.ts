// A TCP listener with network filters: envoy.filters.network.wasm filters in order, then
// tcp_proxy to a cluster. Client bytes go through the filters' proxy_on_downstream_data in order,
// server bytes through proxy_on_upstream_data in reverse; what each filter passes on goes on.
import net from "node:net";
import { LogLevel, PeerType } from "../abi.js";
import type { TcpConnection } from "../host/index.js";
import type { Logger } from "../run/log.js";
import { formatAddress } from "../run/wire.js";
import type { AccessLog } from "./access-log.js";
import type { ClusterConfig, TcpProxyConfig } from "./config/types.js";
import { readFilterState } from "./http/exchange.js";
import type { WasmPlugin } from "./plugin.js";
import type { Stats } from "./stats.js";

export interface TcpEnv {
  config: TcpProxyConfig;
  cluster: ClusterConfig;
  plugins: () => readonly WasmPlugin[];
  logger: Logger;
  stats: Stats;
  accessLogs: readonly AccessLog[];
}

interface TcpSlot {
  plugin: WasmPlugin;
  conn: TcpConnection;
  /** Bytes of each side's forwarded data already passed on. */
  sentDown: number;
  sentUp: number;
  member: { check(): void };
}

let nextId = 1;
let nextEndpoint = 0;

/** One client connection through the network filters to the cluster. */
export function serveTcp(env: TcpEnv, client: net.Socket): void {
  const id = nextId++;
  const started = performance.now();
  const startTime = new Date();
  let bytesIn = 0;
  let bytesOut = 0;
  let over = false;
  const ep = env.cluster.endpoints[nextEndpoint++ % env.cluster.endpoints.length];
  const server = net.connect({ host: ep.host, port: ep.port, allowHalfOpen: true });
  server.setTimeout(env.cluster.connectTimeoutMs, () => {
    if (server.connecting) server.destroy(Object.assign(new Error("connection timeout"), { code: "ETIMEDOUT" }));
  });
  server.on("connect", () => server.setTimeout(0));
  const slots: TcpSlot[] = [];
  const props = {
    "source.address": formatAddress(client.remoteAddress, client.remotePort),
    "source.port": client.remotePort ?? 0,
    "destination.address": formatAddress(client.localAddress, client.localPort),
    "destination.port": client.localPort ?? 0,
    "connection.id": id,
    connection_id: id,
  };
  for (const plugin of env.plugins()) {
    let conn: TcpConnection | null = null;
    plugin.instance.call(
      () => (conn = plugin.instance.host.tcpConnection({ properties: props })),
      (e) => plugin.logger.proxy(LogLevel.Warn, `cannot start a connection: ${(e as Error)?.message ?? e}`),
    );
    if (!conn) {
      if (plugin.config.failOpen) continue;
      client.destroy();
      server.destroy();
      return;
    }
    const slot: TcpSlot = { plugin, conn, sentDown: 0, sentUp: 0, member: { check: () => queueMicrotask(pump) } };
    plugin.instance.exchanges.add(slot.member);
    slots.push(slot);
  }
  const call = (s: TcpSlot, fn: () => void) =>
    s.plugin.instance.call(fn, (e) => s.plugin.logger.proxy(LogLevel.Error, `internal error: ${(e as Error)?.stack ?? e}`));

  /** Moves what each filter passed on to the next one (or the socket). */
  function pump(): void {
    if (over) return;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      const down = s.conn.downstream.forwardedData;
      if (down.length > s.sentDown) {
        const chunk = down.subarray(s.sentDown);
        s.sentDown = down.length;
        if (i + 1 < slots.length) call(slots[i + 1], () => slots[i + 1].conn.downstreamData(chunk, false));
        else server.write(chunk);
      }
    }
    for (let i = slots.length - 1; i >= 0; i--) {
      const s = slots[i];
      const up = s.conn.upstream.forwardedData;
      if (up.length > s.sentUp) {
        const chunk = up.subarray(s.sentUp);
        s.sentUp = up.length;
        if (i > 0) call(slots[i - 1], () => slots[i - 1].conn.upstreamData(chunk, false));
        else {
          bytesOut += chunk.length;
          client.write(chunk);
        }
      }
    }
    for (const s of slots) {
      if (s.conn.closedBy.downstream || s.conn.closedBy.upstream) {
        env.logger.proxy(
          LogLevel.Debug,
          `connection ${id}: ${s.plugin.label} closed it (${s.conn.closedBy.downstream ?? s.conn.closedBy.upstream})`,
        );
        client.destroy();
        server.destroy();
      }
    }
  }

  client.on("data", (c: Buffer) => {
    bytesIn += c.length;
    if (slots.length === 0) server.write(c);
    else call(slots[0], () => slots[0].conn.downstreamData(c, false));
    pump();
  });
  client.on("end", () => {
    if (slots.length > 0) call(slots[0], () => slots[0].conn.downstreamData(Buffer.alloc(0), true));
    pump();
    server.end();
  });
  server.on("data", (c: Buffer) => {
    const last = slots[slots.length - 1];
    if (!last) {
      bytesOut += c.length;
      client.write(c);
    } else call(last, () => last.conn.upstreamData(c, false));
    pump();
  });
  server.on("end", () => {
    const last = slots[slots.length - 1];
    if (last) call(last, () => last.conn.upstreamData(Buffer.alloc(0), true));
    pump();
    client.end();
  });
  server.on("error", (e: NodeJS.ErrnoException) => {
    env.logger.proxy(LogLevel.Debug, `connection ${id}: upstream ${ep.host}:${ep.port}: ${e.code ?? e.message}`);
    client.destroy();
  });
  client.on("error", () => server.destroy());
  let closedSides = 0;
  const closed = (side: "client" | "server") => {
    for (const s of slots) {
      if (!s.conn.isComplete)
        call(s, () => (side === "client" ? s.conn.closeDownstream(PeerType.Remote) : s.conn.closeUpstream(PeerType.Remote)));
    }
    if (++closedSides < 2) return;
    over = true;
    for (const s of slots) {
      s.plugin.instance.exchanges.delete(s.member);
      if (!s.conn.isComplete) call(s, () => s.conn.complete());
    }
    env.stats.tcpConnection(env.config.statPrefix, env.config.cluster);
    for (const log of env.accessLogs) {
      log.log({
        req: () => undefined,
        resp: () => undefined,
        status: 0,
        flags: "",
        details: "",
        startTime,
        protocol: "",
        bytesReceived: bytesIn,
        bytesSent: bytesOut,
        durationMs: performance.now() - started,
        upstreamHost: `${ep.host}:${ep.port}`,
        cluster: env.config.cluster,
        routeName: "",
        remoteAddress: props["source.address"],
        localAddress: props["destination.address"],
        filterState: (k) =>
          readFilterState(
            slots.map((s) => s.conn.filterState),
            k,
          ),
      });
    }
  };
  client.on("close", () => {
    server.destroy();
    closed("client");
  });
  server.on("close", () => {
    client.end();
    closed("server");
  });
}
