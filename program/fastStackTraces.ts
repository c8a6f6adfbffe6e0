// Pulumi's SDK records a stack trace for every resource it registers and for each of the dozens
// of promises a resource makes. At thousands of rows those traces were most of a preview's time
// (ts-node remaps each one through source maps) and much of the program's memory. vmail formats
// them natively and keeps a few frames; VMAIL_FULL_STACK_TRACES=1 restores both for debugging.
// (The resource's own source position is unaffected: Pulumi lifts the limit while reading it.)

if (process.env.VMAIL_FULL_STACK_TRACES !== "1") {
  // Deleting the hook (not setting one) is what gives V8 its own, native formatting back.
  delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
  Error.stackTraceLimit = 3;
}

export {};
