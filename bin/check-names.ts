// The sections of `herald check`, apart from their code so the CLI can list them without loading it.
export const CHECK_SECTIONS = ["disabled", "config", "modules", "certs", "dns", "ports", "files"] as const;
export type CheckSection = (typeof CHECK_SECTIONS)[number];
