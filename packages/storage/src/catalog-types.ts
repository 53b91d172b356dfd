import type { Labels } from "@vigil/common";

export interface AgentRecord {
  readonly id: string;
  readonly hostname: string;
  readonly version: string;
  readonly labels: Labels;
  /** Unix ms. */
  readonly firstSeen: number;
  /** Unix ms. */
  readonly lastSeen: number;
}

export type TokenRole = "admin" | "viewer";

export interface ApiTokenRecord {
  readonly id: number;
  readonly name: string;
  readonly role: TokenRole;
  /** Unix ms. */
  readonly createdAt: number;
}

/** Why an enrolment token could not be used. */
export type EnrollTokenRefusal = "unknown" | "expired" | "used";
