// A loopback upstream for the proxy benchmark, run as its own process (`node upstream.js`): answers
// every request with 200 and a short body, keeps connections alive, prints its port on stdout, and
// exits when its parent closes stdin (or after an hour at most).
import http from "node:http";

const BODY = Buffer.from("hello from the upstream\n");

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": BODY.length });
    res.end(BODY);
  });
});
server.listen(0, "127.0.0.1", () => {
  const addr = server.address();
  if (addr && typeof addr === "object") process.stdout.write(`${addr.port}\n`);
});
const stop = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
setTimeout(stop, 3_600_000).unref();
