/** Shapes from ../shared/API.md. Money is always a decimal string with its currency. */

export type Role = "customer" | "compliance_officer" | "admin" | "card_processor";

export interface User {
  id: string;
  email: string;
  username?: string | null;
  first_name: string;
  last_name: string;
  roles: Role[] | string[];
  email_verified: boolean;
  mfa_enabled: boolean;
  kyc_status: string;
  base_currency: string;
  created_at: string;
  status?: string;
  locked?: boolean;
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: "Bearer";
  expires_in: number;
  user: User;
}

export interface MfaChallenge {
  mfa_required: true;
  mfa_token: string;
  methods: string[];
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Account {
  id: string;
  account_number: string;
  iban?: string | null;
  account_type: "checking" | "savings" | "credit" | "investment";
  currency: string;
  name: string;
  balance: string;
  available_balance: string;
  credit_limit?: string | null;
  status: "active" | "frozen" | "closed";
  created_at: string;
}

export interface Entry {
  account_id: string;
  direction: "debit" | "credit";
  amount: string;
}

export interface Transaction {
  id: string;
  type: string;
  status: string;
  amount: string;
  currency: string;
  from_account_id?: string | null;
  to_account_id?: string | null;
  to_iban?: string | null;
  beneficiary_name?: string | null;
  description: string;
  reference?: string | null;
  risk_score: number;
  risk_rules?: string[];
  failure_reason?: string | null;
  created_at: string;
  entries: Entry[];
}

export interface CardControls {
  per_transaction_limit?: string | null;
  daily_limit?: string | null;
  monthly_limit?: string | null;
  blocked_mccs: string[];
  allowed_countries: string[];
  online_enabled: boolean;
  atm_enabled: boolean;
  contactless_enabled: boolean;
  international_enabled: boolean;
}

export interface Card {
  id: string;
  account_id: string;
  card_type: "virtual" | "physical";
  brand: string;
  last4: string;
  masked_pan: string;
  cardholder_name: string;
  expiry_month: number;
  expiry_year: number;
  status: "inactive" | "active" | "frozen" | "cancelled" | "expired";
  controls: CardControls;
  pin_set?: boolean;
  created_at: string;
}

export interface Session {
  id: string;
  device?: string | null;
  user_agent?: string | null;
  ip?: string | null;
  created_at: string;
  last_used_at?: string | null;
  current?: boolean;
}

export interface Passkey {
  id: string;
  name: string;
  created_at: string;
  last_used_at?: string | null;
}

export interface PaymentConfirmation {
  id: string;
  webauthn_options: import("./webauthn").RequestOptionsJSON;
}

export interface CustomerBrief {
  id: string;
  name: string;
  risk_level: string | null;
}

export interface Alert {
  id: string;
  customer_id?: string | null;
  customer?: CustomerBrief | null;
  explanation?: string | null;
  hit_count?: number;
  type?: string;
  alert_type?: string;
  severity: string;
  status: string;
  score?: number;
  rules?: string[];
  user_id?: string | null;
  transaction_id?: string | null;
  transaction?: Transaction | null;
  transactions?: Transaction[];
  resolution?: string | null;
  notes?: string | null;
  details?: Record<string, unknown> | null;
  created_at: string;
}

export interface MatchFactor {
  factor: string;
  value: string;
  effect: number;
}

export interface SanctionsMatch {
  list_entry_id: string;
  list_version_id?: number;
  name: string;
  matched_name: string;
  matched_alias?: string | null;
  score: number;
  program: string;
  factors?: MatchFactor[];
  query?: { text: string; script: string; transliterated_as: string[] } | null;
}

export interface ListVersion {
  id: number;
  kind: string;
  source: string;
  active: boolean;
  published_at: string | null;
  loaded_at: string;
  checksum: string;
  entries: number;
  aliases: number;
  previous_id: number | null;
  added: number;
  removed: number;
  changed: number;
}

export interface ListChange {
  change: "added" | "removed" | "changed";
  source_uid: string;
  name: string;
  fields: Record<string, unknown>;
}

export type Reason = string | { code?: string; message?: string };

/** A reason as words, whether the server sends a string or `{code, message}`. */
export function reasonText(reason: Reason): string {
  return typeof reason === "string" ? reason : (reason.message ?? reason.code ?? "");
}

export interface KycReview {
  id: string;
  user_id?: string;
  customer_id?: string;
  status: string;
  level?: string | number;
  requested_level?: string | null;
  reasons?: Reason[];
  document_type?: string | null;
  document_number?: string | null;
  screening?: Record<string, unknown>[];
  first_name?: string;
  last_name?: string;
  nationality?: string;
  date_of_birth?: string;
  created_at?: string;
  submitted_at?: string;
}

export interface AuditRecord {
  id: string;
  sequence: number | null;
  occurred_at: string;
  actor_id?: string | null;
  actor_role?: string | null;
  action: string;
  resource_type?: string | null;
  resource_id?: string | null;
  ip?: string | null;
  request_id?: string | null;
  outcome?: string | null;
  hash?: string;
}

export interface ErasureRequest {
  id: string;
  status: string;
  user_id?: string;
  requested_at?: string;
  created_at?: string;
  decided_at?: string | null;
  decision_reason?: string | null;
  hold_reasons?: string[] | null;
}

export interface LinkedAccount {
  id: string;
  broker_code: string;
  broker_name?: string;
  display_name?: string | null;
  status?: string;
  sync_status?: string;
  last_synced_at?: string | null;
  last_sync_error?: string | null;
  last_error?: string | null;
  challenge?: string | null;
  balance?: string | null;
  currency?: string | null;
  created_at?: string;
}

export interface Broker {
  code: string;
  name: string;
  integration_type: string;
  country: string;
  supports_2fa: boolean;
  credentials_schema: {
    properties?: Record<string, { type?: string; title?: string; format?: string }>;
    required?: string[];
  } & Record<string, unknown>;
}

export interface Job {
  id: string;
  status: "queued" | "started" | "finished" | "failed";
  result?: unknown;
  error?: string | null;
}

export interface WealthPoint {
  date: string;
  net_worth?: string;
  total?: string;
  value?: string;
  currency?: string;
}

export function isStaff(user: User | null): boolean {
  return !!user && (user.roles as string[]).some((r) => r === "compliance_officer" || r === "admin");
}

export function hasRole(user: User | null, role: Role): boolean {
  return !!user && (user.roles as string[]).includes(role);
}

export interface WealthSummary {
  base_currency: string;
  as_of: string;
  total: string;
  accounts: { source: string; id: string; name: string; currency: string; balance: string; value?: string | null }[];
  asset_classes: { asset_class: string; value: string }[];
  missing_rates?: string[];
}

export interface RiskFactor {
  factor: string;
  value: string | number | boolean | null;
  weight: number;
}

export interface CustomerRisk {
  level: string;
  score: number;
  factors: RiskFactor[];
  rated_at: string;
  next_review_due: string;
  edd_status?: string;
}

export interface EddReview {
  id: string;
  status: string;
  reason: string;
  proposed_by: string;
  proposed_at: string;
  decided_by: string | null;
  decision_reason: string | null;
  decided_at: string | null;
}

export interface RiskReview {
  id: string;
  customer: CustomerBrief | null;
  level: string;
  due_on: string;
  status: string;
  notes: string | null;
  completed_at: string | null;
  created_at: string;
}

export interface CustomerOverview {
  id: string;
  name: string;
  email: string;
  kyc_status: string;
  kyc_level: string;
  kyc_case: {
    id: string;
    status: string;
    nationality: string;
    residence: string | null;
    politically_exposed: boolean;
    created_at: string;
  } | null;
  accounts: { id: string; account_number: string; account_type: string; currency: string; balance: string; status: string }[];
  alerts: { id: string; type: string; severity: string; status: string; resolution: string | null; explanation: string | null; created_at: string }[];
  cases: { id: string; type: string; severity: string; status: string; resolution: string | null; explanation: string | null; created_at: string }[];
  risk: CustomerRisk;
  edd: EddReview | null;
  reviews: RiskReview[];
}

/** A risk factor's value as words. */
export function factorValue(value: RiskFactor["value"]): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}
