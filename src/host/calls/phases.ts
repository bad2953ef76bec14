// In which phases a host call may run. Today one rule: while _initialize / main / _start run, Envoy
// allows only these imports (wasm.cc startVm); any other traps "restricted_callback". When the ABI
// table generates the phase rules, this set is where the generated one replaces it.

/** Imports Envoy allows while _initialize / main / _start run. */
export const ALLOWED_DURING_START: ReadonlySet<string> = new Set([
  "proxy_log",
  "fd_write",
  "args_sizes_get",
  "args_get",
  "environ_sizes_get",
  "environ_get",
  "clock_time_get",
  "clock_res_get",
  "random_get",
  "poll_oneoff",
  "fd_fdstat_get",
  "fd_prestat_get",
  "fd_prestat_dir_name",
]);
