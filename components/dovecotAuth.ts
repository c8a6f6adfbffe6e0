// Lets mail users log in: points Dovecot's passdb and userdb at the users table. The SQL file
// holds Dovecot's role's password, so it is 0640 root:dovecot and its content a secret (it
// reaches the server on stdin). An include file names it, a marked block in conf.d/10-auth.conf
// includes that, and Dovecot reloads once doveconf accepts the result. A guard comes first: no
// file is written to a server whose Dovecot could not use them (no pgsql driver, say).

import * as pulumi from "@pulumi/pulumi";
import { DovecotGuard, DovecotReload } from "../resources/dovecotReload";
import type { Server } from "../resources/server";
import type { DatabaseHost, DatabaseSettings, DovecotSettings } from "../core/config";
import {
  AUTH_INCLUDE_LINE,
  DOVECOT_AUTH_BLOCK,
  dovecotCheckScript,
  dovecotPaths,
  renderAuthInclude,
  renderDovecotSql,
} from "../core/dovecotConfig";
import type { FileOwnership } from "../core/scripts";

/** The SQL file's mode and owner (tests/unit/graph.test.ts pins the value). */
export const DOVECOT_SQL_OWNERSHIP: FileOwnership = {
  mode: "0640",
  owner: "root",
  group: "dovecot",
};

export interface DovecotAuthArgs {
  /** How the mail server is reached. */
  readonly server: Server;
  /** Dovecot's config directory and the stack's password scheme. */
  readonly dovecot: DovecotSettings;
  /** The database and Dovecot's role (set: this component exists only when Dovecot is on). */
  readonly database: DatabaseSettings & { dovecotRole: string };
  /** Where this server's Dovecot reads the database, in order. */
  readonly databaseHosts: DatabaseHost[];
  /** Dovecot's role's password (secret), written into the SQL file. */
  readonly password: pulumi.Input<string>;
  /** Where the maildirs are, and who owns them: Dovecot reads mail as that uid and gid. */
  readonly mailboxBase: string;
  readonly uid: pulumi.Input<number>;
  readonly gid: pulumi.Input<number>;
  /** What must be in place first (the role's grants and pg_hba lines). */
  readonly after: pulumi.Input<pulumi.Resource>[];
  /**
   * What its files wait for besides: every row (the SQL file names the database, so after a move
   * Dovecot is pointed at the new one only once each row is there), and Dovecot's delivery,
   * reloaded first, so no two reloads see each other's files half-replaced.
   */
  readonly filesAfter: Promise<pulumi.Resource[]>;
}

export class DovecotAuth extends pulumi.ComponentResource {
  /** The SQL file's path on the server. */
  readonly sqlFile: pulumi.Output<string>;
  /** The check that the server's Dovecot can take vmail's files: every Dovecot file waits for it. */
  readonly guard: pulumi.Resource;

  constructor(name: string, args: DovecotAuthArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vmail:index:DovecotAuth", name, {}, opts);
    const { server, database: db, dovecot } = args;
    const paths = dovecotPaths(dovecot.configDir);
    const guard = new DovecotGuard(
      `${name}-guard`,
      { server: server.identity, configDir: dovecot.configDir },
      { parent: this },
    );
    this.guard = guard;
    const child = {
      parent: this,
      dependsOn: args.filesAfter.then((more) => [guard, ...args.after, ...more]),
    };
    const sql = server.file(
      `${name}-sql`,
      {
        path: paths.sql,
        content: pulumi.secret(
          pulumi.all([args.password, args.uid, args.gid]).apply(([password, uid, gid]) =>
            renderDovecotSql({
              hosts: args.databaseHosts,
              dbname: db.name,
              role: db.dovecotRole,
              password,
              scheme: dovecot.scheme,
              mailboxBase: args.mailboxBase,
              uid,
              gid,
            }),
          ),
        ),
        ownership: DOVECOT_SQL_OWNERSHIP,
      },
      child,
    );
    const include = server.file(
      `${name}-auth-include`,
      {
        path: paths.authInclude,
        content: renderAuthInclude(paths.sql),
        ownership: { mode: "0644", owner: "root", group: "root" },
        verify: dovecotCheckScript(dovecot.configDir),
      },
      child,
    );
    // Included only once both files are there: Dovecot never reads a half-written setup.
    const block = server.file(
      `${name}-auth-block`,
      {
        path: paths.authConf,
        content: AUTH_INCLUDE_LINE,
        block: DOVECOT_AUTH_BLOCK,
        verify: dovecotCheckScript(dovecot.configDir),
      },
      { parent: this, dependsOn: [sql, include] },
    );
    new DovecotReload(
      `${name}-reload`,
      {
        server: server.identity,
        configDir: dovecot.configDir,
        trigger: pulumi.all([sql.written, include.written, block.written]),
      },
      { parent: this, dependsOn: [block] },
    );
    this.sqlFile = sql.path;
    this.registerOutputs({ sqlFile: this.sqlFile });
  }
}
