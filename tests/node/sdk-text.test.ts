// lowerAscii and equalsIgnoreAsciiCase: ASCII only, everything else untouched.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost } from "../../src/host/index.js";
import { built } from "./helpers.js";

test("lowerAscii lowers A-Z only; equalsIgnoreAsciiCase matches header names", async () => {
  const { wasm } = await built("tests/fixtures/filters/text.ts");
  const host = await createHost({ wasm });
  host.startPlugin();
  const http = host.httpStream();
  http.requestHeaders(
    [
      ["X-Match", "ÀÉ-MiXeD-Ω"],
      ["already-lower", "abc"],
      ["x-matcH", "second"],
      ["X-Matches", "no"],
    ],
    true,
  );
  const h = Object.fromEntries(http.sentHttpResponse!.headers);
  assert.equal(h["x-lower-0"], "x-match=ÀÉ-mixed-Ω"); // non-ASCII letters untouched
  assert.equal(h["x-lower-1"], "already-lower=abc");
  assert.equal(h["x-lower-2"], "x-match=second");
  assert.deepEqual(
    http.sentHttpResponse!.headers.filter(([k]) => k === "x-matched").map(([, v]) => v),
    ["ÀÉ-MiXeD-Ω", "second"],
  );
});
