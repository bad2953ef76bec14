// Test-only export: the allocator the mock host (mock-host.js) uses to hand memory to the module,
// the same function the SDK exports as malloc / proxy_on_memory_allocate (assembly/exports.ts).
// as-pect adds every *.include.ts to each test module, so every spec exports it.
import { allocateForHost } from "../../assembly/memory";

export function malloc(size: usize): usize {
  return allocateForHost(size);
}
