import { useState, type FormEvent } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Badge, Checkbox, Dialog, Empty, Field, FormError, Loading, PageHeader, Pager, SelectField } from "../../components/ui";
import { api } from "../../lib/api";
import { useAction, usePaged } from "../../lib/hooks";
import type { User } from "../../lib/types";

const ROLES = ["customer", "compliance_officer", "admin", "card_processor"];

function RolesForm({ user, onDone }: { user: User; onDone: () => void }) {
  const [roles, setRoles] = useState<string[]>(user.roles as string[]);
  const action = useAction(async () => {
    await api.request("PUT", `/admin/users/${user.id}/roles`, { body: { roles } });
    onDone();
  });
  return (
    <form
      className="stack"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        void action.run();
      }}
    >
      <fieldset className="stack">
        <legend>Roles of {user.email}</legend>
        {ROLES.map((role) => (
          <Checkbox
            key={role}
            label={role.replace(/_/g, " ")}
            checked={roles.includes(role)}
            onChange={(e) => setRoles(e.target.checked ? [...roles, role] : roles.filter((r) => r !== role))}
          />
        ))}
      </fieldset>
      <FormError error={action.error} />
      <div className="actions">
        <button type="button" className="button secondary" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="button" disabled={action.pending}>
          Save roles
        </button>
      </div>
    </form>
  );
}

export function UsersPage() {
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState({ q: "", role: "", status: "" });
  const [filters, setFilters] = useState(draft);
  const [editing, setEditing] = useState<User | null>(null);
  const list = usePaged<User>("/admin/users", filters, 25);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["/admin/users"] });
  const lock = useAction(async (user: User, locked: boolean) => {
    await api.request("POST", `/admin/users/${user.id}/${locked ? "unlock" : "lock"}`);
    await refresh();
  });
  return (
    <section>
      <PageHeader title="Users and roles" />
      <form
        className="card filters"
        aria-label="Find users"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          list.reset();
          setFilters(draft);
        }}
      >
        <Field label="Search" type="search" value={draft.q} onChange={(e) => setDraft({ ...draft, q: e.target.value })} placeholder="Name or e-mail" />
        <SelectField label="Role" value={draft.role} onChange={(e) => setDraft({ ...draft, role: e.target.value })}>
          <option value="">Any role</option>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r.replace(/_/g, " ")}
            </option>
          ))}
        </SelectField>
        <SelectField label="Status" value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.target.value })}>
          <option value="">Any status</option>
          <option value="active">Active</option>
          <option value="locked">Locked</option>
        </SelectField>
        <div className="actions filters-actions">
          <button type="submit" className="button">
            Search
          </button>
        </div>
      </form>
      <FormError error={lock.error} />
      <section className="card" aria-label="Users">
        {list.isLoading ? (
          <Loading />
        ) : list.error ? (
          <FormError error={list.error} />
        ) : !list.data?.items.length ? (
          <Empty>No users match.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="stacked">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">E-mail</th>
                  <th scope="col">Roles</th>
                  <th scope="col">Status</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((u) => {
                  const locked = Boolean(u.locked) || u.status === "locked";
                  return (
                    <tr key={u.id}>
                      <td data-label="Name">{u.first_name} {u.last_name}</td>
                      <td data-label="E-mail">{u.email}</td>
                      <td data-label="Roles">{(u.roles as string[]).map((r) => r.replace(/_/g, " ")).join(", ")}</td>
                      <td data-label="Status"><Badge status={locked ? "locked" : (u.status ?? "active")} /></td>
                      <td data-label="Actions" className="row-actions">
                        <button type="button" className="button secondary small" onClick={() => setEditing(u)}>
                          Roles
                        </button>
                        <button type="button" className="button secondary small" disabled={lock.pending} onClick={() => void lock.run(u, locked)}>
                          {locked ? "Unlock" : "Lock"}
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        <Pager page={list.page} hasNext={list.hasNext} hasPrevious={list.hasPrevious} onNext={list.goNext} onPrevious={list.goPrevious} />
      </section>
      <Dialog open={editing !== null} title="Change roles" onClose={() => setEditing(null)}>
        {editing && (
          <RolesForm
            user={editing}
            onDone={() => {
              setEditing(null);
              void refresh();
            }}
          />
        )}
      </Dialog>
    </section>
  );
}
