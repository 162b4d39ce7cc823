// Runs a parsed config chunk the way Prosody's configmanager does, for the subset of Lua that
// configs use: option assignments, locals, VirtualHost/Component sections, Include and the
// File* helpers, ENV_ variables, tables, and the operators (and, or, not, .., arithmetic, comparison).
// Anything else is recorded as a warning and skipped; only syntax errors and fatal conditions
// (an unreadable Include, a host defined as both VirtualHost and Component, a bad host name)
// throw a ConfigError. A File* helper that cannot read its file only skips the option.

import path from "node:path";
import type { Expr, Stmt } from "./ast.js";
import type { Position } from "./lexer.js";
import { parseLua } from "./parser.js";
import { ConfigTable, ConfigError, type ConfigDiagnostic, type ConfigSection, type ConfigValue, type SectionKind } from "../../src/config/values.js";
import { Builtin, Unsupported, type RtValue, type Scope, LUA_GLOBALS, describeVariable, globToRegExp, luaType } from "./runtime.js";
import { luaNumberToString } from "../../src/config/values.js";
import { evalOperator } from "./operators.js";

export interface FileAccess {
  readFile(file: string): string;
  listDir(dir: string): string[];
}

export class Interpreter {
  readonly global: ConfigSection;
  readonly hosts: ConfigSection[] = [];
  readonly warnings: ConfigDiagnostic[] = [];
  readonly files: string[] = [];
  private readonly sections = new Map<string, ConfigSection>();
  private readonly includeStack: string[] = [];
  private readonly builtins = new Map<string, Builtin>();

  constructor(
    mainFile: string,
    private readonly env: Record<string, string | undefined>,
    private readonly io: FileAccess,
  ) {
    this.global = { kind: "global", name: "*", options: new Map(), file: mainFile, line: 1 };
    this.defineBuiltins();
  }

  /** Parses and runs one file's text; `dir` is where its relative paths point. */
  runFile(text: string, file: string, dir: string): void {
    const chunk = parseLua(text, file);
    this.files.push(file);
    this.includeStack.push(path.resolve(file));
    const scope: Scope = { file, dir, current: this.global, locals: new Map(), assigned: new Map() };
    try {
      for (const stmt of chunk) this.exec(stmt, scope);
    } finally {
      this.includeStack.pop();
    }
  }

  // ---- diagnostics ----

  private warn(file: string, pos: Position, message: string): void {
    this.warnings.push({ file, line: pos.line, column: pos.column, message });
  }

  private fatal(scope: Scope, pos: Position, message: string): never {
    throw new ConfigError(scope.file, pos.line, pos.column, message);
  }

  // ---- statements ----

  private exec(stmt: Stmt, scope: Scope): void {
    switch (stmt.k) {
      case "assign": {
        const values = stmt.values.map((e) => this.eval(e, scope));
        stmt.targets.forEach((target, i) => {
          const value = values[i];
          if (target.k !== "name") {
            this.warn(scope.file, target.pos, "assignment to a table field is not supported; statement ignored");
          } else if (scope.locals.has(target.name)) {
            scope.locals.set(target.name, value);
          } else {
            this.assign(scope, scope.current, target.name, value, target.pos);
          }
        });
        return;
      }
      case "local": {
        const values = stmt.values.map((e) => this.eval(e, scope));
        stmt.names.forEach((n, i) => scope.locals.set(n.name, values[i]));
        return;
      }
      case "call": {
        const result = this.eval(stmt.call, scope);
        if (result instanceof Unsupported) this.warn(result.file, result.pos, `${result.message}; statement ignored`);
        return;
      }
      case "unsupported":
        this.warn(scope.file, stmt.pos, `unsupported Lua ${stmt.what}; ignored`);
        return;
    }
  }

  /** Sets (or, for nil, removes) an option in a section, warning about values it cannot hold. */
  private assign(scope: Scope, section: ConfigSection, name: string, value: RtValue, pos: Position): void {
    if (value instanceof Unsupported) {
      this.warn(value.file, value.pos, `option '${name}' ignored: ${value.message}`);
      return;
    }
    if (value instanceof Builtin) {
      this.warn(scope.file, pos, `option '${name}' ignored: a function is not an option value`);
      return;
    }
    const key = `${section.name}\0${name}`;
    const previous = scope.assigned.get(key);
    if (previous !== undefined) {
      this.warn(scope.file, pos, `duplicate option '${name}' (already set at line ${previous}); the later value is used`);
    }
    scope.assigned.set(key, pos.line);
    if (value === undefined) section.options.delete(name);
    else section.options.set(name, { value, file: scope.file, line: pos.line, column: pos.column });
  }

  // ---- expressions ----

  eval(e: Expr, scope: Scope): RtValue {
    switch (e.k) {
      case "nil":
        return undefined;
      case "true":
        return true;
      case "false":
        return false;
      case "number":
      case "string":
        return e.value;
      case "vararg":
        return new Unsupported("unsupported", "...", scope.file, e.pos);
      case "function":
        return new Unsupported("unsupported", "function", scope.file, e.pos);
      case "paren":
        return this.eval(e.inner, scope);
      case "name":
        return this.lookup(e.name, e.pos, scope, false);
      case "index":
        return this.evalIndex(e, scope);
      case "call":
        return this.evalCall(e, scope);
      case "method":
        return new Unsupported("unsupported", `:${e.name}() method call`, scope.file, e.pos);
      case "table":
        return this.evalTable(e, scope);
      case "binary":
        return evalOperator(e, scope, (x) => this.eval(x, scope));
      case "unary":
        return evalOperator(e, scope, (x) => this.eval(x, scope));
    }
  }

  private lookup(name: string, pos: Position, scope: Scope, forCall: boolean): RtValue {
    if (scope.locals.has(name)) return scope.locals.get(name);
    // Prosody: ENV_FOO reads the environment variable FOO.
    if (name.startsWith("ENV_")) return this.env[name.slice(4)];
    const builtin = this.builtins.get(name);
    if (builtin) return builtin;
    if (name === "Lua") return new Unsupported("unsupported", "Lua", scope.file, pos, true);
    // A name that is an option already set reads its value (current section, then global).
    const option = scope.current.options.get(name) ?? this.global.options.get(name);
    if (option) return option.value;
    if (LUA_GLOBALS.has(name)) return new Unsupported("unsupported", name, scope.file, pos, true);
    if (forCall) return new Unsupported("unsupported", `${name}(...)`, scope.file, pos);
    this.warn(scope.file, pos, `'${name}' is not defined and evaluates to nil (missing quotes?)`);
    return undefined;
  }

  private evalIndex(e: Extract<Expr, { k: "index" }>, scope: Scope): RtValue {
    const obj = this.eval(e.obj, scope);
    if (obj instanceof Unsupported) return e.key.k === "string" && e.dotted ? obj.extend(e.key.value) : obj.close();
    const key = this.eval(e.key, scope);
    if (key instanceof Unsupported) return key;
    if (obj instanceof ConfigTable) {
      return typeof key === "string" || typeof key === "number" ? obj.get(key) : undefined;
    }
    if (typeof obj === "string") {
      return new Unsupported("unsupported", "string method", scope.file, e.pos);
    }
    const what = describeVariable(e.obj, scope.locals);
    return new Unsupported("error", `attempt to index a ${luaType(obj)} value${what}`, scope.file, e.pos);
  }

  private evalCall(e: Extract<Expr, { k: "call" }>, scope: Scope): RtValue {
    const fn = e.fn.k === "name" ? this.lookup(e.fn.name, e.fn.pos, scope, true) : this.eval(e.fn, scope);
    if (fn instanceof Unsupported) return fn.close();
    if (fn instanceof Builtin) return fn.invoke(e.args, e.pos, scope);
    const what = describeVariable(e.fn, scope.locals);
    return new Unsupported("error", `attempt to call a ${luaType(fn)} value${what}`, scope.file, e.pos);
  }

  private evalTable(e: Extract<Expr, { k: "table" }>, scope: Scope): RtValue {
    const entries = new Map<string | number, ConfigValue>();
    let next = 1;
    for (const field of e.fields) {
      let key: RtValue;
      if (field.k === "item") key = next++;
      else if (field.k === "named") key = field.name;
      else key = this.eval(field.key, scope);
      if (key instanceof Unsupported) return key;
      if (key === undefined || (typeof key === "number" && Number.isNaN(key))) {
        return new Unsupported("error", `table index is ${key === undefined ? "nil" : "NaN"}`, scope.file, field.pos);
      }
      if (typeof key !== "string" && typeof key !== "number") {
        return new Unsupported("unsupported", `${luaType(key)} table key`, scope.file, field.pos);
      }
      const value = this.eval(field.value, scope);
      if (value instanceof Unsupported) return value;
      if (value instanceof Builtin) return new Unsupported("unsupported", "function in a table", scope.file, field.value.pos);
      if (value === undefined) entries.delete(key);
      else entries.set(key, value);
    }
    const array: ConfigValue[] = [];
    for (let i = 1; entries.has(i); i++) {
      array.push(entries.get(i) as ConfigValue);
      entries.delete(i);
    }
    const hash: Record<string, ConfigValue> = Object.create(null) as Record<string, ConfigValue>;
    for (const [k, v] of entries) hash[typeof k === "number" ? luaNumberToString(k) : k] = v;
    return new ConfigTable(array, hash);
  }

  /** Evaluates call arguments; the first unsupported one poisons the call. */
  private evalArgs(args: Expr[], scope: Scope): RtValue[] | Unsupported {
    const out: RtValue[] = [];
    for (const a of args) {
      const v = this.eval(a, scope);
      if (v instanceof Unsupported) return v;
      out.push(v);
    }
    return out;
  }

  // ---- builtins ----

  private defineBuiltins(): void {
    const add = (names: string[], invoke: Builtin["invoke"]): void => {
      for (const name of names) this.builtins.set(name, new Builtin(name, invoke));
    };
    add(["VirtualHost", "Host", "host"], (args, pos, scope) => this.openSection("VirtualHost", args, pos, scope));
    add(["Component", "component"], (args, pos, scope) => this.openSection("Component", args, pos, scope));
    add(["Include", "include"], (args, pos, scope) => {
      const [file] = this.stringArgs("Include", args, pos, scope);
      if (file instanceof Unsupported) return file;
      this.include(file, pos, scope);
      return undefined;
    });
    add(["FileContents"], (args, pos, scope) => this.readWith("FileContents", args, pos, scope, (t) => t));
    add(["FileLine"], (args, pos, scope) =>
      this.readWith("FileLine", args, pos, scope, (t) => (t === "" ? undefined : t.split(/\r?\n/)[0])),
    );
    add(["FileLines"], (args, pos, scope) =>
      this.readWith("FileLines", args, pos, scope, (t) => new ConfigTable(t.split(/\r?\n/).filter((l) => /\S/.test(l)))),
    );
    add(["Credential"], (args, pos, scope) => {
      const dir = this.env.CREDENTIALS_DIRECTORY;
      if (!dir) this.fatal(scope, pos, "Credential() needs the environment variable CREDENTIALS_DIRECTORY");
      const [name] = this.stringArgs("Credential", args, pos, scope);
      if (name instanceof Unsupported) return name;
      if (name.includes("/")) this.fatal(scope, pos, `Credential name '${name}' must not contain '/'`);
      return this.readFile("Credential", path.join(dir, name), pos, scope);
    });
    add(["RunScript"], (_args, pos, scope) => new Unsupported("unsupported", "RunScript", scope.file, pos));
  }

  /** Evaluates the single string argument of a builtin; anything but a string is fatal. */
  private stringArgs(fn: string, args: Expr[], pos: Position, scope: Scope): [string] | [Unsupported] {
    const values = this.evalArgs(args, scope);
    if (values instanceof Unsupported) return [values];
    const first = values[0];
    if (typeof first !== "string") this.fatal(scope, pos, `${fn} expects a string argument, got ${luaType(first)}`);
    return [first];
  }

  private resolvePath(scope: Scope, file: string): string {
    return path.isAbsolute(file) ? file : path.join(scope.dir, file);
  }

  /** Reads a file for Include (failure is fatal) or a File* helper (failure skips the option). */
  private readFile(fn: string, file: string, pos: Position, scope: Scope): string | Unsupported {
    try {
      const text = this.io.readFile(file);
      this.files.push(file);
      return text;
    } catch (err) {
      const message = `${fn}: cannot read '${file}': ${(err as Error).message}`;
      if (fn === "Include") this.fatal(scope, pos, message);
      return new Unsupported("error", message, scope.file, pos);
    }
  }

  private readWith(fn: string, args: Expr[], pos: Position, scope: Scope, convert: (text: string) => ConfigValue | undefined): RtValue {
    const [file] = this.stringArgs(fn, args, pos, scope);
    if (file instanceof Unsupported) return file;
    const text = this.readFile(fn, this.resolvePath(scope, file), pos, scope);
    return text instanceof Unsupported ? text : convert(text);
  }

  private include(pattern: string, pos: Position, scope: Scope): void {
    if (!/[*?]/.test(pattern)) {
      this.includeFile(this.resolvePath(scope, pattern), pos, scope);
      return;
    }
    const dirPart = path.dirname(pattern);
    if (/[*?]/.test(dirPart)) this.fatal(scope, pos, `Include "${pattern}": wildcards are only allowed in the file name`);
    const dir = this.resolvePath(scope, dirPart);
    let names: string[];
    try {
      names = this.io.listDir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        this.warn(scope.file, pos, `Include "${pattern}": directory '${dir}' does not exist; nothing included`);
        return;
      }
      this.fatal(scope, pos, `Include "${pattern}": cannot list '${dir}': ${(err as Error).message}`);
    }
    const re = globToRegExp(path.basename(pattern));
    for (const name of names.filter((n) => !n.startsWith(".") && re.test(n)).sort()) {
      this.includeFile(path.join(dir, name), pos, scope);
    }
  }

  private includeFile(file: string, pos: Position, scope: Scope): void {
    if (this.includeStack.includes(path.resolve(file))) {
      this.fatal(scope, pos, `Include cycle: '${file}' is already being read`);
    }
    const text = this.readFile("Include", file, pos, scope);
    if (text instanceof Unsupported) return;
    this.files.pop(); // runFile records it
    // As in Prosody, an included file starts in the global section and has its own locals.
    this.runFile(text, file, path.dirname(file));
  }

  /** VirtualHost "name" / Component "name": switches the current section; returns the block handler. */
  private openSection(kind: Exclude<SectionKind, "global">, args: Expr[], pos: Position, scope: Scope): RtValue {
    const values = this.evalArgs(args, scope);
    if (values instanceof Unsupported) return values;
    const section = this.defineSection(kind, values[0], pos, scope);
    scope.current = section;
    const block = new Builtin(`${kind} block`, (blockArgs, blockPos, s) => this.applyBlock(section, blockArgs, blockPos, s));
    if (kind === "VirtualHost") return block;
    // Component "name" "module" { ... } or Component "name" { ... }
    return new Builtin("Component module", (modArgs, modPos, s) => {
      if (modArgs[0]?.k === "table") return this.applyBlock(section, modArgs, modPos, s);
      const mod = this.evalArgs(modArgs, s);
      if (mod instanceof Unsupported) return mod;
      if (typeof mod[0] !== "string") this.fatal(s, modPos, `Component "${section.name}": module name must be a string`);
      section.module = mod[0];
      return block;
    });
  }

  private defineSection(kind: "VirtualHost" | "Component", raw: RtValue, pos: Position, scope: Scope): ConfigSection {
    const label = kind === "VirtualHost" ? "Host" : "Component";
    if (typeof raw !== "string") this.fatal(scope, pos, `${label} must have a name`);
    // An approximation of Prosody's nameprep: NFKC and lower case.
    const name = raw.normalize("NFKC").toLowerCase();
    if (name === "" || name === "*" || /[\s@/\\"'<>&\p{Cc}]/u.test(name)) {
      this.fatal(scope, pos, `Name of ${label} "${raw}" contains forbidden characters`);
    }
    const existing = this.sections.get(name);
    if (existing && existing.kind !== kind) {
      const other = existing.kind === "Component" ? "Component" : "VirtualHost";
      this.fatal(scope, pos,
        `${label} "${name}" clashes with previously defined ${other} "${name}" (${existing.file}:${existing.line}); ` +
          `for services use a sub-domain like conference.${name}`);
    }
    if (existing) {
      // Re-opening a Component without a module makes it external again, as in Prosody.
      if (kind === "Component") existing.module = undefined;
      return existing;
    }
    const section: ConfigSection = { kind, name, options: new Map(), file: scope.file, line: pos.line };
    this.sections.set(name, section);
    this.hosts.push(section);
    return section;
  }

  /** `VirtualHost "x" { opt = v }`: sets each option (unsupported values skip just that option). */
  private applyBlock(section: ConfigSection, args: Expr[], pos: Position, scope: Scope): RtValue {
    const arg = args[0];
    if (arg?.k === "table") {
      for (const field of arg.fields) {
        if (field.k === "item") {
          this.warn(scope.file, field.pos, `value without a name in the block of ${section.kind} "${section.name}" ignored`);
          continue;
        }
        const key = field.k === "named" ? field.name : this.eval(field.key, scope);
        if (typeof key !== "string") {
          const why = key instanceof Unsupported ? key.message : `option names must be strings, not ${luaType(key)}`;
          this.warn(scope.file, field.pos, `${why}; entry ignored`);
          continue;
        }
        this.assign(scope, section, key, this.eval(field.value, scope), field.pos);
      }
    } else {
      const values = this.evalArgs(args, scope);
      if (values instanceof Unsupported) return values;
      const table = values[0];
      if (!(table instanceof ConfigTable)) this.fatal(scope, pos, `the block of ${section.kind} "${section.name}" must be a table`);
      for (const k of table.keys()) this.assign(scope, section, k, table.hash[k], pos);
    }
    // Prosody returns to the global section after a block.
    scope.current = this.global;
    return undefined;
  }
}

