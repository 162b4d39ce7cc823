// Plain HTTP endpoints beside the WebSocket on the HTTP(S) listeners (e.g. /metrics). Modules add
// routes through their ModuleApi; the most recently added live handler of a path answers.

import type { IncomingMessage, ServerResponse } from "node:http";

export type HttpHandler = (req: IncomingMessage, res: ServerResponse, info: { secure: boolean }) => void | Promise<void>;

export class HttpRoutes {
  private readonly routes = new Map<string, HttpHandler[]>();

  /** Add a handler for an exact path; returns the function that removes it. */
  add(path: string, handler: HttpHandler): () => void {
    const list = this.routes.get(path) ?? [];
    list.push(handler);
    this.routes.set(path, list);
    return () => {
      const l = this.routes.get(path);
      if (!l) return;
      const at = l.indexOf(handler);
      if (at >= 0) l.splice(at, 1);
      if (l.length === 0) this.routes.delete(path);
    };
  }

  get(path: string): HttpHandler | undefined {
    const l = this.routes.get(path);
    return l?.[l.length - 1];
  }
}
