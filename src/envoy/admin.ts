// The admin listener (the configuration's `admin:` block): /ready, /stats, /stats/prometheus.
import http from "node:http";
import type { Stats } from "./stats.js";

const PAGES = ["/ready", "/stats", "/stats/prometheus"];

/** `stats` gives the current stats (with workers, summed across them). */
export function createAdminServer(stats: () => Promise<Stats>, ready: () => boolean): http.Server {
  return http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://admin");
    const text = (status: number, body: string, type = "text/plain; charset=UTF-8") => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-cache, max-age=0", "x-content-type-options": "nosniff" });
      res.end(body);
    };
    switch (url.pathname) {
      case "/ready":
        return ready() ? text(200, "LIVE\n") : text(503, "PRE_INITIALIZING\n");
      case "/stats": {
        const filter = url.searchParams.get("filter");
        let body = (await stats()).text();
        if (filter) {
          let re: RegExp;
          try {
            re = new RegExp(filter);
          } catch {
            return text(400, `Invalid re2 regex: ${filter}\n`);
          }
          body =
            body
              .split("\n")
              .filter((l) => l && re.test(l.split(":")[0]))
              .join("\n") + "\n";
        }
        return text(200, body);
      }
      case "/stats/prometheus":
        return text(200, (await stats()).prometheus(), "text/plain; version=0.0.4; charset=UTF-8");
      case "/":
        return text(200, `proxy-wasm-as envoy admin: ${PAGES.join(" ")}\n`);
      default:
        return text(404, `invalid path. admin commands are: ${PAGES.join(" ")}\n`);
    }
  });
}
