// Loaded into every Node process of a `pulumi up` through NODE_OPTIONS=--require (the program and
// the dynamic providers alike): appends the argv of each process it starts to the file named by
// VMAIL_SPAWN_LOG, one JSON array a line, so a test can search what vmail really ran for secrets.
// Plain CommonJS, so it loads before any TypeScript loader does.
"use strict";
const childProcess = require("node:child_process");
const { appendFileSync } = require("node:fs");
const { syncBuiltinESMExports } = require("node:module");

const log = process.env.VMAIL_SPAWN_LOG;
if (log) {
  const record = (file, args) =>
    appendFileSync(log, JSON.stringify([file, ...(args ?? [])]) + "\n");
  // Every asynchronous start (spawn, exec, execFile, fork) goes through ChildProcess#spawn.
  const spawnAsync = childProcess.ChildProcess.prototype.spawn;
  childProcess.ChildProcess.prototype.spawn = function (options) {
    record(options.file, options.args);
    return spawnAsync.call(this, options);
  };
  // The synchronous ones do not: spawnSync, execSync and execFileSync are wrapped one by one.
  const wrap = (name, argvOf) => {
    const original = childProcess[name];
    childProcess[name] = function (...args) {
      const [file, argv] = argvOf(...args);
      record(file, argv);
      return original.apply(this, args);
    };
  };
  wrap("spawnSync", (file, args) => [file, Array.isArray(args) ? args : []]);
  wrap("execFileSync", (file, args) => [file, Array.isArray(args) ? args : []]);
  wrap("execSync", (command) => ["/bin/sh", ["-c", command]]);
  syncBuiltinESMExports();
}
