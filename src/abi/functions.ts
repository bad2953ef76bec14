// The proxy-wasm ABI as data, the single source of every list of ABI names in this repository:
// every host function (import) and every module callback (export) of ABI 0.2.1 with its Wasm
// signature, the version that introduced it and the phases it may be called in, plus the
// 0.1.0-only rows a 0.2.x module must not use and the WASI subset Envoy's host provides.
//
// `npm run gen` writes the SDK's @external declarations, the build's callback list, the verifier's
// tables, the host's import skeleton and the test mock host from these rows (src/gen/). Adding an
// ABI function means adding one row here, running `npm run gen`, and implementing it on each side.
//
// Sources: proxy-wasm/spec abi-versions/v0.2.1/README.md; proxy-wasm-cpp-host
// include/proxy-wasm/exports.h, include/proxy-wasm/wasm.h (FOR_ALL_HOST_FUNCTIONS,
// FOR_ALL_MODULE_FUNCTIONS) and src/wasm.cc (which imports each version registers, and which
// ones startVm allows while the module initializes).
import { params as p, type AbiFunction, type AbiVersion, type WasmType } from "./types.js";

const CALLBACK_ONLY = ["callback"] as const;
const START_TOO = ["start", "callback"] as const;
/**
 * What needs proxy_on_context_create and proxy_on_delete: factories of per-stream contexts, roots
 * chosen by root_id (read when the root is created) and onDone (a root's and a stream's differ).
 */
const PER_CONTEXT = ["setHttpContext", "setStreamContext", "createHttpContext", "createStreamContext", "registerRootContext", "onDone"];

function hostFn(name: string, params: string, area: string, doc: string, since: AbiVersion = "0.2.0", until?: AbiVersion): AbiFunction {
  return { module: "env", name, params: p(params), results: ["i32"], since, until, area, doc, phases: CALLBACK_ONLY };
}

/** Envoy lets the module call it while _initialize / main / _start run, too. */
const duringStart = (fn: AbiFunction): AbiFunction => ({ ...fn, phases: START_TOO });

/** A 0.1.0-only function, removed in 0.2.0; `replacement` is what to use instead ("" for none). */
function legacy(name: string, params: string, replacement: string): AbiFunction {
  const doc = replacement ? `0.1.0 only; use ${replacement}.` : "0.1.0 only; removed in 0.2.0.";
  return { ...hostFn(name, params, "legacy", doc, "0.1.0", "0.1.0"), ...(replacement ? { replacement } : {}) };
}

/** A module export; `sdkMethods` are the SDK context methods it dispatches to (see AbiFunction). */
function callback(
  name: string,
  params: string,
  results: WasmType[],
  area: string,
  doc: string,
  since: AbiVersion = "0.2.0",
  sdkMethods?: readonly string[],
): AbiFunction {
  return { module: "", name, params: p(params), results, since, area, doc, ...(sdkMethods ? { sdkMethods } : {}) };
}

/** An export Envoy's host looks up although the spec does not define it (FOR_ALL_MODULE_FUNCTIONS). */
const envoyOnly = (fn: AbiFunction): AbiFunction => ({ ...fn, envoyOnly: true });

/**
 * Host functions in import module `env`. All return an i32 proxy_status_t. Pointer parameters
 * named `return_*` are out-parameters the host writes through.
 */
// biome-ignore format: one row per function keeps the table readable.
export const HOST_FUNCTIONS: readonly AbiFunction[] = [
  // Lifecycle, logging, time
  duringStart(hostFn("proxy_log", "level,message_data,message_size", "logging", "Log a message at a level (TRACE 0 .. CRITICAL 5).", "0.1.0")),
  hostFn("proxy_get_log_level", "return_level", "logging", "The host's current log level for this plugin.", "0.2.1"),
  hostFn("proxy_get_current_time_nanoseconds", "return_time", "time", "Wall-clock time as u64 nanoseconds since the epoch.", "0.1.0"),
  hostFn("proxy_set_tick_period_milliseconds", "period", "timers", "Call proxy_on_tick on the root context every period ms; 0 disables.", "0.1.0"),
  hostFn("proxy_set_effective_context", "context_id", "lifecycle", "Make later host calls act on this context.", "0.1.0"),
  hostFn("proxy_done", "", "lifecycle", "Tell the host a root context that returned false from proxy_on_done has finished.", "0.1.0"),
  hostFn("proxy_call_foreign_function", "function_name_data,function_name_size,arguments_data,arguments_size,return_results_data,return_results_size", "foreign", "Call a function the host registered by name.", "0.1.0"),
  // Buffers
  hostFn("proxy_get_buffer_bytes", "buffer_type,start,max_size:u32,return_buffer_data,return_buffer_size", "buffers", "Copy up to max_size bytes from start of a buffer into guest memory.", "0.1.0"),
  hostFn("proxy_get_buffer_status", "buffer_type,return_length,return_flags", "buffers", "Length and flags of a buffer (Envoy always reports flags 0).", "0.1.0"),
  hostFn("proxy_set_buffer_bytes", "buffer_type,start,size,buffer_data,buffer_size", "buffers", "Envoy: (0, 0) prepends, (0, >= length) replaces all, start >= length appends; any other range is BAD_ARGUMENT.", "0.1.0"),
  // Header maps
  hostFn("proxy_get_header_map_pairs", "map_type,return_map_data,return_map_size", "headers", "All pairs of a map, serialized.", "0.1.0"),
  hostFn("proxy_set_header_map_pairs", "map_type,map_data,map_size", "headers", "Replace a whole map with serialized pairs.", "0.1.0"),
  hostFn("proxy_get_header_map_size", "map_type,return_size", "headers", "Size of a map (Envoy: the sum of its keys' and values' lengths).", "0.1.0"),
  hostFn("proxy_get_header_map_value", "map_type,key_data,key_size,return_value_data,return_value_size", "headers", "One value by key; NOT_FOUND when missing (0.2.x).", "0.1.0"),
  hostFn("proxy_replace_header_map_value", "map_type,key_data,key_size,value_data,value_size", "headers", "Set a key to a single value (adds it when missing).", "0.1.0"),
  hostFn("proxy_remove_header_map_value", "map_type,key_data,key_size", "headers", "Remove every value of a key.", "0.1.0"),
  hostFn("proxy_add_header_map_value", "map_type,key_data,key_size,value_data,value_size", "headers", "Append a value to a key.", "0.1.0"),
  // Streams and local replies
  hostFn("proxy_continue_stream", "stream_type", "streams", "Resume a paused stream (HTTP request/response, downstream/upstream).", "0.2.0"),
  hostFn("proxy_close_stream", "stream_type", "streams", "Close (reset) a stream.", "0.2.0"),
  hostFn("proxy_send_local_response", "status_code,status_code_details_data,status_code_details_size,body_data,body_size,headers_data,headers_size,grpc_status:i32", "streams", "Answer the HTTP request locally; ends the current callback's iteration.", "0.1.0"),
  hostFn("proxy_get_status", "return_status_code,return_status_message_data,return_status_message_size", "streams", "Status code and message of the last HTTP/gRPC call response.", "0.1.0"),
  // Properties
  hostFn("proxy_get_property", "path_data,path_size,return_value_data,return_value_size", "properties", "Read a property; path segments joined by NUL.", "0.1.0"),
  hostFn("proxy_set_property", "path_data,path_size,value_data,value_size", "properties", "Write a property; path segments joined by NUL.", "0.1.0"),
  // Shared data and queues
  hostFn("proxy_get_shared_data", "key_data,key_size,return_value_data,return_value_size,return_cas", "shared-data", "Read a shared value and its CAS token; NOT_FOUND when missing.", "0.1.0"),
  hostFn("proxy_set_shared_data", "key_data,key_size,value_data,value_size,cas", "shared-data", "Write a shared value; CAS_MISMATCH when cas != 0 and stale.", "0.1.0"),
  hostFn("proxy_register_shared_queue", "queue_name_data,queue_name_size,return_queue_id", "queues", "Create (or find) this VM's queue by name.", "0.1.0"),
  hostFn("proxy_resolve_shared_queue", "vm_id_data,vm_id_size,queue_name_data,queue_name_size,return_queue_id", "queues", "Find a queue registered by a VM id.", "0.1.0"),
  hostFn("proxy_enqueue_shared_queue", "queue_id,value_data,value_size", "queues", "Push a message; the registering VM gets proxy_on_queue_ready.", "0.1.0"),
  hostFn("proxy_dequeue_shared_queue", "queue_id,return_value_data,return_value_size", "queues", "Pop a message; EMPTY when there is none.", "0.1.0"),
  // Metrics
  hostFn("proxy_define_metric", "metric_type,name_data,name_size,return_metric_id", "metrics", "Define a counter (0), gauge (1) or histogram (2).", "0.1.0"),
  hostFn("proxy_increment_metric", "metric_id,offset:i64", "metrics", "Add a signed offset to a counter or gauge.", "0.1.0"),
  hostFn("proxy_record_metric", "metric_id,value:u64", "metrics", "Set a gauge or record a histogram value.", "0.1.0"),
  hostFn("proxy_get_metric", "metric_id,return_value", "metrics", "Read a metric's value as u64.", "0.1.0"),
  // Callouts
  hostFn("proxy_http_call", "upstream_data,upstream_size,headers_data,headers_size,body_data,body_size,trailers_data,trailers_size,timeout_milliseconds,return_callout_id", "http-call", "Dispatch an HTTP call to a cluster; the response reaches proxy_on_http_call_response.", "0.1.0"),
  hostFn("proxy_grpc_call", "upstream_data,upstream_size,service_name_data,service_name_size,method_name_data,method_name_size,initial_metadata_data,initial_metadata_size,message_data,message_size,timeout_milliseconds,return_callout_id", "grpc", "Unary gRPC call.", "0.1.0"),
  hostFn("proxy_grpc_stream", "upstream_data,upstream_size,service_name_data,service_name_size,method_name_data,method_name_size,initial_metadata_data,initial_metadata_size,return_stream_id", "grpc", "Open a gRPC stream.", "0.1.0"),
  hostFn("proxy_grpc_send", "stream_id,message_data,message_size,end_stream", "grpc", "Send a message on a gRPC stream.", "0.1.0"),
  hostFn("proxy_grpc_cancel", "callout_id", "grpc", "Cancel a gRPC call or stream (no close callback).", "0.1.0"),
  hostFn("proxy_grpc_close", "callout_id", "grpc", "Close a gRPC call or stream.", "0.1.0"),
  // 0.1.0 only: a 0.2.x module that imports these fails to load in Envoy.
  legacy("proxy_get_configuration", "return_buffer_data,return_buffer_size", "proxy_get_buffer_bytes(PLUGIN_CONFIGURATION)"),
  legacy("proxy_continue_request", "", "proxy_continue_stream(HTTP_REQUEST)"),
  legacy("proxy_continue_response", "", "proxy_continue_stream(HTTP_RESPONSE)"),
  legacy("proxy_clear_route_cache", "", ""),
];

/** WASI functions Envoy's host provides (under both module names). All return an i32 errno. */
export const WASI_MODULES = ["wasi_snapshot_preview1", "wasi_unstable"] as const;

const wasi = (name: string, params: string, doc: string, results: WasmType[] = ["i32"]): AbiFunction => ({
  module: "wasi_snapshot_preview1",
  name,
  params: p(params),
  results,
  since: "0.1.0",
  area: "wasi",
  doc,
  phases: CALLBACK_ONLY,
});

// biome-ignore format: one row per function keeps the table readable.
export const WASI_FUNCTIONS: readonly AbiFunction[] = [
  duringStart(wasi("fd_write", "fd,iovs,iovs_len,return_nwritten", "Write to stdout (logged at INFO) or stderr (logged at ERROR).")),
  wasi("fd_read", "fd,iovs,iovs_len,return_nread", "Not supported: BADF."),
  wasi("fd_seek", "fd,offset:i64,whence,return_newoffset", "Not supported: BADF."),
  wasi("fd_close", "fd", "Not supported: BADF."),
  duringStart(wasi("fd_fdstat_get", "fd,return_stat", "Stat of stdout/stderr only.")),
  duringStart(wasi("fd_prestat_get", "fd,return_prestat", "No preopened directories: BADF.")),
  duringStart(wasi("fd_prestat_dir_name", "fd,path,path_len", "No preopened directories: BADF.")),
  duringStart(wasi("environ_sizes_get", "return_count,return_buf_size", "Count and size of the configured environment.")),
  duringStart(wasi("environ_get", "environ,environ_buf", "The configured environment (vm_config environment_variables).")),
  duringStart(wasi("args_sizes_get", "return_count,return_buf_size", "Always 0 and 0.")),
  duringStart(wasi("args_get", "argv,argv_buf", "No arguments.")),
  duringStart(wasi("clock_time_get", "clock_id,precision:i64,return_time", "REALTIME (0) or MONOTONIC (1) nanoseconds.")),
  duringStart(wasi("clock_res_get", "clock_id,return_resolution", "Clock resolution.")),
  duringStart(wasi("random_get", "buf,buf_len", "Random bytes (at most 64 KiB per call).")),
  wasi("sched_yield", "", "No-op."),
  duringStart(wasi("poll_oneoff", "in,out,nsubscriptions,return_nevents", "Not supported.")),
  wasi("proc_exit", "exit_code", "Ends the VM: the host fails it like a trap.", []),
  // Registered by Envoy so that modules from toolchains that import them still load; each answers
  // ENOSYS (52): filters get no files, sockets or processes.
  ...(
    [
      ["fd_fdstat_set_flags", "fd,flags"],
      ["fd_fdstat_set_rights", "fd,rights_base:i64,rights_inheriting:i64"],
      ["fd_advise", "fd,offset:i64,len:i64,advice"],
      ["fd_allocate", "fd,offset:i64,len:i64"],
      ["fd_datasync", "fd"],
      ["fd_filestat_get", "fd,return_filestat"],
      ["fd_filestat_set_size", "fd,size:i64"],
      ["fd_filestat_set_times", "fd,atim:i64,mtim:i64,fst_flags"],
      ["fd_pread", "fd,iovs,iovs_len,offset:i64,return_nread"],
      ["fd_pwrite", "fd,iovs,iovs_len,offset:i64,return_nwritten"],
      ["fd_readdir", "fd,buf,buf_len,cookie:i64,return_bufused"],
      ["fd_renumber", "fd,to"],
      ["fd_sync", "fd"],
      ["fd_tell", "fd,return_offset"],
      ["path_create_directory", "fd,path,path_len"],
      ["path_filestat_get", "fd,flags,path,path_len,return_filestat"],
      ["path_filestat_set_times", "fd,flags,path,path_len,atim:i64,mtim:i64,fst_flags"],
      ["path_link", "old_fd,old_flags,old_path,old_path_len,new_fd,new_path,new_path_len"],
      ["path_open", "fd,dirflags,path,path_len,oflags,fs_rights_base:i64,fs_rights_inheriting:i64,fdflags,return_fd"],
      ["path_readlink", "fd,path,path_len,buf,buf_len,return_bufused"],
      ["path_remove_directory", "fd,path,path_len"],
      ["path_rename", "fd,old_path,old_path_len,new_fd,new_path,new_path_len"],
      ["path_symlink", "old_path,old_path_len,fd,new_path,new_path_len"],
      ["path_unlink_file", "fd,path,path_len"],
      ["sock_accept", "fd,flags,return_fd"],
      ["sock_recv", "fd,ri_data,ri_data_len,ri_flags,return_datalen,return_flags"],
      ["sock_send", "fd,si_data,si_data_len,si_flags,return_datalen"],
      ["sock_shutdown", "fd,how"],
    ] as const
  ).map(([name, params]) => ({ ...wasi(name, params, "Not supported: ENOSYS (Envoy registers it as a stub)."), stub: true })),
];

/**
 * Non-proxy functions Envoy's host also registers in module `env` (proxy-wasm-cpp-host
 * src/wasm.cc): emscripten and pthread shims some toolchains import.
 */
// biome-ignore format: one row per function keeps the table readable.
export const ENV_EXTRAS: readonly AbiFunction[] = [
  { module: "env", name: "emscripten_notify_memory_growth", params: p("memory_index"), results: [], since: "0.1.0", area: "emscripten", doc: "No-op.", phases: CALLBACK_ONLY },
  { module: "env", name: "pthread_equal", params: p("left,right"), results: ["i32"], since: "0.1.0", area: "emscripten", doc: "1 when both thread ids are equal.", phases: CALLBACK_ONLY },
];

/** Module exports the host looks up (all optional except the marker, memory and an allocator). */
// biome-ignore format: one row per function keeps the table readable.
export const MODULE_EXPORTS: readonly AbiFunction[] = [
  // Integration and memory
  callback("_initialize", "", [], "integration", "WASI reactor entry; called once before anything else.", "0.1.0"),
  callback("_start", "", [], "integration", "WASI command entry; called only when _initialize is absent.", "0.1.0"),
  callback("main", "argc,argv", ["i32"], "integration", "Called after _initialize when exported.", "0.1.0"),
  callback("__main_void", "", ["i32"], "integration", "Called after _initialize when exported and main is not.", "0.1.0"),
  callback("malloc", "size", ["i32"], "memory", "Allocator the host uses to hand data to the guest (looked up first by Envoy).", "0.1.0"),
  callback("proxy_on_memory_allocate", "size", ["i32"], "memory", "Allocator the host uses when malloc is absent; 0 means failure.", "0.1.0"),
  // Context lifecycle and configuration
  // Kept when the filter makes contexts per stream, names its roots by root_id or ends contexts
  // itself; without it the SDK creates a root context at its first callback (dispatcher.ts).
  callback("proxy_on_context_create", "context_id,parent_context_id", [], "lifecycle", "Create a context; parent 0 means a root (plugin) context.", "0.1.0", PER_CONTEXT),
  callback("proxy_on_vm_start", "root_context_id,vm_configuration_size", ["i32"], "lifecycle", "VM started; false fails it.", "0.1.0", ["onVmStart"]),
  // registerRootContext: a plugin whose root_id matches no registered factory fails its configure.
  callback("proxy_on_configure", "root_context_id,plugin_configuration_size", ["i32"], "lifecycle", "Plugin configured; false rejects the configuration.", "0.1.0", ["onConfigure", "registerRootContext"]),
  callback("proxy_on_tick", "root_context_id", [], "timers", "Timer tick on the root context.", "0.1.0", ["onTick"]),
  callback("proxy_on_queue_ready", "root_context_id,queue_id", [], "queues", "A message arrived on a queue this VM registered.", "0.1.0", ["onQueueReady"]),
  callback("proxy_on_done", "context_id", ["i32"], "lifecycle", "Context ending; false means the plugin will call proxy_done later.", "0.1.0", ["onDone"]),
  callback("proxy_on_log", "context_id", [], "lifecycle", "Access-log time for a stream.", "0.1.0", ["onLog"]),
  // Also kept for a root context of the filter's own (to free it) and for calls to other services
  // (a shared HTTP context's stream forgets its open calls when it is deleted).
  callback("proxy_on_delete", "context_id", [], "lifecycle", "Context deleted; the id is never used again.", "0.1.0", [...PER_CONTEXT, "onDelete", "setRootContext", "trackCallout"]),
  callback("proxy_on_foreign_function", "root_context_id,function_id,arguments_size", [], "foreign", "The host calls a function into the plugin.", "0.2.0", ["onForeignFunction"]),
  // TCP
  callback("proxy_on_new_connection", "context_id", ["i32"], "tcp", "New TCP connection.", "0.1.0", ["onNewConnection"]),
  callback("proxy_on_downstream_data", "context_id,data_size,end_of_stream", ["i32"], "tcp", "Data from the downstream peer.", "0.1.0", ["onDownstreamData"]),
  callback("proxy_on_upstream_data", "context_id,data_size,end_of_stream", ["i32"], "tcp", "Data from the upstream peer.", "0.1.0", ["onUpstreamData"]),
  callback("proxy_on_downstream_connection_close", "context_id,peer_type", [], "tcp", "Downstream connection closed.", "0.1.0", ["onDownstreamClose"]),
  callback("proxy_on_upstream_connection_close", "context_id,peer_type", [], "tcp", "Upstream connection closed.", "0.1.0", ["onUpstreamClose"]),
  // HTTP
  callback("proxy_on_request_headers", "context_id,num_headers,end_of_stream", ["i32"], "http", "Request headers arrived.", "0.2.0", ["onHttpRequestHeaders"]),
  callback("proxy_on_request_body", "context_id,body_buffer_length,end_of_stream", ["i32"], "http", "Request body data; length is all bytes buffered so far.", "0.1.0", ["onHttpRequestBody"]),
  callback("proxy_on_request_trailers", "context_id,num_trailers", ["i32"], "http", "Request trailers arrived.", "0.1.0", ["onHttpRequestTrailers"]),
  callback("proxy_on_response_headers", "context_id,num_headers,end_of_stream", ["i32"], "http", "Response headers arrived.", "0.2.0", ["onHttpResponseHeaders"]),
  callback("proxy_on_response_body", "context_id,body_buffer_length,end_of_stream", ["i32"], "http", "Response body data; length is all bytes buffered so far.", "0.1.0", ["onHttpResponseBody"]),
  callback("proxy_on_response_trailers", "context_id,num_trailers", ["i32"], "http", "Response trailers arrived.", "0.1.0", ["onHttpResponseTrailers"]),
  // Callout responses, delivered on the root context id
  callback("proxy_on_http_call_response", "context_id,callout_id,num_headers,body_size,num_trailers", [], "http-call", "HTTP call response (num_headers 0 = failed call).", "0.1.0", ["onHttpCallResponse"]),
  callback("proxy_on_grpc_receive_initial_metadata", "context_id,callout_id,num_elements", [], "grpc", "gRPC initial metadata.", "0.1.0", ["onGrpcStreamInitialMetadata"]),
  callback("proxy_on_grpc_receive", "context_id,callout_id,message_size", [], "grpc", "gRPC message.", "0.1.0", ["onGrpcStreamMessage", "onGrpcCallResponse"]),
  callback("proxy_on_grpc_receive_trailing_metadata", "context_id,callout_id,num_elements", [], "grpc", "gRPC trailing metadata.", "0.1.0", ["onGrpcStreamTrailingMetadata"]),
  callback("proxy_on_grpc_close", "context_id,callout_id,status_code", [], "grpc", "gRPC call or stream closed.", "0.1.0", ["onGrpcStreamClose", "onGrpcCallResponse"]),
  // Not in the spec, but looked up by Envoy's host (FOR_ALL_MODULE_FUNCTIONS).
  envoyOnly(callback("proxy_validate_configuration", "root_context_id,configuration_size", ["i32"], "lifecycle", "Envoy extension: validate a configuration offline.", "0.1.0")),
  envoyOnly(callback("proxy_on_request_metadata", "context_id,num_elements", ["i32"], "http", "Envoy extension: request metadata.", "0.1.0")),
  envoyOnly(callback("proxy_on_response_metadata", "context_id,num_elements", ["i32"], "http", "Envoy extension: response metadata.", "0.1.0")),
];

/** 0.1.0 signatures of the header callbacks (no end_of_stream). */
// biome-ignore format: one row per function keeps the table readable.
export const LEGACY_0_1_0_EXPORTS: readonly AbiFunction[] = [
  { ...callback("proxy_on_request_headers", "context_id,num_headers", ["i32"], "http", "0.1.0 form.", "0.1.0"), until: "0.1.0" },
  { ...callback("proxy_on_response_headers", "context_id,num_headers", ["i32"], "http", "0.1.0 form.", "0.1.0"), until: "0.1.0" },
];
