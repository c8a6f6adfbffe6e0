// The SDK sends the engine four debug messages for every resource it registers, each its own RPC,
// strictly one after another, and the engine writes each into the CLI's log of the run. At
// thousands of rows that is work for the program (its busiest process at scale) and the engine
// that nobody reads: vmail drops them. VMAIL_SDK_DEBUG=1 keeps them, for `pulumi up --debug`.

if (process.env.VMAIL_SDK_DEBUG !== "1") {
  // The SDK's modules call log.debug through this same module object, so replacing the export
  // reaches them; warnings and errors still go to the engine. Required, not imported: an import's
  // namespace object is read-only.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const log = require("@pulumi/pulumi/log") as { debug: (...args: unknown[]) => Promise<void> };
  log.debug = () => Promise.resolve();
}

export {};
