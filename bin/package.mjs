#!/usr/bin/env node
// `npm run package`: builds Herald as ONE executable file (default dist-bin/herald) that runs on a
// machine with no Node.js and no node_modules: a copy of this Node binary with Herald injected as a
// single-executable application (SEA).
//
//   1. esbuild bundles bin/sea-main.ts and everything it imports into one CommonJS script (what SEA
//      runs), with the native addons' loaders replaced by bin/sea-runtime.ts's loadNative and every
//      import.meta.url by the module's path in the extracted tree (seaFileUrl).
//   2. The native addons (classic-level's LevelDB, @node-rs/argon2) and the data files Herald reads at
//      run time become SEA assets, listed with their SHA-256 in a manifest.
//   3. `node --experimental-sea-config` makes the preparation blob; postject injects it into a copy
//      of process.execPath.
//
// Usage: node bin/package.mjs [--out FILE]
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire, isBuiltin } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(join(repo, "package.json"));
const runtimeModule = join(repo, "bin", "sea-runtime.ts");
const SENTINEL_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

function fail(msg) {
  console.error(`package: ${msg}`);
  process.exit(1);
}

const args = process.argv.slice(2);
let out = join(repo, "dist-bin", "herald");
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--out" && args[i + 1]) out = resolve(args[++i]);
  else fail(`unknown argument ${args[i]} (usage: node bin/package.mjs [--out FILE])`);
}

if (process.platform !== "linux") fail(`building the single executable is supported on Linux only (this is ${process.platform})`);
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 12)) fail(`Node ${process.versions.node} has no SEA assets; use Node 20.12 or later`);

/** The native addons, from this machine's node_modules (glibc builds, like the Node binary itself). */
const arch = process.arch;
const natives = {
  "classic-level.node": join(dirname(require.resolve("classic-level/package.json")), "prebuilds", `linux-${arch}`, "classic-level.node"),
  "argon2.node": join(dirname(require.resolve(`@node-rs/argon2-linux-${arch}-gnu/package.json`)), `argon2.linux-${arch}-gnu.node`),
};
for (const [name, file] of Object.entries(natives)) if (!existsSync(file)) fail(`${name}: ${file} is missing (npm install?)`);

const started = Date.now();
const work = mkdtempSync(join(tmpdir(), "herald-package-"));
try {
  // 1. The bundle.
  /** @type {import("esbuild").Plugin} */
  const seaPlugin = {
    name: "herald-sea",
    setup(b) {
      // Herald's own modules: import.meta.url → the module's place in the extracted tree.
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
        let text = readFileSync(args.path, "utf8");
        if (args.path !== runtimeModule && text.includes("import.meta.url")) {
          const rel = relative(repo, args.path).split(sep).join("/").replace(/\.ts$/, ".js");
          text = text.replaceAll("import.meta.url", `__heraldSeaUrl(${JSON.stringify(rel)})`);
          text = `import { seaFileUrl as __heraldSeaUrl } from ${JSON.stringify(runtimeModule)};\n${text}`;
        }
        return { contents: text, loader: "ts" };
      });
      // argon2: the package's loader looks for a platform package; use the embedded addon instead.
      b.onResolve({ filter: /^@node-rs\/argon2$/ }, () => ({ path: "argon2.node", namespace: "herald-native" }));
      // classic-level: binding.js asks node-gyp-build for the prebuilt addon beside it.
      b.onLoad({ filter: /[\\/]classic-level[\\/]binding\.js$/ }, () => ({
        contents: `module.exports = require(${JSON.stringify(runtimeModule)}).loadNative("classic-level.node");`,
        loader: "js",
        resolveDir: repo,
      }));
      // ws tries these optional speed-ups inside try/catch; the executable runs without them.
      b.onResolve({ filter: /^(bufferutil|utf-8-validate)$/ }, (args) => ({ path: args.path, namespace: "herald-absent" }));
      b.onLoad({ filter: /.*/, namespace: "herald-absent" }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`${args.path} is not part of the single executable`)});`,
        loader: "js",
      }));
      b.onLoad({ filter: /.*/, namespace: "herald-native" }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(runtimeModule)}).loadNative(${JSON.stringify(args.path)});`,
        loader: "js",
        resolveDir: repo,
      }));
    },
  };
  const bundle = join(work, "herald.cjs");
  const result = await build({
    entryPoints: [join(repo, "bin", "sea-main.ts")],
    outfile: bundle,
    bundle: true,
    format: "cjs",
    platform: "node",
    target: `node${major}`,
    plugins: [seaPlugin],
    metafile: true,
    logLevel: "warning",
    legalComments: "none",
  });
  const inputs = Object.keys(result.metafile.inputs);
  const leaked = inputs.filter((p) => /node-gyp-build|argon2-linux|node_modules[\\/]@node-rs[\\/]argon2[\\/]index\.js/.test(p));
  if (leaked.length > 0) fail(`the bundle still contains native loaders: ${leaked.join(", ")}`);
  // Inside the executable require() reaches Node's built-in modules only.
  const outside = Object.values(result.metafile.outputs)
    .flatMap((o) => o.imports)
    .filter((i) => i.external && !isBuiltin(i.path))
    .map((i) => i.path);
  if (outside.length > 0) fail(`the bundle requires modules from outside it: ${[...new Set(outside)].join(", ")}`);

  // 2. Assets and their manifest.
  const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
  /** @type {Record<string, Buffer>} */
  const assets = {
    "package.json": Buffer.from(JSON.stringify({ name: pkg.name, version: pkg.version, description: pkg.description, license: pkg.license }, null, 2) + "\n"),
    "prosody-compat/scansion/expected-failures.txt": readFileSync(join(repo, "prosody-compat", "scansion", "expected-failures.txt")),
  };
  for (const [name, file] of Object.entries(natives)) assets[`native/${name}`] = readFileSync(file);
  const files = {};
  const all = createHash("sha256");
  for (const name of Object.keys(assets).sort()) {
    files[name] = createHash("sha256").update(assets[name]).digest("hex");
    all.update(`${name}\0${files[name]}\n`);
  }
  const manifest = { hash: all.digest("hex").slice(0, 16), files };
  const seaConfig = { main: bundle, output: join(work, "sea-prep.blob"), disableExperimentalSEAWarning: true, assets: { "manifest.json": join(work, "manifest.json") } };
  writeFileSync(join(work, "manifest.json"), JSON.stringify(manifest, null, 2));
  for (const [name, data] of Object.entries(assets)) {
    const file = join(work, "assets", name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, data);
    seaConfig.assets[name] = file;
  }
  writeFileSync(join(work, "sea-config.json"), JSON.stringify(seaConfig, null, 2));

  // 3. The blob, injected into a copy of this Node binary.
  const blob = spawnSync(process.execPath, ["--experimental-sea-config", join(work, "sea-config.json")], { encoding: "utf8" });
  if (blob.status !== 0) fail(`node --experimental-sea-config failed:\n${blob.stdout}${blob.stderr}`);
  const binary = join(work, "herald");
  copyFileSync(process.execPath, binary);
  chmodSync(binary, 0o755);
  // postject's ELF library prints harmless warnings about Node's note sections: shown only on failure.
  const postject = join(dirname(require.resolve("postject/package.json")), "dist", "cli.js");
  const injected = spawnSync(process.execPath, [postject, binary, "NODE_SEA_BLOB", seaConfig.output, "--sentinel-fuse", SENTINEL_FUSE], { encoding: "utf8" });
  if (injected.status !== 0) fail(`postject failed:\n${injected.stdout}${injected.stderr}`);
  mkdirSync(dirname(out), { recursive: true });
  copyFileSync(binary, `${out}.tmp`);
  chmodSync(`${out}.tmp`, 0o755);
  renameSync(`${out}.tmp`, out);
  const mb = (n) => (n / 1048576).toFixed(1);
  console.log(
    `package: wrote ${relative(process.cwd(), out) || out} (${mb(statSync(out).size)} MB: Node ${process.versions.node} for linux-${arch}, ` +
      `Herald ${pkg.version} bundle ${mb(statSync(bundle).size)} MB, ${Object.keys(assets).length} assets) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
