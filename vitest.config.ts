import { availableParallelism } from "node:os";
import { relative } from "node:path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

// Test files that must each have a process of their own: they change process-wide state (TLS
// verification through the environment), run the CLI as child processes with blocking calls, or
// kill servers in the middle of writes.
const ISOLATED = ["test/c2s/no-sni.test.ts", "test/cli/**/*.test.ts", "test/storage/group-commit-kill.test.ts", "test/pubsub/crash.test.ts", "test/mam/crash.test.ts"];

// Files that measure latency under their own load (the fuzz corpus's honest pings, a burst of
// registrations, a publish storm to 10,000 subscribers): run alone, one after the other, once
// everything else has finished.
const ALONE = ["test/c2s/fuzz.test.ts", "test/im/register-burst.test.ts", "test/pubsub/storm.test.ts"];

/**
 * Vitest queues one project's files after the other's; this queues the longest files first
 * (by the last run's durations, else by size) whatever their project, so the long CLI files run
 * beside module tests that mostly wait, instead of before them.
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const cache = this.ctx.cache;
    const key = (f: TestSpecification) => `${f.project.name}:${relative(this.ctx.config.root, f.moduleId)}`;
    // As Vitest's own order: files not run before first, then those that failed, then the longest.
    const rank = (f: TestSpecification) => {
      const last = cache.getFileTestResults(key(f));
      return last === undefined ? [2, cache.getFileStats(key(f))?.size ?? 0] : [last.failed ? 1 : 0, last.duration];
    };
    return [...files].sort((a, b) => {
      const order = a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder;
      if (order !== 0) return order;
      const [ra, rb] = [rank(a), rank(b)];
      return rb[0] - ra[0] || rb[1] - ra[1];
    });
  }
}

export default defineConfig({
  test: {
    testTimeout: 20000,
    hookTimeout: 30000,
    pool: "forks",
    sequence: { sequencer: LongestFirst },
    // Vitest's default is one worker less than the cores: a single worker on a 2-core machine. Most
    // test time is waiting (for quiet on a stream, for a Python or browser client), so run more
    // files at once than there are cores. HERALD_TEST_WORKERS overrides.
    maxWorkers: Number(process.env.HERALD_TEST_WORKERS) || availableParallelism() + 1,
    projects: [
      {
        extends: true,
        // These spawn processes (herald, Python): give them room when files run in parallel.
        test: { name: "isolated", include: ISOLATED, exclude: ["**/node_modules/**", ...ALONE], isolate: true, testTimeout: 60000 },
      },
      {
        extends: true,
        test: { name: "alone", include: ALONE, isolate: true, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
      {
        // Unit, module, transport and storage tests start and stop their own servers and clients and
        // clean up after themselves: one process runs one file after another, without re-importing
        // Herald each time.
        extends: true,
        test: {
          name: "shared",
          include: ["src/**/*.test.ts", "modules/**/*.test.ts", "prosody-compat/**/*.test.ts", "test/**/*.test.ts"],
          exclude: ["**/node_modules/**", ...ISOLATED, ...ALONE],
          isolate: false,
        },
      },
    ],
  },
});
