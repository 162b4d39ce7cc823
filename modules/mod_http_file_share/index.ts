// XEP-0363: HTTP File Upload, as a component: `Component "upload.example.com" "http_file_share"`.
//
// A client asks the component for a slot (`<request filename size content-type/>`); Herald checks
// it (who may upload, file name, size limit, quotas, allowed types), records the slot and answers
// with a PUT URL carrying a signed authorization and the GET URL. The file is then PUT over the
// server's http(s) listener at `/file_share/<slot>/<filename>`, stored on disk (mode 0600) under
// `<data_path>/http_file_share/<component>/`, and served back by GET/HEAD with its type and length.
// Expired files are deleted by a timer.
//
// Options (Prosody's names and defaults):
//   http_file_share_size_limit = 10485760          -- bytes per file
//   http_file_share_daily_quota = size_limit * 10  -- bytes per uploader in 24 hours
//   http_file_share_global_quota = unlimited       -- bytes of all files kept
//   http_file_share_expires_after = "1w"           -- files are deleted after this ("never": kept)
//   http_file_share_allowed_file_types = { }       -- e.g. { "image/*", "text/plain" }; empty: any
//   http_file_share_safe_file_types = { "image/*", "video/*", "audio/*", "text/plain" } -- shown inline
//   http_file_share_access = { }                   -- JIDs/hosts allowed; empty: accounts of this server
//   http_file_share_base_url                       -- where the files are served, when not by Herald
//   http_file_share_secret                         -- key of the upload authorizations (default: random)
//   http_paths = { file_share = "/file_share" }    -- the path on the http(s) listener

import { createReadStream, createWriteStream, mkdirSync, promises as fsp } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { defineModule, type ModuleApi } from "../../src/modules/api.js";
import { renderForm } from "../../src/util/dataforms.js";
import { jidBare, jidHost, jidNode } from "../../src/util/jid.js";
import { Element, StanzaError } from "../../src/xml/stanza.js";
import { createToken, verifyToken } from "./token.js";

export const NS_HTTP_UPLOAD = "urn:xmpp:http:upload:0";

interface Upload {
  filename: string;
  size: number;
  type: string;
}

const DAY = 86400;

/** "image/png" is allowed by "image/png" and by "image/*". */
function typeIn(set: Set<string>, type: string): boolean {
  return set.has(type) || set.has(type.replace(/\/.*/, "/*"));
}

function mediaType(header: string | undefined): string | undefined {
  return header?.split(";")[0].trim().toLowerCase();
}

/** RFC 5987 encoding of a file name for Content-Disposition. */
function encodeFilename(name: string): string {
  return encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export default defineModule({
  async load(module) {
    await module.depends("disco");
    const o = module.options;
    const name = module.name; // "http_file_share"
    const sizeLimit = o.integer(`${name}_size_limit`, 10 * 1024 * 1024, { min: 0 });
    const dailyQuota = o.integer(`${name}_daily_quota`, sizeLimit * 10, { min: 0 });
    const globalQuota = o.integer(`${name}_global_quota`, Number.MAX_SAFE_INTEGER, { min: 0 });
    const expiry = o.period(`${name}_expires_after`, 7 * DAY);
    const allowedTypes = o.set(`${name}_allowed_file_types`);
    const safeTypes = o.set(`${name}_safe_file_types`, ["image/*", "video/*", "audio/*", "text/plain"]);
    const access = o.set(`${name}_access`);
    const externalBaseUrl = o.string(`${name}_base_url`);
    const secret = o.string(`${name}_secret`) ?? randomBytes(32).toString("base64url");
    const tokenTtl = 600;
    const paths = o.table("http_paths");
    const configuredPath = paths?.get("file_share");
    const basePath = `${(typeof configuredPath === "string" ? configuredPath : "/file_share").replace(/\/+$/, "")}/`;

    module.addIdentity("store", "file", o.string("name", "HTTP File Upload"));
    module.addFeature(NS_HTTP_UPLOAD);
    module.addDiscoExtension(() =>
      renderForm({ formType: NS_HTTP_UPLOAD, fields: [{ var: "max-file-size", type: "text-single", datatype: "xs:integer" }] }, { "max-file-size": String(sizeLimit) }, "result"),
    );

    // Slots: user "" of the archive, `with` = the uploader (daily quota), `when` = issued (expiry).
    const uploads = module.openArchive<Upload>("uploads");
    const stats = module.openKeyval<number>("upload_stats");
    const dir = join(module.dataPath, "http_file_share", encodeURIComponent(module.host));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fileOf = (slot: string) => join(dir, slot);

    let totalUsage: number | undefined;
    const usage = async (): Promise<number> => {
      if (totalUsage === undefined) {
        const stored = await stats.get("total");
        if (typeof stored === "number") totalUsage = stored;
        else totalUsage = (await uploads.find("")).reduce((n, u) => n + u.value.size, 0);
      }
      return totalUsage;
    };
    const addUsage = async (delta: number) => {
      totalUsage = Math.max(0, (await usage()) + delta);
      await stats.set("total", totalUsage);
    };

    const dailyUsage = async (uploader: string): Promise<number> => {
      const recent = await uploads.find("", { with: uploader, start: Date.now() - DAY * 1000 });
      return recent.reduce((n, u) => n + u.value.size, 0);
    };

    const mayAccess = (uploader: string): boolean => {
      if (access.size > 0) return access.has(uploader) || access.has(jidHost(uploader));
      const host = jidHost(uploader);
      return jidNode(uploader) !== undefined && host !== module.host && module.hostNames().includes(host);
    };

    const url = (slot: string, filename: string): string | undefined => {
      const rel = `${encodeURIComponent(slot)}/${encodeURIComponent(filename)}`;
      if (externalBaseUrl) return `${externalBaseUrl.replace(/\/+$/, "")}/${rel}`;
      return module.http.url(basePath + rel);
    };

    // ---- slot requests ----

    module.iq.get(NS_HTTP_UPLOAD, "request", async (ev) => {
      const { stanza, payload: request } = ev;
      const uploader = jidBare(stanza.attrs.from ?? "");
      const filename = request.attrs.filename;
      const sizeText = request.attrs.size;
      const filetype = (request.attrs["content-type"] ?? "").trim() || "application/octet-stream";
      const fail = (type: "modify" | "auth" | "wait" | "cancel", condition: string, text?: string, app?: Element) =>
        new StanzaError(type, condition, text, app);

      if (!mayAccess(uploader)) return fail("auth", "forbidden");
      // Only '/' (and NUL, which XML cannot carry) are impossible in a file name; "." and ".."
      // would not survive in a URL path.
      if (!filename || filename.includes("/") || filename === "." || filename === "..") return fail("modify", "bad-request", "Invalid filename");
      if (sizeText === undefined || !/^\d+$/.test(sizeText.trim())) return fail("modify", "bad-request", "File size must be positive integer");
      const size = Number(sizeText.trim());
      if (size > sizeLimit) {
        const tooLarge = new Element("file-too-large", { xmlns: NS_HTTP_UPLOAD }).textTag("max-file-size", String(sizeLimit));
        return fail("modify", "not-acceptable", "File too large", tooLarge);
      }
      if ((await usage()) + size > globalQuota) {
        module.log.warn(`Global storage quota reached (${await usage()} of ${globalQuota} bytes)`);
        return fail("wait", "resource-constraint", "Server global storage quota reached");
      }
      if ((await dailyUsage(uploader)) + size > dailyQuota) return fail("wait", "resource-constraint", "Daily quota reached");
      if (allowedTypes.size > 0 && !typeIn(allowedTypes, filetype)) return fail("modify", "not-acceptable", "File type not allowed");

      const getUrl = url("x", "x");
      if (getUrl === undefined) {
        module.log.error("No http(s) listener to serve uploads: set http_ports or http_file_share_base_url");
        return fail("cancel", "service-unavailable", "File upload is not available");
      }
      const slot = randomBytes(18).toString("base64url");
      await uploads.append("", { filename, size, type: filetype }, { id: slot, with: uploader });
      await addUsage(size);
      const now = Math.floor(Date.now() / 1000);
      const token = createToken(secret, { sub: uploader, slot, filename, filesize: size, filetype, exp: now + tokenTtl });
      const slotUrl = url(slot, filename)!;
      module.log.info(`Upload slot for ${uploader}: ${size} bytes`);
      return new Element("slot", { xmlns: NS_HTTP_UPLOAD })
        .tag("get", { url: slotUrl })
        .up()
        .tag("put", { url: slotUrl })
        .textTag("header", `Bearer ${token}`, { name: "Authorization" })
        .up();
    });

    // ---- HTTP ----

    if (!externalBaseUrl) {
      module.http.route("PUT", basePath, (req, res, rest) => handleUpload(module, req, res, rest));
      module.http.route("GET", basePath, (req, res, rest) => handleDownload(req, res, rest, false));
      module.http.route("HEAD", basePath, (req, res, rest) => handleDownload(req, res, rest, true));
    }

    const plain = (res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}) => {
      if (res.headersSent) return void res.end();
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers });
      res.end(`${text}\n`);
    };

    const handleUpload = async (m: ModuleApi, req: IncomingMessage, res: ServerResponse, rest: string) => {
      const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      if (!auth) {
        req.resume();
        return plain(res, 401, "Authorization required", { "www-authenticate": "Bearer" });
      }
      const grant = verifyToken(secret, auth);
      if (!grant) {
        req.resume();
        return plain(res, 401, "Invalid or expired authorization", { "www-authenticate": "Bearer" });
      }
      let slot: string | undefined;
      try {
        slot = decodeURIComponent(rest.split("/")[0] ?? "");
      } catch {
        slot = undefined;
      }
      if (slot !== grant.slot) {
        req.resume();
        return plain(res, 400, "The authorization is for another slot");
      }
      const declared = req.headers["content-length"];
      if (declared !== undefined && Number(declared) !== grant.filesize) {
        req.resume();
        return plain(res, 413, `The slot is for ${grant.filesize} bytes`);
      }
      const ctype = mediaType(req.headers["content-type"]);
      if (ctype !== undefined && ctype !== mediaType(grant.filetype)) {
        req.resume();
        return plain(res, 400, `The slot is for ${grant.filetype}`);
      }
      const final = fileOf(slot);
      const exists = await fsp.stat(final).then(() => true, () => false);
      if (exists) {
        req.resume();
        return plain(res, 409, "This slot has been used");
      }
      const temp = `${final}~`;
      let out;
      try {
        out = createWriteStream(temp, { flags: "wx", mode: 0o600 });
        await new Promise<void>((resolve, reject) => {
          out!.once("open", () => resolve());
          out!.once("error", reject);
        });
      } catch (err) {
        req.resume();
        if ((err as NodeJS.ErrnoException).code === "EEXIST") return plain(res, 409, "An upload to this slot is in progress");
        throw err;
      }
      let received = 0;
      let tooLong = false;
      const ok = await new Promise<boolean>((resolve) => {
        req.on("data", (chunk: Buffer) => {
          received += chunk.length;
          if (received > grant.filesize) {
            tooLong = true;
            req.pause();
            resolve(false);
            return;
          }
          if (!out!.write(chunk)) {
            req.pause();
            out!.once("drain", () => req.resume());
          }
        });
        req.on("end", () => resolve(true));
        req.on("aborted", () => resolve(false));
        req.on("error", () => resolve(false));
        out!.on("error", () => resolve(false));
      });
      await new Promise<void>((resolve) => out!.end(() => resolve()));
      if (!ok || received !== grant.filesize) {
        await fsp.rm(temp, { force: true });
        if (tooLong || (ok && received !== grant.filesize)) {
          // A body longer than the slot is not read to its end: the connection goes once answered.
          if (tooLong) res.once("finish", () => req.destroy());
          plain(res, 413, `The slot is for ${grant.filesize} bytes`, tooLong ? { connection: "close" } : {});
        } else res.destroy();
        return;
      }
      await fsp.rename(temp, final);
      m.log.info(`Upload of ${grant.filesize} bytes by ${grant.sub} completed`);
      res.writeHead(201, { "content-type": "text/plain; charset=utf-8" });
      res.end("Created\n");
    };

    const handleDownload = async (req: IncomingMessage, res: ServerResponse, rest: string, head: boolean) => {
      let slot: string;
      try {
        slot = decodeURIComponent(rest.split("/")[0] ?? "");
      } catch {
        return plain(res, 400, "Bad request");
      }
      const item = slot ? await uploads.get("", slot) : undefined;
      if (!item) return plain(res, 404, "Not found");
      const file = fileOf(slot);
      const st = await fsp.stat(file).catch(() => undefined);
      if (!st) return plain(res, 404, "Not found");
      const lastModified = new Date(Math.floor(st.mtimeMs / 1000) * 1000).toUTCString();
      const upload = item.value;
      const headers: Record<string, string> = {
        "last-modified": lastModified,
        "cache-control": "max-age=31556952, immutable",
        "content-security-policy": "default-src 'none'; frame-ancestors 'none';",
        "strict-transport-security": "max-age=31556952",
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
      };
      if (req.headers["if-modified-since"] === lastModified) {
        res.writeHead(304, headers);
        return void res.end();
      }
      const disposition = typeIn(safeTypes, upload.type) ? "inline" : "attachment";
      res.writeHead(200, {
        ...headers,
        "content-type": upload.type,
        "content-length": String(st.size),
        "content-disposition": `${disposition}; filename*=UTF-8''${encodeFilename(upload.filename)}`,
      });
      if (head) return void res.end();
      await new Promise<void>((resolve) => {
        const stream = createReadStream(file);
        stream.on("error", () => {
          res.destroy();
          resolve();
        });
        stream.on("end", () => resolve());
        stream.pipe(res);
      });
    };

    // ---- expiry ----

    const prune = async () => {
      const boundary = Date.now() - expiry * 1000;
      const expired = await uploads.find("", { end: boundary });
      if (expired.length === 0) return;
      let bytes = 0;
      const kept: string[] = [];
      for (const u of expired) {
        try {
          await fsp.rm(fileOf(u.id), { force: true });
          await fsp.rm(`${fileOf(u.id)}~`, { force: true });
          bytes += u.value.size;
        } catch (err) {
          module.log.error(`Could not delete expired upload ${u.id}: ${(err as Error).message}`);
          kept.push(u.id);
        }
      }
      const gone = expired.map((u) => u.id).filter((id) => !kept.includes(id));
      await uploads.delete("", { ids: gone });
      await addUsage(-bytes);
      module.log.info(`Deleted ${gone.length} expired uploads (${bytes} bytes)`);
    };
    if (Number.isFinite(expiry) && !externalBaseUrl) {
      const interval = Math.min(3600, Math.max(1, expiry)) * 1000;
      module.addTimer(1000, async () => {
        await prune();
        return interval;
      });
    }
  },
});
