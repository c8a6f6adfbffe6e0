// The benchmark's Pulumi program: the engine-runnable part of vmail (tests/support/engineProgram.ts)
// read from the stack config, with what the harness did in place of the plugin-backed resources
// handed over under the vmailBench namespace.
import "../../program/fastStackTraces";
import * as pulumi from "@pulumi/pulumi";
import { engineProgram } from "../../tests/support/engineProgram";

const bench = new pulumi.Config("vmailBench");
export = engineProgram({
  gid: bench.requireNumber("gid"),
  readerPassword: bench.requireSecret("readerPassword"),
});
