// The WASI subset Envoy's host provides (proxy-wasm-cpp-host src/exports.cc wasi_unstable_*):
// stdout/stderr go to the log, clocks and random work, everything else is absent.
import { randomFillSync } from "node:crypto";
import { MAX_RANDOM_BYTES } from "../../abi.js";
import { GuestExit } from "./guest-exit.js";
import { logCapped, logRoom } from "./log.js";
import { u, type HostCallState } from "./state.js";

const WASI_BADF = 8;
const WASI_FAULT = 21;
const WASI_INVAL = 28;
const WASI_NOSYS = 52;
const WASI_NOTSUP = 58;

export function fd_write(vm: HostCallState, fd: number, iovs: number, iovsLen: number, nwrittenPtr: number): number {
  fd = u(fd);
  if (fd !== 1 && fd !== 2) return WASI_BADF;
  iovs = u(iovs);
  iovsLen = u(iovsLen);
  const m = vm.mem();
  if (iovs + iovsLen * 8 > m.length) return WASI_FAULT;
  // Gathers at most one log message's worth of bytes: 64 iovecs over one big buffer must not
  // become 64 copies of it.
  const cap = logRoom(vm);
  const parts: Buffer[] = [];
  let total = 0;
  let kept = 0;
  for (let i = 0; i < iovsLen; i++) {
    const p = m.readUInt32LE(iovs + i * 8);
    const l = m.readUInt32LE(iovs + i * 8 + 4);
    if (l === 0) continue;
    if (p + l > m.length) return WASI_FAULT;
    if (kept < cap) {
      const take = Math.min(l, cap - kept);
      parts.push(m.subarray(p, p + take));
      kept += take;
    }
    total += l;
  }
  if (!vm.inBounds(u(nwrittenPtr), 4)) return WASI_FAULT;
  if (total > 0 && kept > 0) {
    // A trailing newline ends the line; it is not part of the message.
    const joined = Buffer.concat(parts, kept);
    const newline = kept === total && joined[kept - 1] === 10;
    logCapped(vm, fd === 1 ? 2 : 4, newline ? joined.subarray(0, kept - 1) : joined, newline ? total - 1 : total);
  }
  vm.setU32(u(nwrittenPtr), total);
  return 0;
}

export const fd_read = (): number => WASI_NOSYS;
export const fd_seek = (): number => 0;
export const fd_close = (): number => 0;

export function fd_fdstat_get(vm: HostCallState, fd: number, statPtr: number): number {
  fd = u(fd);
  if (fd !== 1 && fd !== 2) return WASI_BADF;
  statPtr = u(statPtr);
  if (!vm.inBounds(statPtr, 24)) return WASI_FAULT;
  vm.mem().fill(0, statPtr, statPtr + 24);
  vm.setU64(statPtr + 8, 64n); // fs_rights_base = FD_WRITE
  return 0;
}

export const fd_prestat_get = (): number => WASI_BADF;
export const fd_prestat_dir_name = (): number => WASI_NOSYS;

export function environ_sizes_get(vm: HostCallState, countPtr: number, sizePtr: number): number {
  const env = vm.host.env;
  let size = 0;
  for (const [k, v] of env) size += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
  return vm.setU32(u(countPtr), env.length) && vm.setU32(u(sizePtr), size) ? 0 : WASI_FAULT;
}

export function environ_get(vm: HostCallState, arrPtr: number, bufPtr: number): number {
  arrPtr = u(arrPtr);
  bufPtr = u(bufPtr);
  for (const [k, v] of vm.host.env) {
    const data = Buffer.from(`${k}=${v}\0`, "utf8");
    if (!vm.setU32(arrPtr, bufPtr)) return WASI_FAULT;
    if (!vm.inBounds(bufPtr, data.length)) return WASI_FAULT;
    data.copy(vm.mem(), bufPtr);
    bufPtr += data.length;
    arrPtr += 4;
  }
  return 0;
}

export function args_sizes_get(vm: HostCallState, argcPtr: number, sizePtr: number): number {
  return vm.setU32(u(argcPtr), 0) && vm.setU32(u(sizePtr), 0) ? 0 : WASI_FAULT;
}

export const args_get = (): number => 0;

export function clock_time_get(vm: HostCallState, id: number, _precision: bigint, retPtr: number): number {
  let t: bigint;
  switch (u(id)) {
    case 0:
      t = vm.host.clock.nowNs();
      break;
    case 1:
      t = vm.host.clock.monotonicNs();
      break;
    default:
      return WASI_NOTSUP;
  }
  return vm.setU64(u(retPtr), t) ? 0 : WASI_FAULT;
}

export function clock_res_get(vm: HostCallState, id: number, retPtr: number): number {
  if (u(id) > 1) return WASI_NOTSUP;
  return vm.setU64(u(retPtr), 1n) ? 0 : WASI_FAULT;
}

export function random_get(vm: HostCallState, ptr: number, len: number): number {
  ptr = u(ptr);
  len = u(len);
  if (len > MAX_RANDOM_BYTES) return WASI_INVAL;
  if (len === 0) return 0;
  if (!vm.inBounds(ptr, len)) return WASI_FAULT;
  randomFillSync(vm.mem(), ptr, len);
  return 0;
}

export const sched_yield = (): number => 0;

export function poll_oneoff(vm: HostCallState, _in: number, _out: number, _n: number, neventsPtr: number): number {
  return vm.setU32(u(neventsPtr), 0) ? 0 : WASI_FAULT;
}

/** Ends the guest's run: the VM is marked failed with kind "proc_exit". */
export function proc_exit(vm: HostCallState, code: number): never {
  vm.host.log(4, `wasi proc_exit(${code | 0})`, vm.ctx().id, vm.index);
  throw new GuestExit(`proc_exit(${code | 0})`, "proc_exit");
}
