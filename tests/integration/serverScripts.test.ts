// The scripts vmail runs on the server, run for real on this machine: the mail owner account
// (twice in a row, as `up` would), and the main.cf settings on a Postfix config dir of the test's.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  mainCfBackupFile,
  MAP_NAMES,
  mapFilePath,
  postconfInput,
  proxiedMaps,
} from "../../core/postfixConfig";
import { mailOwnerScript, parseUidGid } from "../../core/scripts";
import {
  parsePostconfValues,
  postconfApplyScript,
  postconfReadScript,
  postconfRemoveScript,
  type PostconfInput,
} from "../../core/mainCfScripts";
import { INHERITED_VIRTUAL_SETTINGS, notFromADevStack } from "../support/postfixInstance";
import { postfixMainCfProvider } from "../../providers/postfixMainCf";
import { mustRunOnServer, runOnServer } from "../../providers/shell";
import { installSystemDeps } from "../support/systemDeps";
import { useShellOnly } from "../support/providers";

const local = { access: { kind: "local" as const } };
let dir: string;

before(async () => {
  installSystemDeps();
  dir = await mkdtemp(join(tmpdir(), "vmail-scripts-"));
});

after(async () => {
  spawnSync("userdel", ["vmailtestowner"]);
  spawnSync("groupdel", ["vmailtestgroup"]);
  await rm(dir, { recursive: true, force: true });
});

describe("mail owner account", () => {
  const account = () => ({
    user: "vmailtestowner",
    group: "vmailtestgroup",
    mailboxBase: join(dir, "mail"),
  });

  it("is made once and reported with the server's own uid and gid, twice in a row", async () => {
    spawnSync("userdel", ["vmailtestowner"]);
    spawnSync("groupdel", ["vmailtestgroup"]);
    const first = parseUidGid(
      await mustRunOnServer(local, "mail owner", mailOwnerScript(account())),
    );
    const second = parseUidGid(
      await mustRunOnServer(local, "mail owner", mailOwnerScript(account())),
    );
    assert.deepEqual(second, first);
    assert.equal(
      first.uid,
      Number(execFileSync("id", ["-u", "vmailtestowner"], { encoding: "utf8" })),
    );
    const group = execFileSync("getent", ["group", "vmailtestgroup"], { encoding: "utf8" });
    assert.equal(first.gid, Number(group.split(":")[2]));
    const passwd = execFileSync("getent", ["passwd", "vmailtestowner"], {
      encoding: "utf8",
    }).trim();
    assert.match(passwd, /:\/usr\/sbin\/nologin$/, "no login shell");
    const base = await stat(account().mailboxBase);
    assert.equal(base.uid, first.uid);
    assert.equal(base.gid, first.gid);
    assert.equal(base.mode & 0o777, 0o750);
  });

  it("refuses an existing account whose uid differs from a fixed one in config", async () => {
    const result = await runOnServer(local, mailOwnerScript({ ...account(), uid: 4242 }));
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /user vmailtestowner exists with id \d+, config asks for 4242/);
  });

  it("refuses to take over a system account or group as the mail owner", async () => {
    spawnSync("groupadd", ["-r", "vmailsysgroup"]);
    spawnSync("useradd", ["-r", "-g", "vmailsysgroup", "-M", "vmailsysowner"]);
    try {
      const sys = { user: "vmailsysowner", group: "vmailsysgroup", mailboxBase: join(dir, "sys") };
      const result = await runOnServer(local, mailOwnerScript(sys));
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /vmailsysowner:vmailsysgroup is a system account \(uid \d+/);
    } finally {
      spawnSync("userdel", ["vmailsysowner"]);
      spawnSync("groupdel", ["vmailsysgroup"]);
    }
  });
});

describe("main.cf settings", () => {
  let configDir: string;
  let mapsDir: string;
  /** What vmail's main.cf resource is given for maps in `maps` (by default mapsDir). */
  const inputFor = (maps: string, proxy = false): PostconfInput =>
    postconfInput(
      {
        postfix: { configDir, mapsDir: maps, proxy },
        mailboxBase: "/home/mail",
        domains: ["example.com"],
        quotaStatus: false,
      },
      1002,
      1003,
    );
  const input = (): PostconfInput => inputFor(mapsDir);
  const postconf = (name: string) =>
    execFileSync("postconf", ["-c", configDir, "-h", name], { encoding: "utf8" }).trim();

  before(async () => {
    configDir = join(dir, "postfix");
    // The system's config as a server vmail has not touched yet: without a dev stack's maps,
    // backup and main.cf settings.
    await cp("/etc/postfix", configDir, {
      recursive: true,
      filter: notFromADevStack,
    });
    execFileSync("postconf", ["-c", configDir, "-X", ...INHERITED_VIRTUAL_SETTINGS]);
    // postconf reads the pgsql files main.cf names; empty ones keep it from warning on each call
    mapsDir = join(configDir, "pgsql");
    await mkdir(mapsDir);
    await mkdir(join(dir, "queue"));
    for (const map of MAP_NAMES) await writeFile(mapFilePath(mapsDir, map), "");
    execFileSync("postconf", [
      "-c",
      configDir,
      "-e",
      "transport_maps=hash:/etc/postfix/transport",
      "mydestination=localhost",
      // Its own queue: `postfix status` for this copy must not find the system's Postfix running.
      `queue_directory=${join(dir, "queue")}`,
    ]);
  });

  it("sets the articles' settings and the domains lookup", async () => {
    await mustRunOnServer(local, "postconf", postconfApplyScript(input()));
    assert.equal(postconf("virtual_mailbox_maps"), `pgsql:${mapsDir}/mailboxes.cf`);
    assert.equal(postconf("virtual_alias_maps"), `pgsql:${mapsDir}/aliases.cf`);
    assert.equal(postconf("virtual_mailbox_domains"), `pgsql:${mapsDir}/domains.cf`);
    assert.equal(postconf("transport_maps"), `pgsql:${mapsDir}/transport.cf`);
    assert.equal(postconf("virtual_uid_maps"), "static:1002");
    assert.equal(postconf("virtual_gid_maps"), "static:1003");
    assert.equal(postconf("virtual_mailbox_base"), "/home/mail/");
    assert.equal(postconf("local_recipient_maps"), "");
    // applying again (a second `up`) keeps the first backup, of the operator's own values
    await mustRunOnServer(local, "postconf", postconfApplyScript(input()));
    const backup = await readFile(input().backupFile, "utf8");
    assert.match(backup, /^transport_maps = hash:\/etc\/postfix\/transport$/m);
  });

  it("reads the settings back as Postfix resolves them, a change behind vmail's back included", async () => {
    const names = Object.keys(input().settings);
    const read = async () =>
      parsePostconfValues(
        await mustRunOnServer(local, "postconf", postconfReadScript(configDir, names)),
        names,
      );
    assert.deepEqual(await read(), input().settings);
    execFileSync("postconf", ["-c", configDir, "-e", "virtual_mailbox_base=/srv/elsewhere/"]);
    assert.equal((await read()).virtual_mailbox_base, "/srv/elsewhere/");
    await mustRunOnServer(local, "postconf", postconfApplyScript(input()));
    assert.deepEqual(await read(), input().settings);
  });

  it("adds proxied maps to proxy_read_maps only where it does not cover them already", async () => {
    const proxied = inputFor(mapsDir, true);
    await mustRunOnServer(local, "postconf", postconfApplyScript(proxied));
    assert.equal(postconf("virtual_alias_maps"), `proxy:pgsql:${mapsDir}/aliases.cf`);
    // The default proxy_read_maps names $virtual_alias_maps etc., so nothing of main.cf's is
    // added; the senders map is, as the submission service names it in master.cf only.
    const added = postconf("proxy_read_maps").match(/proxy:pgsql:\S+/g);
    assert.deepEqual(added, [`proxy:pgsql:${mapsDir}/senders.cf`], postconf("proxy_read_maps"));
    execFileSync("postconf", ["-c", configDir, "-e", "proxy_read_maps=$local_recipient_maps"]);
    await mustRunOnServer(local, "postconf", postconfApplyScript(proxied));
    const maps = postconf("proxy_read_maps");
    for (const m of proxiedMaps(mapsDir)) assert.ok(maps.includes(m), `${m} in ${maps}`);
    await mustRunOnServer(local, "postconf", postconfRemoveScript(proxied));
    assert.equal(postconf("proxy_read_maps"), "$local_recipient_maps");
  });

  it("put back what it replaced on removal", () => {
    assert.equal(postconf("transport_maps"), "hash:/etc/postfix/transport");
    assert.equal(postconf("virtual_mailbox_maps"), "");
  });

  it("the main.cf resource's check finds such a domain at preview, before anything changes", async () => {
    useShellOnly(local);
    const check = postfixMainCfProvider.check as NonNullable<typeof postfixMainCfProvider.check>;
    const news = { ...input(), reloadAfter: [] };
    execFileSync("postconf", ["-c", configDir, "-e", "mydestination=localhost, Example.COM"]);
    const refused = await check({}, news);
    assert.equal(refused.failures?.[0]?.property, "domains");
    assert.match(refused.failures?.[0]?.reason ?? "", /example\.com is in Postfix's mydestination/);
    execFileSync("postconf", ["-c", configDir, "-e", "mydestination=localhost"]);
    assert.equal((await check({}, news)).failures, undefined);
  });

  it("the main.cf resource's check refuses a new mailbox base while the old one holds maildirs", async () => {
    useShellOnly(local);
    const check = postfixMainCfProvider.check as NonNullable<typeof postfixMainCfProvider.check>;
    const oldBase = mkdtempSync(join(tmpdir(), "vmail-oldbase-"));
    const withBase = (base: string) => {
      const i = input();
      return {
        ...i,
        settings: { ...i.settings, virtual_mailbox_base: `${base}/` },
        reloadAfter: [],
      };
    };
    try {
      const [olds, news] = [withBase(oldBase), withBase(`${oldBase}-new`)];
      assert.equal(
        (await check(olds, news)).failures,
        undefined,
        "an empty base: nothing to strand",
      );
      mkdirSync(join(oldBase, "dave", "new"), { recursive: true });
      const refused = await check(olds, news);
      assert.equal(refused.failures?.[0]?.property, "settings");
      assert.match(
        refused.failures?.[0]?.reason ?? "",
        /vmail:mailboxBase changed from \S+ to \S+-new, and \S+ still holds maildirs: .*mv \S+\/\* \S+-new\//,
      );
      assert.equal((await check(olds, olds)).failures, undefined, "an unchanged base");
    } finally {
      rmSync(oldBase, { recursive: true, force: true });
    }
  });

  it("refuses a virtual domain that is also in mydestination, in any case, as Postfix compares", async () => {
    for (const mydestination of ["localhost, example.com", "localhost, Example.COM"]) {
      execFileSync("postconf", ["-c", configDir, "-e", `mydestination=${mydestination}`]);
      const result = await runOnServer(local, postconfApplyScript(input()));
      assert.notEqual(result.code, 0, mydestination);
      assert.match(result.stderr, /example\.com is in mydestination/);
      assert.equal(postconf("virtual_mailbox_maps"), "", "nothing was changed");
    }
  });

  describe("the operator's own values survive any sequence of changes", () => {
    const OPERATORS = {
      transport_maps: "hash:/etc/postfix/transport",
      local_recipient_maps: "proxy:unix:passwd.byname $alias_maps",
      proxy_read_maps: "$local_recipient_maps",
      smtpd_recipient_restrictions: "permit_mynetworks, reject_unauth_destination",
    };
    const provider = postfixMainCfProvider as Required<typeof postfixMainCfProvider>;
    const mainCf = (maps: string, proxy = false) => ({ ...inputFor(maps, proxy), reloadAfter: [] });
    /** main.cf as the operator had it: their three values, none of vmail's virtual ones. */
    const asTheOperatorHadIt = () => ({
      ...Object.fromEntries(Object.entries(OPERATORS).map(([k]) => [k, postconf(k)])),
      virtual_mailbox_maps: postconf("virtual_mailbox_maps"),
      explicitlySet: execFileSync("postconf", ["-c", configDir, "-n", "virtual_mailbox_base"], {
        encoding: "utf8",
      }),
    });
    const expected = { ...OPERATORS, virtual_mailbox_maps: "", explicitlySet: "" };

    before(async () => {
      useShellOnly(local);
      execFileSync("postconf", [
        "-c",
        configDir,
        "-e",
        "mydestination=localhost",
        ...Object.entries(OPERATORS).map(([k, v]) => `${k}=${v}`),
      ]);
      await rm(mainCfBackupFile(configDir), { force: true });
    });

    it("through a maps directory change and proxy turned on and off, then destroy", async () => {
      const otherMaps = join(dir, "other-maps");
      await mkdir(otherMaps, { recursive: true });
      for (const map of MAP_NAMES) await writeFile(mapFilePath(otherMaps, map), "");
      const first = mainCf(mapsDir);
      await provider.create(first);
      // vmail's refusal map goes first, the operator's restrictions after it.
      assert.equal(
        postconf("smtpd_recipient_restrictions"),
        `check_recipient_access pgsql:${mapsDir}/refused.cf, ${OPERATORS.smtpd_recipient_restrictions}`,
      );
      // Taken out behind vmail's back: a refresh sees it, an update puts it first again.
      execFileSync("postconf", [
        "-c",
        configDir,
        "-e",
        `smtpd_recipient_restrictions=${OPERATORS.smtpd_recipient_restrictions}`,
      ]);
      const read = await provider.read("main.cf", first);
      assert.equal((await provider.diff("main.cf", read.props, first)).changes, true);
      await provider.update("main.cf", read.props, first);
      assert.match(postconf("smtpd_recipient_restrictions"), /^check_recipient_access pgsql:/);
      const moved = mainCf(otherMaps);
      await provider.update("main.cf", first, moved);
      assert.equal(
        postconf("smtpd_recipient_restrictions"),
        `check_recipient_access pgsql:${otherMaps}/refused.cf, ${OPERATORS.smtpd_recipient_restrictions}`,
        "the old maps directory's entry is gone",
      );
      const proxied = mainCf(otherMaps, true);
      await provider.update("main.cf", moved, proxied);
      for (const m of proxiedMaps(otherMaps)) assert.ok(postconf("proxy_read_maps").includes(m));
      await provider.update("main.cf", proxied, moved);
      assert.equal(
        postconf("proxy_read_maps"),
        OPERATORS.proxy_read_maps,
        "proxy off: vmail's entries gone",
      );
      await provider.delete("main.cf", moved);
      assert.deepEqual(asTheOperatorHadIt(), expected);
      await assert.rejects(stat(mainCfBackupFile(configDir)), /ENOENT/, "the record is removed");
    });

    /**
     * What an earlier vmail left: its record of the operator's values in the maps directory (only
     * the ones set), main.cf with vmail's values, and a state naming that record.
     */
    async function whatAnEarlierVmailLeft() {
      const legacy = join(mapsDir, "main.cf.before-vmail");
      const old = { ...mainCf(mapsDir), backupFile: legacy };
      const { transport_maps, local_recipient_maps } = OPERATORS;
      await writeFile(
        legacy,
        `transport_maps = ${transport_maps}\nlocal_recipient_maps = ${local_recipient_maps}\n`,
      );
      const settings = Object.entries(old.settings).map(([k, v]) => `${k}=${v}`);
      execFileSync("postconf", ["-c", configDir, "-e", ...settings]);
      return { legacy, old };
    }

    it("from a record kept in the maps directory by an earlier vmail", async () => {
      const { legacy, old } = await whatAnEarlierVmailLeft();
      await provider.update("main.cf", old, mainCf(mapsDir));
      await assert.rejects(stat(legacy), /ENOENT/, "the old record moved beside main.cf");
      // A later change of the maps directory records nothing of vmail's own values.
      await provider.update("main.cf", mainCf(mapsDir), mainCf(join(dir, "other-maps")));
      await provider.delete("main.cf", mainCf(join(dir, "other-maps")));
      assert.deepEqual(asTheOperatorHadIt(), expected);
    });

    it("for a state that still names the old record when destroyed", async () => {
      const { legacy, old } = await whatAnEarlierVmailLeft();
      await provider.delete("main.cf", old);
      assert.deepEqual(asTheOperatorHadIt(), expected);
      await assert.rejects(stat(legacy), /ENOENT/);
    });
  });
});
