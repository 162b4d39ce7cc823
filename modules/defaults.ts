// What Herald runs with unless told otherwise, handed to the core by bin/ with the registry
// (modules/index.ts): the modules every VirtualHost loads, the Prosody module names whose function is
// built into the core, and the embedded configuration used when no config file is given.

/**
 * Loaded on every VirtualHost unless in modules_disabled (Prosody's autoloaded modules; "iq" is the
 * core's): the stream features (tls, saslauth, bind, dialback, s2s) and the basic stanza handling.
 */
export const autoloadModules: readonly string[] = [
  "tls", "saslauth", "bind", "dialback", "s2s", "presence", "message", "iq", "offline", "disco",
];

/** Loaded on every Component unless in its modules_disabled: the features of server streams to it. */
export const componentAutoloadModules: readonly string[] = ["tls", "dialback", "s2s"];

/** Also loaded on every external Component (XEP-0114, no module named) unless in its modules_disabled: the handshake. */
export const externalComponentAutoloadModules: readonly string[] = ["component"];

/** Prosody module names whose function is built into Herald's core (not loaded or unloaded; a warning in modules_enabled). */
export const builtinModules: ReadonlySet<string> = new Set([
  "c2s", "http", "websocket", "iq", "auth_internal_hashed", "auth_internal_plain",
  "auth_insecure", "storage_internal", "storage_memory", "posix", "admin_shell", "admin_socket",
  "http_errors", "net_multiplex", "limits", "bosh_disabled", "s2s_bidi",
]);

/** The configuration Herald uses when started without a config file. */
export const defaultConfigText = `-- Herald's built-in configuration (used when no config file is given)
data_path = "./data"

modules_enabled = {
  "roster"; "disco"; "ping"; "carbons"; "blocklist"; "private"; "pep"; "bookmarks"; "vcard4"; "vcard_legacy";
  "version"; "uptime"; "time"; "lastactivity"; "register"; "server_contact_info"; "external_services";
  "limits"; "mam"; "bosh"; "smacks"; "csi_simple"; "cloud_notify";
  -- Accounts' PEP nodes as feeds and event streams at /pubsub/<user@host>/<node>, where the access model allows.
  "pubsub_http";
}
allow_registration = false

VirtualHost "localhost"

Component "pubsub.localhost" "pubsub"
  -- Accounts of this server may create nodes (a config file's default is "admins").
  pubsub_create_node = "local"
  -- Nodes as Atom/RSS/JSON feeds and Server-Sent Events at /pubsub/pubsub.localhost/ on the HTTP(S) ports.
  modules_enabled = { "pubsub_http" }

Component "upload.localhost" "http_file_share"
  -- XEP-0363 file upload for the accounts of this server, served at /file_share/ on the HTTP(S) ports.

Component "conference.localhost" "muc"
`;
