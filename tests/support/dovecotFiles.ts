// Dovecot's files as vmail's components declare them, written by vmail's own file provider: the
// SQL file, its include and the block in 10-auth.conf (DovecotAuth), and optionally the delivery
// file (DovecotDelivery). For tests that drive the providers without the engine.

import type * as pulumi from "@pulumi/pulumi";
import { DOVECOT_SQL_OWNERSHIP } from "../../components/dovecotAuth";
import {
  AUTH_INCLUDE_LINE,
  DOVECOT_AUTH_BLOCK,
  dovecotPaths,
  renderAuthInclude,
  renderDovecotSql,
  type DovecotSqlInput,
} from "../../core/dovecotConfig";
import { serverFileProvider } from "../../providers/serverFile";

const files = serverFileProvider as Required<pulumi.dynamic.ResourceProvider>;
const server = { kind: "local" } as const;
const PUBLIC = { mode: "0644", owner: "root", group: "root" };

/** Writes the files into `configDir` on this machine; returns their `written` stamps. */
export async function writeDovecotFiles(
  configDir: string,
  sql: DovecotSqlInput,
  delivery?: string,
): Promise<string[]> {
  const paths = dovecotPaths(configDir);
  const written: string[] = [];
  for (const inputs of [
    { path: paths.sql, content: renderDovecotSql(sql), ownership: DOVECOT_SQL_OWNERSHIP },
    { path: paths.authInclude, content: renderAuthInclude(paths.sql), ownership: PUBLIC },
    { path: paths.authConf, content: AUTH_INCLUDE_LINE, block: DOVECOT_AUTH_BLOCK },
    ...(delivery === undefined
      ? []
      : [{ path: paths.delivery, content: delivery, ownership: PUBLIC }]),
  ]) {
    written.push(((await files.create({ server, ...inputs })).outs as { written: string }).written);
  }
  return written;
}
