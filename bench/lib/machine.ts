// What the numbers were measured on.
import os from "node:os";

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  /** 1-minute load average when the bench started (other work on the machine skews timings). */
  loadAverage: number;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cores: typeof os.availableParallelism === "function" ? os.availableParallelism() : cpus.length,
    cpuModel: (cpus[0]?.model ?? "unknown").replace(/\s+/g, " ").trim(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverage: Math.round(os.loadavg()[0] * 100) / 100,
  };
}
