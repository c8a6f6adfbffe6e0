// Dynamic providers for the two database steps @pulumi/postgresql has no resource for: the
// tables (with schema public handed to the owner role) and a reload after pg_hba.conf changed.

import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import type { MailTablesInputs, PgReloadInputs } from "../core/providerInputs";
import { inTransaction, poolFor } from "./db";
import { shellQuote } from "../core/scripts";
import { providerContext } from "./context";
import { mustRunOnServer } from "./shell";
import { CREATE_TABLES, SCHEMA_VERSION_SQL, schemaOwnershipSql } from "../core/sql";
import { MAIL_TABLES, MANAGED_ROWS, SCHEMA_VERSION } from "../core/tables";
import { dbIdentity, describeTarget, targetChanged, targetMoved } from "../core/target";

/**
 * The tables a refresh looks for: the mail tables and vmail's list of the rows it wrote. (Its
 * schema version table is not among them: a database an older vmail made has none until the
 * next `up` runs the statements.)
 */
const ALL_TABLES = [...MAIL_TABLES, MANAGED_ROWS];

/**
 * Which CREATE_TABLES made the tables: a state made by other statements (before the bookkeeping
 * table's COMMENT, say) runs them again, once; they are idempotent.
 */
const DDL_VERSION = createHash("sha256").update(CREATE_TABLES.join(";\n")).digest("hex");

interface MailTablesOutputs extends MailTablesInputs {
  ddl?: string;
  /** The schema version the statements brought the tables to (core/tables.ts). */
  schemaVersion?: number;
}

async function ensureTables(inputs: MailTablesInputs): Promise<MailTablesOutputs> {
  const db = providerContext.dbAt(inputs.target);
  // Ownership first (as admin), then the tables as the owner role, so the owner owns them.
  await inTransaction(
    db,
    undefined,
    async (client) => {
      await client.query(schemaOwnershipSql(inputs.ownerRole));
    },
    inputs.database,
  );
  await inTransaction(
    db,
    inputs.ownerRole,
    async (client) => {
      await client.query(SCHEMA_VERSION_SQL.create);
      const found = await client.query<{ version: number }>(SCHEMA_VERSION_SQL.read);
      const version = found.rows[0].version;
      if (version > SCHEMA_VERSION) {
        throw new Error(
          `vmail: the mail tables in ${describeTarget(dbIdentity({ ...db.settings, name: inputs.database }))} ` +
            `are at vmail's schema version ${version}, newer than this vmail's ${SCHEMA_VERSION}: ` +
            `a newer vmail converged them. Run that version (or a later one); nothing was changed`,
        );
      }
      for (const statement of CREATE_TABLES) await client.query(statement);
      await client.query(SCHEMA_VERSION_SQL.clear);
      await client.query(SCHEMA_VERSION_SQL.record, [SCHEMA_VERSION]);
    },
    inputs.database,
  );
  return { ...inputs, ddl: DDL_VERSION, schemaVersion: SCHEMA_VERSION };
}

export const mailTablesProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => Promise.resolve(providerContext.set(req.config)),
  async create(inputs: MailTablesInputs) {
    return { id: inputs.database, outs: await ensureTables(inputs) };
  },
  diff: (_id, olds: MailTablesOutputs, news: MailTablesInputs) => {
    const moved = targetMoved(olds.target, news.target);
    const replaces = [
      ...(olds.database !== news.database ? ["database"] : []),
      ...(moved ? ["target"] : []),
    ];
    const changed =
      olds.ownerRole !== news.ownerRole || olds.target === undefined || olds.ddl !== DDL_VERSION;
    return Promise.resolve({ changes: changed || replaces.length > 0, replaces });
  },
  async update(_id, _olds, news: MailTablesInputs) {
    return { outs: await ensureTables(news) };
  },
  async read(id: string, props: MailTablesInputs) {
    if (providerContext.retired(props.target)) return { id, props };
    const pool = poolFor(providerContext.dbAt(props.target), props.database);
    const result = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY($1)",
      [ALL_TABLES],
    );
    return result.rows[0].n === ALL_TABLES.length ? { id, props } : { id: "" };
  },
  // Nothing on delete: the tables go with the database, and a kept database keeps its mail data.
  delete: () => Promise.resolve(),
};

/**
 * pg_reload_conf(), once the file vmail edited is known to be the one PostgreSQL reads; then the
 * server's own verdict on pg_hba.conf: any line it could not parse.
 */
async function reload(inputs: PgReloadInputs): Promise<void> {
  const [db, shell] = [providerContext.dbAt(inputs.target), providerContext.shellAt(inputs.server)];
  const pool = poolFor(db, "postgres");
  const shown = (await pool.query<{ hba_file: string }>("SHOW hba_file")).rows[0].hba_file;
  // Compared as the server resolves them: one may be a symlink to the other.
  const [edited, read] = (
    await mustRunOnServer(
      shell,
      "resolving pg_hba.conf",
      `readlink -f -- ${shellQuote(inputs.hbaFile)}; readlink -f -- ${shellQuote(shown)}`,
    )
  ).split("\n");
  if (edited !== read) {
    throw new Error(
      `vmail: vmail:pgHbaFile is ${inputs.hbaFile}, but PostgreSQL reads ${shown}: set vmail:pgHbaFile to it`,
    );
  }
  await pool.query("SELECT pg_reload_conf()");
  const errors = await pool.query<{ line_number: number; error: string }>(
    "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL",
  );
  if (errors.rows.length > 0) {
    const lines = errors.rows.map((r) => `line ${r.line_number}: ${r.error}`).join("; ");
    throw new Error(`vmail: PostgreSQL does not accept pg_hba.conf (${lines})`);
  }
}

export const pgReloadProvider: pulumi.dynamic.ResourceProvider = {
  configure: (req) => Promise.resolve(providerContext.set(req.config)),
  async create(inputs: PgReloadInputs) {
    await reload(inputs);
    return { id: "pg-reload", outs: inputs };
  },
  diff: (_id, olds: PgReloadInputs, news: PgReloadInputs) =>
    Promise.resolve({
      changes:
        olds.trigger !== news.trigger ||
        targetChanged(olds.target, news.target) ||
        targetMoved(olds.server, news.server),
    }),
  async update(_id, _olds, news: PgReloadInputs) {
    await reload(news);
    return { outs: news };
  },
  read: (id: string, props: PgReloadInputs) => Promise.resolve({ id, props }),
  // Destroy runs this before the pg_hba block is removed, so a reload here would be early; the
  // removed lines name a role and database that destroy drops anyway.
  delete: () => Promise.resolve(),
};
