import { describe, expect, test } from "vitest";
import { defaultConfig, defaultParsedConfig } from "../prosody-compat/config/index.js";
import { autoloadModules, builtinModules, defaultConfigText, registry } from "./index.js";
import { componentAutoloadModules, externalComponentAutoloadModules } from "./defaults.js";

describe("default configuration", () => {
  test("goes through the parser", () => {
    expect(defaultConfigText).toContain(`VirtualHost "localhost"`);
    const parsed = defaultParsedConfig(defaultConfigText);
    expect(parsed.hosts.map((h) => [h.kind, h.name])).toEqual(
      expect.arrayContaining([["VirtualHost", "localhost"], ["Component", "pubsub.localhost"], ["Component", "upload.localhost"], ["Component", "conference.localhost"]]),
    );
    expect(parsed.warnings).toEqual([]);
    const c = defaultConfig(defaultConfigText);
    expect(c.global.string("data_path")).toBe("./data");
    expect(c.host("localhost").string("data_path")).toBe("./data");
    // Each host is reported at the line of its declaration in the embedded text.
    const lineOf = (decl: string) => defaultConfigText.split("\n").findIndex((l) => l.startsWith(decl)) + 1;
    expect(lineOf(`VirtualHost "localhost"`)).toBeGreaterThan(0);
    expect(c.hosts).toEqual(
      expect.arrayContaining([
        { name: "localhost", kind: "VirtualHost", file: "<default config>", line: lineOf(`VirtualHost "localhost"`) },
        { name: "pubsub.localhost", kind: "Component", module: "pubsub", file: "<default config>", line: lineOf(`Component "pubsub.localhost"`) },
        { name: "upload.localhost", kind: "Component", module: "http_file_share", file: "<default config>", line: lineOf(`Component "upload.localhost"`) },
        { name: "conference.localhost", kind: "Component", module: "muc", file: "<default config>", line: lineOf(`Component "conference.localhost"`) },
      ]),
    );
    expect(c.host("localhost").array("modules_enabled")).toContain("roster");
  });
});

describe("module lists", () => {
  test("every autoloaded module Herald ships is in the registry, and no built-in name is (csi_simple is a module now)", () => {
    for (const m of autoloadModules) if (m !== "iq") expect(registry[m], m).toBeDefined();
    for (const m of [...componentAutoloadModules, ...externalComponentAutoloadModules]) expect(registry[m], m).toBeDefined();
    for (const m of builtinModules) expect(registry[m], m).toBeUndefined();
  });
});
