// Peak memory of the processes a Pulumi run starts: polls /proc and keeps each role's largest
// VmHWM (the kernel's own peak-RSS figure) while the run lasts.

import { readdirSync, readFileSync } from "node:fs";

export type Role = "engine" | "program" | "provider";

function roleOf(cmdline: string): Role | undefined {
  if (cmdline.includes("dynamic-provider")) return "provider";
  if (cmdline.includes("@pulumi/pulumi/cmd/run") || cmdline.includes("pulumi/cmd/run"))
    return "program";
  const argv0 = cmdline.split("\0")[0];
  if (argv0.endsWith("/pulumi") || argv0 === "pulumi") return "engine";
  return undefined;
}

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: string): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

function peakKiB(pid: string): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) : 0;
}

export class PeakMemory {
  private readonly peaks: Record<Role, number> = { engine: 0, program: 0, provider: 0 };
  private readonly cpu = new Map<string, { role: Role; seconds: number }>();
  private timer?: NodeJS.Timeout;

  start(): void {
    this.timer = setInterval(() => this.sample(), 100);
  }

  /** CPU seconds used by each role's processes while sampled (as last seen). */
  cpuByRole(): Record<Role, number> {
    const out: Record<Role, number> = { engine: 0, program: 0, provider: 0 };
    for (const { role, seconds } of this.cpu.values()) out[role] += seconds;
    return out;
  }

  /** Stops sampling; peaks in MiB by role. */
  stop(): Record<Role, number> {
    clearInterval(this.timer);
    this.sample();
    const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;
    return {
      engine: mib(this.peaks.engine),
      program: mib(this.peaks.program),
      provider: mib(this.peaks.provider),
    };
  }

  private sample(): void {
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid) || pid === String(process.pid)) continue;
      try {
        const role = roleOf(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
        if (role) {
          this.peaks[role] = Math.max(this.peaks[role], peakKiB(pid));
          this.cpu.set(pid, { role, seconds: cpuSeconds(pid) });
        }
      } catch {
        // the process ended between listing and reading
      }
    }
  }
}
