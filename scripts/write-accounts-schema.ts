// Writes accounts.schema.json, the JSON Schema of vmail:accountsFile, from the zod schemas in
// core/accountsSchema.ts (a unit test holds the committed file equal to them).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { accountsJsonSchema } from "../core/accountsSchema";

writeFileSync(
  join(__dirname, "..", "accounts.schema.json"),
  `${JSON.stringify(accountsJsonSchema(), null, 2)}\n`,
);
