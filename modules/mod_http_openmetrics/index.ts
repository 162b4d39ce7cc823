// mod_http_openmetrics: the server's metrics at GET /metrics on the HTTP(S) listeners, in the
// OpenMetrics text format (as Prosody's module of the same name), for Prometheus and friends.
//
//   modules_enabled = { …, "http_openmetrics" }
//
// Options (Prosody's): openmetrics_allow_ips ({ "::1", "127.0.0.1" }): addresses that may read the
// metrics; openmetrics_allow_cidr (unset): a range (or a list of ranges) that may too, e.g.
// "10.0.0.0/8". Everyone else gets 403.
//
// Besides what the core counts (connections, stanzas in/out, store write latency) and what other
// modules add (pubsub publishes, notifications, subscriptions), this module counts authentications
// and resource binds on its host, and reports event-loop lag and process memory and CPU.

import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { defineModule } from "../../src/modules/api.js";
import type { MetricsRegistry } from "../../src/stats/metrics.js";
import { OPENMETRICS_CONTENT_TYPE } from "../../src/stats/metrics.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { addressFilter } from "../../src/util/ip.js";
import { clientAddress } from "../../src/net/http-routes.js";

export const METRICS_PATH = "/metrics";

/** Process-wide figures, set up once however many hosts load the module (module.shared). */
interface ProcessMetrics {
  users: number;
  loop?: IntervalHistogram;
  removeCollector?: () => void;
}

function startProcessMetrics(p: ProcessMetrics, metrics: MetricsRegistry): void {
  if (p.users++ > 0) return;
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  p.loop = loop;
  const rss = metrics.gauge("process_resident_memory_bytes", "Resident memory size in bytes", [], "bytes");
  const heapUsed = metrics.gauge("nodejs_heap_size_used_bytes", "JavaScript heap in use, in bytes", [], "bytes");
  const heapTotal = metrics.gauge("nodejs_heap_size_total_bytes", "JavaScript heap allocated, in bytes", [], "bytes");
  const external = metrics.gauge("nodejs_external_memory_bytes", "Memory of C++ objects bound to JavaScript (buffers), in bytes", [], "bytes");
  const cpu = metrics.counter("process_cpu_seconds", "User and system CPU time spent, in seconds");
  const start = metrics.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds", [], "seconds");
  const lagMean = metrics.gauge("nodejs_eventloop_lag_mean_seconds", "Mean event-loop delay since the previous scrape", [], "seconds");
  const lagP99 = metrics.gauge("nodejs_eventloop_lag_p99_seconds", "99th percentile of the event-loop delay since the previous scrape", [], "seconds");
  const lagMax = metrics.gauge("nodejs_eventloop_lag_max_seconds", "Longest event-loop delay since the previous scrape", [], "seconds");
  const started = Date.now() / 1000 - process.uptime();
  p.removeCollector = metrics.onCollect(() => {
    const m = process.memoryUsage();
    rss.set([], m.rss);
    heapUsed.set([], m.heapUsed);
    heapTotal.set([], m.heapTotal);
    external.set([], m.external);
    const u = process.cpuUsage();
    cpu.set([], (u.user + u.system) / 1e6);
    start.set([], Math.round(started));
    // The histogram is in nanoseconds; with no sample yet it reports NaN / 0.
    const has = loop.count > 0;
    lagMean.set([], has ? loop.mean / 1e9 : 0);
    lagP99.set([], has ? loop.percentile(99) / 1e9 : 0);
    lagMax.set([], has ? loop.max / 1e9 : 0);
    loop.reset();
  });
}

function stopProcessMetrics(p: ProcessMetrics): void {
  if (--p.users > 0) return;
  p.loop?.disable();
  p.loop = undefined;
  p.removeCollector?.();
  p.removeCollector = undefined;
}

export default defineModule({
  load(module) {
    const o = module.options;
    const ips = o.array("openmetrics_allow_ips", ["::1", "127.0.0.1"]);
    const cidrs = o.array("openmetrics_allow_cidr", []);
    const filter = addressFilter(ips, cidrs);
    for (const bad of filter.invalid) module.log.warn(`openmetrics_allow_ips/openmetrics_allow_cidr: '${bad}' is not an address or a CIDR range`);

    const auth = module.metrics.counter("herald_c2s_authentications", "Client authentications by result", ["host", "result"]);
    const binds = module.metrics.counter("herald_c2s_resource_binds", "Resources bound by clients", ["host"]);
    for (const result of ["success", "failure"]) auth.inc([module.host, result], 0);
    binds.inc([module.host], 0);
    module.hook("authentication-success", () => void auth.inc([module.host, "success"]));
    module.hook("authentication-failure", () => void auth.inc([module.host, "failure"]));
    module.hook("resource-bind", () => void binds.inc([module.host]));

    const processMetrics = module.shared<ProcessMetrics>("process", () => ({ users: 0 }));
    startProcessMetrics(processMetrics, module.metrics);
    module.onUnload(() => stopProcessMetrics(processMetrics));

    const serve = async (req: IncomingMessage, res: ServerResponse) => {
      // Behind a reverse proxy (trusted_proxies), the client's address: the proxy's own would let
      // everyone who reaches the proxy read the metrics.
      const remote = clientAddress(req);
      if (!filter.allows(remote)) {
        res.writeHead(403, { "content-type": "text/plain; charset=utf-8" });
        res.end("Forbidden: this address may not read the metrics (openmetrics_allow_ips, openmetrics_allow_cidr)\n");
        return;
      }
      const body = await module.metrics.render();
      res.writeHead(200, { "content-type": OPENMETRICS_CONTENT_TYPE, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    // Other methods get 405 with `Allow: GET, HEAD` from the listener.
    module.http.route("GET", METRICS_PATH, serve);
    module.http.route("HEAD", METRICS_PATH, serve);
  },
});
