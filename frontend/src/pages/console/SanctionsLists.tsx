import { useState } from "react";
import { Badge, DateTime, Empty, FormError, Loading, PageHeader, Pager, SelectField } from "../../components/ui";
import { usePaged } from "../../lib/hooks";
import type { ListChange, ListVersion } from "../../lib/types";

const KINDS: [string, string][] = [
  ["", "Every source"],
  ["ofac-sdn", "OFAC SDN"],
  ["ofac-cons", "OFAC consolidated"],
  ["un", "UN Security Council"],
  ["eu", "EU consolidated"],
  ["uk", "UK Sanctions List"],
  ["flowlet-csv", "Flowlet CSV"],
];

function describe(change: ListChange): string {
  if (change.change !== "changed") return "";
  return Object.keys(change.fields).join(", ").replace(/_/g, " ");
}

function Diff({ version }: { version: ListVersion }) {
  const [change, setChange] = useState("");
  const diff = usePaged<ListChange>(`/compliance/sanctions/lists/${version.id}/diff`, { change: change || undefined }, 50);
  return (
    <div className="stack">
      <h3>
        What list {version.id} changed
      </h3>
      <p className="muted">
        {version.added} added · {version.removed} removed · {version.changed} changed
        {version.previous_id ? ` against list ${version.previous_id}` : " (the first version of its source)"}
      </p>
      <SelectField label="Change" value={change} onChange={(e) => { diff.reset(); setChange(e.target.value); }}>
        <option value="">All</option>
        <option value="added">Added</option>
        <option value="removed">Removed</option>
        <option value="changed">Changed</option>
      </SelectField>
      {diff.isLoading ? (
        <Loading />
      ) : diff.error ? (
        <FormError error={diff.error} />
      ) : !diff.data?.items.length ? (
        <Empty>No changes here.</Empty>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Change</th>
              <th scope="col">Entry</th>
              <th scope="col">Name</th>
              <th scope="col">Fields</th>
            </tr>
          </thead>
          <tbody>
            {diff.data.items.map((c) => (
              <tr key={`${c.change}-${c.source_uid}`}>
                <td><Badge status={c.change} /></td>
                <td className="mono">{c.source_uid}</td>
                <td>{c.name}</td>
                <td>{describe(c)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager page={diff.page} hasNext={diff.hasNext} hasPrevious={diff.hasPrevious} onNext={diff.goNext} onPrevious={diff.goPrevious} />
    </div>
  );
}

export function SanctionsListsPage() {
  const [kind, setKind] = useState("");
  const [selected, setSelected] = useState<ListVersion | null>(null);
  const list = usePaged<ListVersion>("/compliance/sanctions/lists", { kind: kind || undefined }, 20);
  return (
    <section>
      <PageHeader title="Sanctions lists" />
      <p className="lead">Every version loaded, the one screening uses for each source, and what each version changed.</p>
      <div className="card filters" role="group" aria-label="Filter list versions">
        <SelectField label="Source" value={kind} onChange={(e) => { list.reset(); setSelected(null); setKind(e.target.value); }}>
          {KINDS.map(([value, label]) => (
            <option key={value} value={value}>{label}</option>
          ))}
        </SelectField>
      </div>
      <div className="split">
        <section className="card" aria-label="List versions">
          {list.isLoading ? (
            <Loading />
          ) : list.error ? (
            <FormError error={list.error} />
          ) : !list.data?.items.length ? (
            <Empty>No list loaded.</Empty>
          ) : (
            <ul className="select-list">
              {list.data.items.map((v) => (
                <li key={v.id}>
                  <button type="button" className={selected?.id === v.id ? "selected" : ""} aria-pressed={selected?.id === v.id} onClick={() => setSelected(v)}>
                    <span>
                      {v.kind} · list {v.id} · {v.entries} entries, {v.aliases} aliases
                    </span>
                    {v.active && <Badge status="active" />}
                    <span className="muted">
                      published {v.published_at ? <DateTime value={v.published_at} /> : "—"} · loaded <DateTime value={v.loaded_at} />
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          )}
          <Pager page={list.page} hasNext={list.hasNext} hasPrevious={list.hasPrevious} onNext={list.goNext} onPrevious={list.goPrevious} />
        </section>
        <section className="card" aria-label="List diff">
          {selected ? <Diff key={selected.id} version={selected} /> : <Empty>Choose a version to see what it changed.</Empty>}
        </section>
      </div>
    </section>
  );
}
