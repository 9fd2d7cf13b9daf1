import { useEffect, useState, type FormEvent } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Badge, Checkbox, Dialog, Empty, Field, FormError, Loading, Notice, PageHeader, SelectField } from "../components/ui";
import { api } from "../lib/api";
import { fieldErrorsOf, useAction, useApi, useIdempotentSubmit } from "../lib/hooks";
import { parseAmountInput } from "../lib/money";
import type { Account, Card, CardControls, Page } from "../lib/types";
import { useAccounts } from "./Dashboard";

interface Revealed {
  pan: string;
  cvv: string;
  expiry_month: number;
  expiry_year: number;
}

function itemsOf<T>(data: Page<T> | T[] | undefined): T[] {
  if (!data) return [];
  return Array.isArray(data) ? data : data.items;
}

function useRefreshCards() {
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries({ queryKey: ["/cards"] });
}

function IssueCard({ accounts, onDone }: { accounts: Account[]; onDone: () => void }) {
  const refresh = useRefreshCards();
  const [form, setForm] = useState({ account_id: accounts[0]?.id ?? "", card_type: "virtual" });
  const issue = useIdempotentSubmit<object, Card>("POST", "/cards");
  const fields = fieldErrorsOf(issue.error);
  return (
    <form
      className="stack"
      onSubmit={async (e: FormEvent) => {
        e.preventDefault();
        try {
          await issue.submit(form);
          await refresh();
          onDone();
        } catch {
          /* shown below */
        }
      }}
    >
      <SelectField label="Account" value={form.account_id} onChange={(e) => setForm({ ...form, account_id: e.target.value })} errors={fields.account_id}>
        {accounts.map((a) => (
          <option key={a.id} value={a.id}>
            {a.name} ({a.currency})
          </option>
        ))}
      </SelectField>
      <SelectField label="Card type" value={form.card_type} onChange={(e) => setForm({ ...form, card_type: e.target.value })} errors={fields.card_type}>
        <option value="virtual">Virtual — ready now</option>
        <option value="physical">Physical — sent by post</option>
      </SelectField>
      <FormError error={issue.error} shownFields={["account_id", "card_type"]} />
      <div className="actions">
        <button type="button" className="button secondary" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="button" disabled={issue.pending}>
          Issue card
        </button>
      </div>
    </form>
  );
}

function PinForm({ card, onDone }: { card: Card; onDone: () => void }) {
  const [pin, setPin] = useState("");
  const [confirm, setConfirm] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const action = useAction(async () => {
    await api.request("POST", `/cards/${card.id}/pin`, { body: { pin } });
    onDone();
  });
  const fields = fieldErrorsOf(action.error);
  return (
    <form
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        setMismatch(pin !== confirm);
        if (pin === confirm) void action.run();
      }}
    >
      <Field label="New PIN (4–6 digits)" type="password" inputMode="numeric" autoComplete="off" value={pin} onChange={(e) => setPin(e.target.value)} errors={fields.pin} pattern="[0-9]{4,6}" required />
      <Field label="Repeat the PIN" type="password" inputMode="numeric" autoComplete="off" value={confirm} onChange={(e) => setConfirm(e.target.value)} errors={mismatch ? ["The two PINs differ."] : undefined} required />
      <FormError error={action.error} shownFields={["pin"]} />
      <div className="actions">
        <button type="button" className="button secondary" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="button" disabled={action.pending}>
          Set PIN
        </button>
      </div>
    </form>
  );
}

const TOGGLES: [keyof CardControls, string][] = [
  ["online_enabled", "Online payments"],
  ["atm_enabled", "Cash withdrawals (ATM)"],
  ["contactless_enabled", "Contactless"],
  ["international_enabled", "Payments abroad"],
];

function ControlsForm({ card, currency, onDone }: { card: Card; currency: string; onDone: () => void }) {
  const refresh = useRefreshCards();
  const c = card.controls ?? ({} as CardControls);
  const [toggles, setToggles] = useState(() => Object.fromEntries(TOGGLES.map(([k]) => [k, Boolean(c[k] ?? true)])));
  const [limits, setLimits] = useState({
    per_transaction_limit: c.per_transaction_limit ?? "",
    daily_limit: c.daily_limit ?? "",
    monthly_limit: c.monthly_limit ?? "",
  });
  const [mccs, setMccs] = useState((c.blocked_mccs ?? []).join(", "));
  const [countries, setCountries] = useState((c.allowed_countries ?? []).join(", "));
  const [inputErrors, setInputErrors] = useState<Record<string, string[]>>({});
  const action = useAction(async (body: object) => {
    await api.request("PUT", `/cards/${card.id}/controls`, { body });
    await refresh();
    onDone();
  });
  const fields = { ...fieldErrorsOf(action.error), ...inputErrors };
  const list = (text: string) =>
    text
      .split(/[\s,]+/)
      .map((s) => s.trim().toUpperCase())
      .filter(Boolean);
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    const errors: Record<string, string[]> = {};
    const body: Record<string, unknown> = { ...toggles, blocked_mccs: list(mccs), allowed_countries: list(countries) };
    for (const [key, value] of Object.entries(limits)) {
      if (!String(value).trim()) {
        body[key] = null;
        continue;
      }
      const parsed = parseAmountInput(String(value), currency);
      if (parsed.ok) body[key] = parsed.amount;
      else errors[key] = [parsed.error];
    }
    setInputErrors(errors);
    if (!Object.keys(errors).length) void action.run(body);
  };
  return (
    <form className="stack" onSubmit={onSubmit}>
      <fieldset className="stack">
        <legend>Where the card works</legend>
        {TOGGLES.map(([key, label]) => (
          <Checkbox key={key} label={label} checked={toggles[key]} onChange={(e) => setToggles({ ...toggles, [key]: e.target.checked })} />
        ))}
      </fieldset>
      <fieldset className="stack">
        <legend>Spending limits ({currency}, empty for none)</legend>
        <Field label="Per payment" inputMode="decimal" value={limits.per_transaction_limit} onChange={(e) => setLimits({ ...limits, per_transaction_limit: e.target.value })} errors={fields.per_transaction_limit} />
        <Field label="Per day" inputMode="decimal" value={limits.daily_limit} onChange={(e) => setLimits({ ...limits, daily_limit: e.target.value })} errors={fields.daily_limit} />
        <Field label="Per month" inputMode="decimal" value={limits.monthly_limit} onChange={(e) => setLimits({ ...limits, monthly_limit: e.target.value })} errors={fields.monthly_limit} />
      </fieldset>
      <Field label="Blocked merchant categories (MCC codes)" value={mccs} onChange={(e) => setMccs(e.target.value)} errors={fields.blocked_mccs} hint="For example 7995 for gambling." />
      <Field label="Allowed countries (ISO codes, empty for all)" value={countries} onChange={(e) => setCountries(e.target.value)} errors={fields.allowed_countries} hint="For example DE, FR, US." />
      <FormError error={action.error} shownFields={Object.keys(fields)} />
      <div className="actions">
        <button type="button" className="button secondary" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="button" disabled={action.pending}>
          Save controls
        </button>
      </div>
    </form>
  );
}

function CardTile({ card, account }: { card: Card; account?: Account }) {
  const refresh = useRefreshCards();
  const [revealed, setRevealed] = useState<Revealed | null>(null);
  const [dialog, setDialog] = useState<"pin" | "controls" | "cancel" | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const action = useAction(async (path: string, body?: object) => {
    await api.request("POST", `/cards/${card.id}/${path}`, { body });
    await refresh();
  });
  const reveal = useAction(async () => {
    setRevealed(await api.request<Revealed>("POST", `/cards/${card.id}/reveal`));
  });
  useEffect(() => {
    if (!revealed) return;
    const timer = setTimeout(() => setRevealed(null), 60_000); // details disappear after a minute
    return () => clearTimeout(timer);
  }, [revealed]);
  const usable = card.status === "active" || card.status === "frozen";
  return (
    <li className="card card-item" data-testid="card" data-status={card.status}>
      <div className={`payment-card ${card.status}`}>
        <span className="pc-brand">{card.brand}</span>
        <span className="pc-number mono" aria-label="Card number">
          {revealed ? revealed.pan.replace(/(.{4})/g, "$1 ").trim() : card.masked_pan}
        </span>
        <span className="pc-row">
          <span>{card.cardholder_name}</span>
          <span className="mono">
            {String(revealed?.expiry_month ?? card.expiry_month).padStart(2, "0")}/{String(revealed?.expiry_year ?? card.expiry_year).slice(-2)}
            {revealed && <> · CVV {revealed.cvv}</>}
          </span>
        </span>
      </div>
      <div className="card-info">
        <p>
          {card.card_type === "virtual" ? "Virtual card" : "Physical card"}
          {account && ` · ${account.name}`} <Badge status={card.status} />
        </p>
        {message && <Notice tone="success">{message}</Notice>}
        <FormError error={action.error ?? reveal.error} />
        {card.status === "inactive" && <ActivateForm card={card} />}
        {card.pin_set === false && usable && <p className="muted">No PIN yet: set one to pay in shops and at cash machines.</p>}
        {usable && (
          <div className="actions start wrap">
            {card.status === "active" ? (
              <button type="button" className="button secondary" disabled={action.pending} onClick={() => void action.run("freeze")}>
                Freeze
              </button>
            ) : (
              <button type="button" className="button secondary" disabled={action.pending} onClick={() => void action.run("unfreeze")}>
                Unfreeze
              </button>
            )}
            {revealed ? (
              <button type="button" className="button secondary" onClick={() => setRevealed(null)}>
                Hide details
              </button>
            ) : (
              <button type="button" className="button secondary" disabled={reveal.pending} onClick={() => void reveal.run()}>
                Show details
              </button>
            )}
            <button type="button" className="button secondary" onClick={() => setDialog("pin")}>
              Set PIN
            </button>
            <button type="button" className="button secondary" onClick={() => setDialog("controls")}>
              Controls
            </button>
            <button type="button" className="button secondary danger" onClick={() => setDialog("cancel")}>
              Cancel card
            </button>
          </div>
        )}
      </div>
      <Dialog open={dialog === "pin"} title="Set your PIN" onClose={() => setDialog(null)}>
        <PinForm
          card={card}
          onDone={() => {
            setDialog(null);
          }}
        />
      </Dialog>
      <Dialog open={dialog === "controls"} title="Card controls" onClose={() => setDialog(null)}>
        <ControlsForm card={card} currency={account?.currency ?? "USD"} onDone={() => setDialog(null)} />
      </Dialog>
      <Dialog open={dialog === "cancel"} title="Cancel this card" onClose={() => setDialog(null)}>
        <CancelForm
          onSubmit={async (reason, replace) => {
            await action.run("cancel", { reason, replace });
            setDialog(null);
            setMessage(replace ? "Card cancelled. Your replacement is on its way." : "Card cancelled.");
          }}
          onClose={() => setDialog(null)}
        />
      </Dialog>
    </li>
  );
}

function ActivateForm({ card }: { card: Card }) {
  const refresh = useRefreshCards();
  const [form, setForm] = useState({ last4: "", expiry: "" });
  const [inputError, setInputError] = useState<string | null>(null);
  const action = useAction(async (body: object) => {
    await api.request("POST", `/cards/${card.id}/activate`, { body });
    await refresh();
  });
  const fields = fieldErrorsOf(action.error);
  return (
    <form
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        const match = /^(\d{1,2})\s*\/\s*(\d{2}|\d{4})$/.exec(form.expiry.trim());
        if (!match) return setInputError("Enter the expiry as MM/YY.");
        setInputError(null);
        const year = Number(match[2].length === 2 ? `20${match[2]}` : match[2]);
        void action.run({ last4: form.last4.trim(), expiry_month: Number(match[1]), expiry_year: year });
      }}
    >
      <p className="muted">Your card arrived? Activate it with the details printed on it.</p>
      <div className="grid-2">
        <Field label="Last 4 digits" inputMode="numeric" maxLength={4} value={form.last4} onChange={(e) => setForm({ ...form, last4: e.target.value })} errors={fields.last4} required />
        <Field label="Expiry (MM/YY)" value={form.expiry} onChange={(e) => setForm({ ...form, expiry: e.target.value })} errors={inputError ? [inputError] : (fields.expiry_month ?? fields.expiry_year)} required />
      </div>
      <FormError error={action.error} shownFields={["last4", "expiry_month", "expiry_year"]} />
      <div className="actions start">
        <button type="submit" className="button" disabled={action.pending}>
          Activate card
        </button>
      </div>
    </form>
  );
}

function CancelForm({ onSubmit, onClose }: { onSubmit: (reason: string, replace: boolean) => Promise<void>; onClose: () => void }) {
  const [reason, setReason] = useState("lost");
  const [replace, setReplace] = useState(true);
  return (
    <form
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        void onSubmit(reason, replace);
      }}
    >
      <SelectField label="Reason" value={reason} onChange={(e) => setReason(e.target.value)}>
        <option value="lost">Lost</option>
        <option value="stolen">Stolen</option>
        <option value="closed">I no longer need it</option>
      </SelectField>
      <Checkbox label="Send me a replacement" checked={replace} onChange={(e) => setReplace(e.target.checked)} />
      <p className="muted">A cancelled card cannot be used again.</p>
      <div className="actions">
        <button type="button" className="button secondary" onClick={onClose}>
          Keep card
        </button>
        <button type="submit" className="button danger">
          Cancel card
        </button>
      </div>
    </form>
  );
}

export function CardsPage() {
  const cards = useApi<Page<Card> | Card[]>("/cards", { limit: 100 });
  const accounts = useAccounts();
  const [issuing, setIssuing] = useState(false);
  const accountList = (accounts.data?.items ?? []).filter((a) => a.status === "active");
  const byId = new Map(accountList.map((a) => [a.id, a]));
  const list = itemsOf(cards.data);
  return (
    <section>
      <PageHeader title="Cards">
        <button type="button" className="button" onClick={() => setIssuing(true)} disabled={!accountList.length}>
          New card
        </button>
      </PageHeader>
      {cards.isLoading ? (
        <Loading />
      ) : cards.error ? (
        <FormError error={cards.error} />
      ) : list.length === 0 ? (
        <Empty>You have no cards yet. A virtual card is ready the moment you create it.</Empty>
      ) : (
        <ul className="card-list">
          {list.map((card) => (
            <CardTile key={card.id} card={card} account={byId.get(card.account_id)} />
          ))}
        </ul>
      )}
      <Dialog open={issuing} title="New card" onClose={() => setIssuing(false)}>
        <IssueCard accounts={accountList} onDone={() => setIssuing(false)} />
      </Dialog>
    </section>
  );
}
