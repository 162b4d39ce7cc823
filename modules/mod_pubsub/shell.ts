// The admin shell's pubsub section (Prosody 13's names): pubsub:list_nodes(service),
// create_node, delete_node, list_items, get_item, delete_item, delete_all_items, get_node_config,
// set_node_config_option. The server fires "admin-shell/pubsub" on the service's host; the commands
// act as the service itself, which is an owner of every node.

import { Element } from "../../src/xml/stanza.js";
import type { PubsubService, Result } from "../../src/util/pubsub/index.js";
import { nodeConfigForm, parseConfigForm, rawFormValues } from "../lib/pubsub/forms.js";
import { NS_DATA } from "../lib/pubsub/xml.js";

export interface ShellEvent {
  command: string;
  args: unknown[];
  print: (...parts: unknown[]) => void;
}

const FORM_NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config";

function arg(args: unknown[], i: number, what: string): string {
  const v = args[i];
  if (typeof v === "string" && v !== "") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw new Error(`${what} expected`);
}

function failure(r: Extract<Result<unknown>, { ok: false }>): { ok: false; message: string } {
  return { ok: false, message: r.text ? `${r.error}: ${r.text}` : r.error };
}

export async function pubsubShellCommand(
  service: PubsubService,
  actor: string,
  maxItems: number,
  ev: ShellEvent,
): Promise<{ ok: boolean; message?: string }> {
  const { command, args, print } = ev;
  switch (command) {
    case "list_nodes": {
      const r = await service.listNodes(actor);
      if (!r.ok) return failure(r);
      for (const n of r.value.nodes) print(n.node);
      return { ok: true, message: `${r.value.nodes.length} nodes` };
    }
    case "create_node": {
      const r = await service.create(arg(args, 0, "node_name"), actor);
      return r.ok ? { ok: true, message: `Created node ${r.value.node}` } : failure(r);
    }
    case "delete_node": {
      const node = arg(args, 0, "node_name");
      const r = await service.delete(node, actor);
      return r.ok ? { ok: true, message: `Deleted node ${node}` } : failure(r);
    }
    case "list_items": {
      const r = await service.getItems(arg(args, 0, "node_name"), actor);
      if (!r.ok) return failure(r);
      for (const item of r.value.items) print(item.id);
      return { ok: true, message: `${r.value.items.length} items` };
    }
    case "get_item": {
      const r = await service.getItem(arg(args, 0, "node_name"), actor, arg(args, 1, "item_name"));
      if (!r.ok) return r.error === "item-not-found" ? { ok: false, message: "Item not found" } : failure(r);
      const payload = r.value.payload;
      print(payload instanceof Element ? payload.toString() : "(no payload)");
      return { ok: true };
    }
    case "delete_item": {
      const node = arg(args, 0, "node_name");
      const id = arg(args, 1, "item_name");
      const r = await service.retract(node, actor, id);
      return r.ok ? { ok: true, message: `Deleted item ${id} from ${node}` } : failure(r);
    }
    case "delete_all_items": {
      const node = arg(args, 0, "node_name");
      if (args[1] !== undefined) print("Subscribers are told according to the node's pubsub#notify_retract");
      const r = await service.purge(node, actor);
      return r.ok ? { ok: true, message: `Deleted all items of ${node}` } : failure(r);
    }
    case "get_node_config": {
      const r = await service.getConfig(arg(args, 0, "node_name"), actor);
      if (!r.ok) return failure(r);
      const values = rawFormValues(nodeConfigForm(r.value, maxItems, true));
      values.delete("FORM_TYPE");
      const option = args[1];
      if (typeof option === "string" && option !== "") {
        const v = values.get(option);
        if (!v) return { ok: false, message: "option not found" };
        print(v.join(", "));
        return { ok: true, message: "Showing 1 config options" };
      }
      const names = [...values.keys()].sort();
      for (const k of names) print(k, values.get(k)!.join(", "));
      return { ok: true, message: `Showing ${names.length} config options` };
    }
    case "set_node_config_option": {
      const node = arg(args, 0, "node_name");
      const option = arg(args, 1, "option_name");
      const value = arg(args, 2, "option_value");
      const form = new Element("x", { xmlns: NS_DATA, type: "submit" })
        .tag("field", { var: "FORM_TYPE", type: "hidden" }).textTag("value", FORM_NODE_CONFIG).up()
        .tag("field", { var: option }).textTag("value", value).up();
      const parsed = parseConfigForm(form);
      if (!parsed.ok) return failure(parsed);
      if (Object.keys(parsed.value).length === 0) return { ok: false, message: `Unknown config field: ${option}` };
      const r = await service.setConfig(node, actor, parsed.value);
      if (!r.ok) return failure(r);
      const applied = rawFormValues(nodeConfigForm(r.value, maxItems, true)).get(option);
      return { ok: true, message: `Applied config: ${applied?.join(", ") ?? value}` };
    }
    default:
      return { ok: false, message: `pubsub:${command}() is not a command; type 'help pubsub'` };
  }
}
