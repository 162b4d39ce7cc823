// The local admin socket: while the server runs it holds the LevelDB lock, so `herald adduser` and
// friends talk to it here. One JSON request per line, one JSON answer per line. The socket file is
// created in the data directory with mode 0600: only the server's own user can use it.

import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server as NetServer } from "node:net";
import type { Logger } from "../util/logger.js";

export interface AdminRequest {
  command: "adduser" | "passwd" | "deluser" | "listusers" | "status" | "shell";
  /** "shell": one line of the admin shell, parsed and run by the server (src/admin/shell.ts). */
  line?: string;
  host?: string;
  username?: string;
  password?: string;
}

export type AdminResponse = { ok: true; result?: unknown } | { ok: false; error: string };

export type AdminHandler = (req: AdminRequest) => Promise<AdminResponse>;

export async function startAdminSocket(path: string, handler: AdminHandler, log: Logger): Promise<NetServer> {
  if (existsSync(path)) {
    // A socket left by a server that did not stop cleanly: remove it if nobody answers.
    if (await pingSocket(path)) throw new Error(`Another Herald is already running (admin socket ${path} answers)`);
    unlinkSync(path);
  }
  const server = createServer((sock) => {
    let buf = "";
    let queue: Promise<void> = Promise.resolve(); // requests answered one at a time, in order
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      buf += chunk;
      if (buf.length > 65536) return sock.destroy();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        queue = queue.then(async () => {
          let res: AdminResponse;
          try {
            res = await handler(JSON.parse(line) as AdminRequest);
          } catch (err) {
            res = { ok: false, error: (err as Error).message };
          }
          if (!sock.destroyed) sock.write(JSON.stringify(res) + "\n");
        });
      }
    });
    sock.on("error", () => {});
  });
  // The socket is created without group/other permissions from the start (no window before chmod).
  // A Unix socket is bound inside listen() itself, so the narrowed umask is put back before
  // anything else runs: restoring it after an await would let two servers starting at once in one
  // process (as tests do) swap umasks and leave 0177, under which new directories cannot be entered.
  const listening = new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.once("listening", () => resolve());
  });
  const umask = process.umask(0o177);
  try {
    server.listen(path);
  } finally {
    process.umask(umask);
  }
  await listening;
  chmodSync(path, 0o600);
  log.debug(`Admin socket at ${path}`);
  return server;
}

export function closeAdminSocket(server: NetServer, path: string): Promise<void> {
  return new Promise((resolve) =>
    server.close(() => {
      try {
        unlinkSync(path);
      } catch {
        /* already gone */
      }
      resolve();
    }),
  );
}

/** Send one request. Resolves undefined when no server listens there. */
export function adminRequest(path: string, req: AdminRequest, timeoutMs = 30000): Promise<AdminResponse | undefined> {
  return new Promise((resolve, reject) => {
    if (!existsSync(path)) return resolve(undefined);
    const sock = createConnection(path);
    let buf = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error("The server did not answer on its admin socket"));
    }, timeoutMs);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(JSON.stringify(req) + "\n"));
    sock.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        sock.end();
        resolve(JSON.parse(buf.slice(0, nl)) as AdminResponse);
      }
    });
    sock.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === "ECONNREFUSED" || err.code === "ENOENT") resolve(undefined);
      else reject(err);
    });
  });
}

async function pingSocket(path: string): Promise<boolean> {
  try {
    return (await adminRequest(path, { command: "status" }, 2000)) !== undefined;
  } catch {
    return false;
  }
}
