// The admin socket is created mode 0600 by narrowing the process umask while it is bound. Several
// servers starting at once in one process (tests, or an embedding program) must leave the umask as
// they found it: a swapped 0177 made every later directory unenterable.

import { mkdtempSync, mkdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { adminRequest, closeAdminSocket, startAdminSocket } from "../../src/admin/socket.js";
import { nullLogger } from "../../src/util/logger.js";

describe("admin socket", () => {
  const dir = mkdtempSync(join(tmpdir(), "herald-admin-socket-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("binds mode 0600 and leaves the umask as it was when several start at once", async () => {
    const before = process.umask();
    const paths = [0, 1, 2, 3].map((i) => join(dir, `admin-${i}.sock`));
    const servers = await Promise.all(
      paths.map((p, i) => startAdminSocket(p, async () => ({ ok: true, result: i }), nullLogger)),
    );
    try {
      expect(process.umask()).toBe(before);
      for (const [i, p] of paths.entries()) {
        expect(statSync(p).mode & 0o777).toBe(0o600);
        expect(await adminRequest(p, { command: "status" })).toEqual({ ok: true, result: i });
      }
      // A directory made now can be entered by its owner.
      const sub = join(dir, "after");
      mkdirSync(sub);
      expect(statSync(sub).mode & 0o100).toBe(0o100);
    } finally {
      await Promise.all(servers.map((s, i) => closeAdminSocket(s, paths[i]!)));
    }
  });
});
