// MovedRowsCleanup's provider: one per stack, it records the database the stack's rows are in.
// When that changes (a move), its update runs last, after every row is in the new database and
// Postfix and Dovecot read from there, and deletes this stack's rows from the old one, unless it
// is the same database reached another way, gone, or retired. Its check refuses, at preview, a
// move whose server-side port (vmail:pgServerPort) does not reach the new database.

import type * as pulumi from "@pulumi/pulumi";
import type { RowsCleanupInputs } from "../core/providerInputs";
import { MAIL_TABLES } from "../core/tables";
import {
  deleteMovedSql,
  OURS_SQL,
  serverPortProbeScript,
  serverPortRefusal,
} from "../core/rowsMove";
import { dbIdentity, describeTarget, targetChanged } from "../core/target";
import { providerContext as context } from "./context";
import { inTransaction } from "./db";
import { isDatabaseGone } from "./rowStore";
import { dbOf, physicalDatabase } from "./rowMoves";
import { runOnServer } from "./shell";

/** Why the server's pgServerPort does not reach the database the rows move to, if it does not. */
async function serverPortProblem(news: RowsCleanupInputs): Promise<string | undefined> {
  const to = dbOf(news);
  const expected = await physicalDatabase(to);
  if (expected === undefined) return undefined; // not there yet: MailDatabase makes it
  const { serverPort, name, adminUser } = to.settings;
  const r = await runOnServer(
    context.get().shell,
    serverPortProbeScript(serverPort, name, adminUser),
    `${to.adminPassword}\n`,
  );
  const answer = r.code === 0 ? { out: r.stdout } : { error: r.stderr };
  return serverPortRefusal(answer, expected, serverPort, describeTarget(dbIdentity(to.settings)));
}

async function deleteMoved(olds: RowsCleanupInputs, news: RowsCleanupInputs): Promise<void> {
  if (context.retired(olds.target)) return;
  const [from, to] = [dbOf(olds), dbOf(news)];
  const fromId = await physicalDatabase(from).catch((error: Error) => {
    throw new Error(
      `vmail: the rows are in ${describeTarget(dbIdentity(to.settings))} now, but ` +
        `${describeTarget(dbIdentity(from.settings))}, where they were, cannot be reached to delete ` +
        `them there: ${error.message}`,
    );
  });
  if (fromId === undefined || fromId === (await physicalDatabase(to))) return;
  const ours = await inTransaction(to, undefined, (c) =>
    c.query<{ tbl: string; key: string }>(OURS_SQL, [news.stack]),
  );
  try {
    await inTransaction(from, undefined, async (c) => {
      for (const table of MAIL_TABLES) {
        const keys = ours.rows.filter((r) => r.tbl === table).map((r) => r.key);
        for (const sql of deleteMovedSql(table)) await c.query(sql, [news.stack, keys]);
      }
    });
  } catch (error) {
    if (!isDatabaseGone(error)) throw error;
  }
}

export const rowsCleanupProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => Promise.resolve(context.set(req.config)),
  async check(olds: RowsCleanupInputs | undefined, news: RowsCleanupInputs) {
    if (!olds?.target || !news.target || !targetChanged(olds.target, news.target)) {
      return { inputs: news };
    }
    // A database or server the preview cannot reach passes here (MailDatabase's own checks and
    // the rows' writes say so).
    const reason = await serverPortProblem(news).catch(() => undefined);
    return {
      inputs: news,
      failures: reason ? [{ property: "target", reason: `vmail: ${reason}` }] : [],
    };
  },
  create(inputs: RowsCleanupInputs) {
    return Promise.resolve({ id: "rows", outs: inputs });
  },
  diff(_id, olds: RowsCleanupInputs, news: RowsCleanupInputs) {
    return Promise.resolve({
      changes: targetChanged(olds.target, news.target) || olds.stack !== news.stack,
    });
  },
  async update(_id, olds: RowsCleanupInputs, news: RowsCleanupInputs) {
    if (olds.target && targetChanged(olds.target, news.target)) await deleteMoved(olds, news);
    return { outs: news };
  },
  /** Nothing on the server to read: it records where the rows are, as the state has it. */
  read(id: string, props: RowsCleanupInputs) {
    return Promise.resolve({ id, props });
  },
  delete() {
    return Promise.resolve(); // each row's own resource deletes it
  },
};
