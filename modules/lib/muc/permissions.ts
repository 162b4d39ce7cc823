// XEP-0045 §5: roles and affiliations, and who may change whose, as data tables.

export type Role = "moderator" | "participant" | "visitor" | "none";
export type Affiliation = "owner" | "admin" | "member" | "outcast" | "none";

export const ROLES: readonly Role[] = ["moderator", "participant", "visitor", "none"];
export const AFFILIATIONS: readonly Affiliation[] = ["owner", "admin", "member", "none", "outcast"];

/** Rank of an affiliation (higher is more privileged), §5.2. */
export const AFFILIATION_RANK: Readonly<Record<Affiliation, number>> = { owner: 4, admin: 3, member: 2, none: 1, outcast: 0 };

/** §5.1: the role an occupant gets on entering, by affiliation (moderated rooms give `none` visitor). */
export function defaultRole(affiliation: Affiliation, moderated: boolean): Role {
  switch (affiliation) {
    case "owner":
    case "admin":
      return "moderator";
    case "member":
      return "participant";
    case "none":
      return moderated ? "visitor" : "participant";
    case "outcast":
      return "none";
  }
}

/**
 * §8–§10: which affiliations an actor may hand out, and whose affiliation it may change.
 * Owners change anything; admins change members, outcasts and unaffiliated entities only.
 */
export const AFFILIATION_CHANGES: Readonly<Record<Affiliation, { grant: readonly Affiliation[]; of: readonly Affiliation[] }>> = {
  owner: { grant: ["owner", "admin", "member", "none", "outcast"], of: ["owner", "admin", "member", "none", "outcast"] },
  admin: { grant: ["member", "none", "outcast"], of: ["member", "none", "outcast"] },
  member: { grant: [], of: [] },
  none: { grant: [], of: [] },
  outcast: { grant: [], of: [] },
};

/**
 * §8.2–§9.7: role changes a moderator may make. Granting or revoking `moderator` needs an admin or
 * owner (§9.6, §9.7); nobody changes the role of an occupant whose affiliation is above their own,
 * and admins' and owners' moderator role cannot be taken (§8.2 not-allowed).
 */
export const ROLE_CHANGES: Readonly<Record<Role, { minActorAffiliation: Affiliation }>> = {
  moderator: { minActorAffiliation: "admin" },
  participant: { minActorAffiliation: "none" },
  visitor: { minActorAffiliation: "none" },
  none: { minActorAffiliation: "none" },
};

export type Denial = "not-allowed" | "forbidden" | "bad-request" | "conflict";

export function canChangeRole(actor: { role: Role; affiliation: Affiliation }, target: { role: Role; affiliation: Affiliation }, to: Role): Denial | undefined {
  if (actor.role !== "moderator") return "forbidden";
  const rule = ROLE_CHANGES[to];
  if (AFFILIATION_RANK[actor.affiliation] < AFFILIATION_RANK[rule.minActorAffiliation]) return "not-allowed";
  // Taking the moderator role away (or kicking) from someone of higher affiliation, or from an admin/owner.
  if (AFFILIATION_RANK[target.affiliation] > AFFILIATION_RANK[actor.affiliation]) return "not-allowed";
  if (to !== "moderator" && (target.affiliation === "owner" || target.affiliation === "admin")) return "not-allowed";
  if (target.role === "moderator" && to !== "moderator" && AFFILIATION_RANK[actor.affiliation] < AFFILIATION_RANK.admin) return "not-allowed";
  return undefined;
}

export function canChangeAffiliation(actor: Affiliation, target: Affiliation, to: Affiliation): Denial | undefined {
  const rule = AFFILIATION_CHANGES[actor];
  if (rule.grant.length === 0) return "forbidden";
  if (!rule.of.includes(target) || !rule.grant.includes(to)) return "not-allowed";
  return undefined;
}

/** §9.5, §10.5: who may read which list (Prosody lets admins read every affiliation list). */
export function canReadAffiliationList(actor: Affiliation, role: Role, list: Affiliation, membersOnly: boolean): boolean {
  if (AFFILIATION_RANK[actor] >= AFFILIATION_RANK.admin) return true;
  // Members of a members-only room may see who else belongs (§9.5 "MAY").
  return list === "member" && membersOnly && actor === "member" && role !== "none";
}

export function canReadRoleList(role: Role): boolean {
  return role === "moderator";
}

export function isAffiliation(s: string | undefined): s is Affiliation {
  return s !== undefined && (AFFILIATIONS as readonly string[]).includes(s);
}
export function isRole(s: string | undefined): s is Role {
  return s !== undefined && (ROLES as readonly string[]).includes(s);
}
