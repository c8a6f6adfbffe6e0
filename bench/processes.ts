// Memory and CPU of the processes a Pulumi run starts: polls /proc while the run lasts. Each role
// keeps its largest VmHWM (the kernel's own peak-RSS figure); the total is the largest sum of the
// current RSS of every such process seen at one poll, which is what the machine must hold at once.

import { readdirSync, readFileSync } from "node:fs";

export type Role = "engine" | "program" | "provider" | "plugin";
const ROLES: Role[] = ["engine", "program", "provider", "plugin"];

function roleOf(cmdline: string): Role | undefined {
  // vmail's provider plugin (providers/server.ts), or the dynamic provider it replaced
  if (cmdline.includes("providers/server.ts") || cmdline.includes("dynamic-provider"))
    return "provider";
  if (cmdline.includes("@pulumi/pulumi/cmd/run") || cmdline.includes("pulumi/cmd/run"))
    return "program";
  const argv0 = cmdline.split("\0")[0];
  if (argv0.endsWith("/pulumi") || argv0 === "pulumi") return "engine";
  // command, random, postgresql and the Node.js language host
  if (/pulumi-(resource|language)-[a-z-]+$/.test(argv0)) return "plugin";
  return undefined;
}

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: string): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

function kib(status: string, field: "VmHWM" | "VmRSS"): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
  return match ? Number(match[1]) : 0;
}

const mib = (k: number) => Math.round((k / 1024) * 10) / 10;

export class PeakMemory {
  private readonly peaks: Record<Role, number> = { engine: 0, program: 0, provider: 0, plugin: 0 };
  private peakTotal = 0;
  private readonly cpu = new Map<string, { role: Role; seconds: number }>();
  private timer?: NodeJS.Timeout;

  start(): void {
    this.timer = setInterval(() => this.sample(), 100);
  }

  /** CPU seconds used by each role's processes while sampled (as last seen). */
  cpuByRole(): Record<Role, number> {
    const out: Record<Role, number> = { engine: 0, program: 0, provider: 0, plugin: 0 };
    for (const { role, seconds } of this.cpu.values()) out[role] += seconds;
    return out;
  }

  /** Stops sampling; peaks in MiB by role, and `total`, the largest sum at one poll. */
  stop(): Record<Role | "total", number> {
    clearInterval(this.timer);
    this.sample();
    const out = { total: mib(this.peakTotal) } as Record<Role | "total", number>;
    for (const role of ROLES) out[role] = mib(this.peaks[role]);
    return out;
  }

  private sample(): void {
    let total = 0;
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid) || pid === String(process.pid)) continue;
      try {
        const role = roleOf(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
        if (!role) continue;
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        this.peaks[role] = Math.max(this.peaks[role], kib(status, "VmHWM"));
        total += kib(status, "VmRSS");
        this.cpu.set(pid, { role, seconds: cpuSeconds(pid) });
      } catch {
        // the process ended between listing and reading
      }
    }
    this.peakTotal = Math.max(this.peakTotal, total);
  }
}
