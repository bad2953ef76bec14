// Hostile and careless filters, written in WAT so each does exactly one bad thing: the inputs of
// the regression tests (tests/node/hostile-*.test.ts) and of `npm run hostile` (report.ts).
import { RP, watModule } from "../../src/host/wat-builder.js";

const MIB = 1024 * 1024;
/** Where the 1 MiB buffer the flooding modules write from starts (past the builder's scratch and data). */
const BUF = 2 * 65536;
const IOVS = 32768;

/** A module whose proxy_on_request_headers runs `body` and then continues (returns 0). */
function onRequestHeaders(body: string, extra = "", pages = 2): Promise<Uint8Array> {
  return watModule(
    () => `(func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) ${body} (i32.const 0))
  ${extra}`,
    { pages },
  );
}

/** Spins forever in proxy_on_request_headers. */
export const loopForever = (): Promise<Uint8Array> => onRequestHeaders("(loop $l (br $l))");

/** Logs `count` messages of 1 MiB each (zero bytes) per request. */
export const logFlood = (count = 4000): Promise<Uint8Array> =>
  onRequestHeaders(
    `(local $i i32) (loop $l (drop (call $proxy_log (i32.const 2) (i32.const ${BUF}) (i32.const ${MIB})))
       (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const ${count}))))`,
    "",
    (BUF + MIB) / 65536 + 1,
  );

/** Calls WASI fd_write `count` times, each with 64 iovecs over the same 1 MiB buffer (64 MiB a call). */
export const wasiAmplify = (count = 2000): Promise<Uint8Array> => {
  let iovs = "";
  for (let k = 0; k < 64; k++) {
    iovs += `(i32.store (i32.const ${IOVS + k * 8}) (i32.const ${BUF})) (i32.store (i32.const ${IOVS + k * 8 + 4}) (i32.const ${MIB}))`;
  }
  return onRequestHeaders(
    `(local $i i32) ${iovs} (loop $l (drop (call $fd_write (i32.const 1) (i32.const ${IOVS}) (i32.const 64) (i32.const ${RP})))
       (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const ${count}))))`,
    "",
    (BUF + MIB) / 65536 + 1,
  );
};

/** Grows its memory 64 MiB at a time, touching every new page, until memory.grow fails. */
export const memoryGrow = (): Promise<Uint8Array> =>
  onRequestHeaders(
    `(local $old i32) (block $done (loop $l
       (local.set $old (memory.grow (i32.const 1024)))
       (br_if $done (i32.eq (local.get $old) (i32.const -1)))
       (memory.fill (i32.mul (local.get $old) (i32.const 65536)) (i32.const 1) (i32.const ${64 * MIB}))
       (br $l)))`,
  );

/** A local reply built from the given headers and body (status `status`), sent from proxy_on_request_headers. */
export const localReply = (status: number, headers: Array<[string, string]>, body = "denied"): Promise<Uint8Array> =>
  watModule(
    (w) => `(func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $proxy_send_local_response (i32.const ${status}) ${w.str("denied by policy")} ${w.str(body)} ${w.pairs(headers)} (i32.const -1)))
    (i32.const 1))`,
  );

/** proxy_on_memory_allocate that calls a host function which allocates again (re-entrant allocation). */
export const reentrantAllocate = (): Promise<Uint8Array> =>
  watModule(
    (w) => `(func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32)
    (drop (call $proxy_get_header_map_value (i32.const 0) ${w.str(":path")} (i32.const ${RP}) (i32.const ${RP + 4})))
    (call $malloc (local.get $n)))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (drop (call $proxy_get_header_map_value (i32.const 0) ${w.str(":path")} (i32.const ${RP}) (i32.const ${RP + 4})))
    (i32.const 0))`,
    { allocatorName: "internal_malloc" },
  );
