// Dovecot without its pgsql driver (Debian's dovecot-pgsql not installed): `doveconf -n` accepts
// vmail's files, the reload goes through, and the auth process dies at every start, so every
// login fails. vmail's guard refuses such a server at preview and before any file is written, and
// the reload refuses it too. "The server" is this machine as vmail's providers reach it (`sh`),
// here run in a private mount namespace where Dovecot's auth modules are a copy without the
// driver: the package stays installed, and nothing else on the machine sees a difference.
// (Dovecot 2.3 has no module_dir setting: auth loads its modules from a build-time directory.)

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { dovecotReloadProvider } from "../../providers/dovecotReload";
import { mustRunOnServer } from "../../providers/shell";
import { shellQuote } from "../../core/scripts";
import { freePort } from "../support/ports";
import { makeDovecotInstance, type DovecotInstance } from "../support/dovecotInstance";
import { snapshot } from "../support/throwawayDaemon";
import { installSystemDeps } from "../support/systemDeps";
import { writeDovecotFiles } from "../support/dovecotFiles";
import { useShellOnly } from "../support/providers";

type Provider = Required<pulumi.dynamic.ResourceProvider>;
const dovecotProvider = dovecotReloadProvider as Provider;
const server = { kind: "local" } as const;
const local = { access: server };

const REFUSAL =
  /the server's Dovecot has no pgsql driver \(no \/.*\/auth\/libdriver_pgsql\.so\): .*every login fail, system users' too\. Install dovecot-pgsql, or set vmail:dovecot to false/;

let dovecot: DovecotInstance;
/** Dovecot's auth module directory, and a temp dir: that directory's copy without the driver. */
let authModules: string;
let scratch: string;

/** Runs `action` with the providers' `sh` seeing Dovecot's auth modules without the pgsql driver. */
async function withoutPgsqlDriver<T>(action: () => Promise<T>): Promise<T> {
  const path = process.env.PATH;
  process.env.PATH = `${join(scratch, "bin")}:${path ?? ""}`;
  try {
    return await action();
  } finally {
    process.env.PATH = path;
  }
}

/** Writes vmail's three Dovecot files into `configDir` as DovecotAuth declares them. */
const writeVmailFiles = (configDir: string) =>
  writeDovecotFiles(configDir, {
    hosts: [{ host: "127.0.0.1", port: 1 }], // no database: nothing here logs in
    dbname: "mail",
    role: "maildovecot",
    password: "unused",
    scheme: "BLF-CRYPT",
    mailboxBase: "/nonexistent",
    uid: 1000,
    gid: 1000,
  });

const reloads = (d: DovecotInstance) => d.log().split("SIGHUP received").length - 1;

before(async () => {
  installSystemDeps();
  authModules = join(
    execFileSync("doveconf", ["-d", "-h", "mail_plugin_dir"], { encoding: "utf8" }).trim(),
    "auth",
  );
  assert.ok(existsSync(join(authModules, "libdriver_pgsql.so")), "dovecot-pgsql is installed");
  scratch = await mkdtemp(join(tmpdir(), "vmail-no-pgsql-"));
  const without = join(scratch, "auth");
  await mkdir(without);
  // Copies (a symlink would point into the directory it is mounted over).
  for (const name of await readdir(authModules)) {
    if (!name.includes("driver_pgsql"))
      await copyFile(join(authModules, name), join(without, name));
  }
  await mkdir(join(scratch, "bin"));
  await writeFile(
    join(scratch, "bin/sh"),
    [
      "#!/bin/sh",
      "exec unshare --mount --propagation private /bin/sh -c \\",
      `  'mount --bind "$1" "$2" && shift 2 && exec /bin/sh "$@"' sh ${shellQuote(without)} ${shellQuote(authModules)} "$@"`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  const key = join(scratch, "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  useShellOnly({ ...local, privateKey: await readFile(key, "utf8") });
  dovecot = await makeDovecotInstance();
  await dovecot.start();
});

after(async () => {
  await dovecot?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("Dovecot without its pgsql driver", () => {
  it("is what the issue says: doveconf -n accepts vmail's files, and auth dies at its start", async () => {
    const seen = await withoutPgsqlDriver(() =>
      mustRunOnServer(local, "listing", `ls ${shellQuote(authModules)}`),
    );
    assert.doesNotMatch(seen, /driver_pgsql/);
    assert.match(seen, /libauthdb_imap\.so/);

    const broken = await makeDovecotInstance();
    try {
      await writeVmailFiles(broken.configDir);
      const conf = shellQuote(join(broken.configDir, "dovecot.conf"));
      // The master keeps the stderr it is given: /dev/null, so that the shell's pipes close.
      await withoutPgsqlDriver(() =>
        mustRunOnServer(
          local,
          "starting Dovecot",
          `doveconf -c ${conf} -n >/dev/null && dovecot -c ${conf} </dev/null >/dev/null 2>&1`,
        ),
      );
      const login = await broken.authTest("root", "any password");
      assert.equal(login.ok, false, login.output);
      const deadline = Date.now() + 30_000;
      while (!/auth: Fatal: sql: Unknown database driver 'pgsql'/.test(broken.log())) {
        assert.ok(Date.now() < deadline, `no auth failure in 30 s:\n${broken.log()}`);
        await sleep(50);
      }
    } finally {
      await broken.stop();
    }
  });

  it("is refused at preview, naming the driver's file and the package", async () => {
    const check = await withoutPgsqlDriver(() =>
      dovecotProvider.check({}, { server, configDir: dovecot.configDir }),
    );
    assert.equal(check.failures?.length, 1, JSON.stringify(check));
    assert.equal(check.failures?.[0].property, "configDir");
    assert.match(check.failures?.[0].reason ?? "", REFUSAL);
    assert.match(check.failures?.[0].reason ?? "", new RegExp(`no ${authModules}/libdriver_pgsql`));
  });

  it("is refused by the guard's create before any file is written, and by the reload", async () => {
    const files = snapshot(dovecot.configDir);
    const reloadsBefore = reloads(dovecot);
    await withoutPgsqlDriver(async () => {
      await assert.rejects(
        dovecotProvider.create({ server, configDir: dovecot.configDir }),
        REFUSAL,
      );
      // Files written while the driver was there (or by hand): the reload still refuses.
      await assert.rejects(
        dovecotProvider.create({ server, configDir: dovecot.configDir, trigger: ["written"] }),
        REFUSAL,
      );
    });
    assert.deepEqual(snapshot(dovecot.configDir), files, "no file changed");
    assert.equal(reloads(dovecot), reloadsBefore, "Dovecot was not reloaded");
    assert.equal(await dovecot.running(), true);
  });

  it("on a server the preview cannot reach: the check lets it pass, the guard's create refuses", async () => {
    // Nothing listens there: ssh fails to connect, as to a new server or a tunnel not yet open.
    const unreachable = {
      kind: "ssh",
      host: "127.0.0.1",
      port: await freePort(),
      user: "root",
      hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm7ue4JtW7yhKJmkHLOKnjTCKHMoMRkHjXMqdXR2u9M",
    } as const;
    const inputs = { server: unreachable, configDir: dovecot.configDir };
    const check = await dovecotProvider.check({}, inputs);
    assert.equal(check.failures, undefined);
    await assert.rejects(
      dovecotProvider.create(inputs),
      /looking for Dovecot .* failed \(exit 255\)/,
    );
  });
});

describe("Dovecot with its pgsql driver", () => {
  it("passes the preview and the guard, and takes vmail's files and a reload", async () => {
    const guard = { server, configDir: dovecot.configDir };
    const check = await dovecotProvider.check({}, guard);
    assert.equal(check.failures, undefined, JSON.stringify(check));
    assert.deepEqual((await dovecotProvider.create(guard)).outs, guard);
    const trigger = await writeVmailFiles(dovecot.configDir);
    const reloadsBefore = reloads(dovecot);
    await dovecot.reloadedBy(() => dovecotProvider.create({ ...guard, trigger }));
    assert.equal(reloads(dovecot), reloadsBefore + 1);
    assert.doesNotMatch(dovecot.log(), /Unknown database driver/);
  });
});
