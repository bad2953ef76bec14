// Route selection like Envoy's router: the virtual host by :authority (exact, then *.suffix, then
// prefix.*, then "*"), then the first route whose path and header matchers all match.
import type { HeaderMatcher, HttpManagerConfig, RouteConfig, VirtualHostConfig } from "../config/types.js";
import { getJoined, HeaderEdits, type Pair } from "./pairs.js";

export interface CompiledRoute {
  config: RouteConfig;
  requestEdits: HeaderEdits;
  responseEdits: HeaderEdits;
}

export interface CompiledVirtualHost {
  config: VirtualHostConfig;
  routes: CompiledRoute[];
  requestEdits: HeaderEdits;
  responseEdits: HeaderEdits;
}

/** A match: the route and the header edits to apply, innermost (route) first as Envoy does. */
export interface RouteMatch {
  route: CompiledRoute;
  vhost: CompiledVirtualHost;
  /** Request header edits in Envoy's order: route, virtual host, route configuration. */
  requestEdits: HeaderEdits[];
  responseEdits: HeaderEdits[];
}

export class RouteTable {
  private readonly vhosts: CompiledVirtualHost[];
  private readonly configRequest: HeaderEdits;
  private readonly configResponse: HeaderEdits;

  constructor(hcm: HttpManagerConfig) {
    this.vhosts = hcm.virtualHosts.map((v) => ({
      config: v,
      routes: v.routes.map((r) => ({
        config: r,
        requestEdits: new HeaderEdits(r.requestHeadersToAdd, r.requestHeadersToRemove),
        responseEdits: new HeaderEdits(r.responseHeadersToAdd, r.responseHeadersToRemove),
      })),
      requestEdits: new HeaderEdits(v.requestHeadersToAdd, v.requestHeadersToRemove),
      responseEdits: new HeaderEdits(v.responseHeadersToAdd, v.responseHeadersToRemove),
    }));
    this.configRequest = new HeaderEdits(hcm.requestHeadersToAdd, []);
    this.configResponse = new HeaderEdits(hcm.responseHeadersToAdd, []);
  }

  /** The route for a request's headers, or null (Envoy answers 404, response flag NR). */
  match(headers: readonly Pair[]): RouteMatch | null {
    const authority = (getJoined(headers, ":authority") ?? "").toLowerCase();
    const vhost = this.virtualHost(authority);
    if (!vhost) return null;
    const rawPath = getJoined(headers, ":path") ?? "";
    const q = rawPath.indexOf("?");
    const path = q < 0 ? rawPath : rawPath.slice(0, q);
    for (const route of vhost.routes) {
      const m = route.config.match;
      if (m.path !== undefined) {
        if (m.caseSensitive ? path !== m.path : path.toLowerCase() !== m.path.toLowerCase()) continue;
      } else if (m.prefix !== undefined) {
        if (m.caseSensitive ? !rawPath.startsWith(m.prefix) : !rawPath.toLowerCase().startsWith(m.prefix.toLowerCase())) continue;
      }
      if (!m.headers.every((h) => headerMatches(h, headers))) continue;
      return {
        route,
        vhost,
        requestEdits: [route.requestEdits, vhost.requestEdits, this.configRequest],
        responseEdits: [route.responseEdits, vhost.responseEdits, this.configResponse],
      };
    }
    return null;
  }

  private virtualHost(authority: string): CompiledVirtualHost | null {
    let best: CompiledVirtualHost | null = null;
    let bestRank = -1;
    let bestLen = -1;
    for (const v of this.vhosts) {
      for (const d of v.config.domains) {
        let rank = -1;
        if (d === "*") rank = 0;
        else if (d === authority) rank = 3;
        else if (d.startsWith("*") && authority.endsWith(d.slice(1)) && authority.length > d.length - 1) rank = 2;
        else if (d.endsWith("*") && authority.startsWith(d.slice(0, -1)) && authority.length > d.length - 1) rank = 1;
        if (rank > bestRank || (rank === bestRank && rank > 0 && d.length > bestLen)) {
          best = v;
          bestRank = rank;
          bestLen = d.length;
        }
      }
    }
    return bestRank >= 0 ? best : null;
  }
}

function headerMatches(h: HeaderMatcher, headers: readonly Pair[]): boolean {
  const value = getJoined(headers, h.name);
  let ok: boolean;
  if (value === undefined) ok = false;
  else if (h.kind === "present") ok = true;
  else {
    const v = h.ignoreCase ? value.toLowerCase() : value;
    const want = h.ignoreCase ? h.value.toLowerCase() : h.value;
    ok =
      h.kind === "exact"
        ? v === want
        : h.kind === "prefix"
          ? v.startsWith(want)
          : h.kind === "suffix"
            ? v.endsWith(want)
            : v.includes(want);
  }
  return h.invert ? !ok : ok;
}
