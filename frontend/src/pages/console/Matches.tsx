import type { SanctionsMatch } from "../../lib/types";

const FACTOR_NAMES: Record<string, string> = {
  name: "Name",
  date_of_birth: "Date of birth",
  country: "Country",
};

function signed(value: number): string {
  return `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(2)}`;
}

/** The sanctions matches behind an alert, each with what made its score. */
export function matchesOf(details: unknown): SanctionsMatch[] {
  const hits = (details as { hits?: { facts?: { matches?: SanctionsMatch[] } }[] } | null)?.hits ?? [];
  return hits.flatMap((hit) => hit.facts?.matches ?? []);
}

export function SanctionsMatches({ matches }: { matches: SanctionsMatch[] }) {
  if (!matches.length) return null;
  return (
    <section aria-label="Sanctions matches" className="stack">
      <h3>Sanctions matches</h3>
      {matches.map((m, i) => (
        <div key={`${m.list_entry_id}-${i}`} className="card match">
          <p>
            <strong>{m.name}</strong> · {m.program} · score {m.score.toFixed(2)}
            {m.list_version_id ? <span className="muted"> · list version {m.list_version_id}</span> : null}
          </p>
          {m.query && (
            <p>
              Screened as written, in {m.query.script} script: <strong lang="und">{m.query.text}</strong>
              {m.query.transliterated_as.length ? <> · read as {m.query.transliterated_as.join(", ")}</> : null}
            </p>
          )}
          {m.matched_alias && <p>Matched on the alias <strong>{m.matched_alias}</strong></p>}
          {m.factors?.length ? (
            <table className="table compact">
              <caption className="sr-only">What made the score</caption>
              <thead>
                <tr>
                  <th scope="col">Factor</th>
                  <th scope="col">Compared</th>
                  <th scope="col">Effect</th>
                </tr>
              </thead>
              <tbody>
                {m.factors.map((f) => (
                  <tr key={f.factor}>
                    <td>{FACTOR_NAMES[f.factor] ?? f.factor}</td>
                    <td>{f.value}</td>
                    <td className="mono">{f.factor === "name" ? f.effect.toFixed(2) : signed(f.effect)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </div>
      ))}
    </section>
  );
}
