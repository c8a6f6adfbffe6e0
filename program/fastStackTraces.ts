// Pulumi's SDK records a stack trace for each of the dozens of promises every resource makes, and
// formats it at once. At thousands of rows those traces were most of a preview's time (ts-node
// remaps each one through source maps) and much of the program's memory. vmail keeps none: its
// errors are read by their messages, which name the entry and the rule. VMAIL_FULL_STACK_TRACES=1
// restores the SDK's traces, source-mapped, for debugging. (A resource's own source position is
// unaffected: Pulumi lifts the limit while reading it.)

if (process.env.VMAIL_FULL_STACK_TRACES !== "1") {
  // Deleting the hook (not setting one) is what gives V8 its own, native formatting back.
  delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace;
  Error.stackTraceLimit = 0;
}

export {};
