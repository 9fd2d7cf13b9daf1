import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { Checkbox, Field, FormError, PageHeader } from "../components/ui";
import { api } from "../lib/api";
import { useAuth } from "../lib/auth";
import { fieldErrorsOf } from "../lib/hooks";

export function RegisterPage() {
  const { signIn } = useAuth();
  const [form, setForm] = useState({
    email: "",
    first_name: "",
    last_name: "",
    username: "",
    password: "",
    terms_accepted: false,
    privacy_accepted: false,
  });
  const [error, setError] = useState<unknown>(null);
  const [pending, setPending] = useState(false);
  const set = (name: keyof typeof form) => (e: React.ChangeEvent<HTMLInputElement>) =>
    setForm((f) => ({ ...f, [name]: e.target.type === "checkbox" ? e.target.checked : e.target.value }));

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      const body = { ...form, username: form.username.trim() || undefined, email: form.email.trim() };
      await api.request("POST", "/auth/register", { body, anonymous: true });
      await signIn(body.email, form.password);
    } catch (failure) {
      setError(failure);
    } finally {
      setPending(false);
    }
  };
  const fields = fieldErrorsOf(error);
  return (
    <form onSubmit={onSubmit} className="stack" noValidate>
      <PageHeader title="Open your account" />
      <p className="muted">It takes two minutes. You can verify your identity afterwards.</p>
      <div className="grid-2">
        <Field label="First name" autoComplete="given-name" value={form.first_name} onChange={set("first_name")} errors={fields.first_name} required />
        <Field label="Last name" autoComplete="family-name" value={form.last_name} onChange={set("last_name")} errors={fields.last_name} required />
      </div>
      <Field label="E-mail" type="email" autoComplete="email" value={form.email} onChange={set("email")} errors={fields.email} required />
      <Field label="Username (optional)" autoComplete="nickname" value={form.username} onChange={set("username")} errors={fields.username} />
      <Field
        label="Password"
        type="password"
        autoComplete="new-password"
        value={form.password}
        onChange={set("password")}
        errors={fields.password}
        hint="At least 12 characters. A few unusual words make a strong password."
        required
      />
      <Checkbox label="I accept the terms of service" checked={form.terms_accepted} onChange={set("terms_accepted")} errors={fields.terms_accepted} />
      <Checkbox label="I accept the privacy policy" checked={form.privacy_accepted} onChange={set("privacy_accepted")} errors={fields.privacy_accepted} />
      <FormError
        error={error}
        shownFields={["email", "first_name", "last_name", "username", "password", "terms_accepted", "privacy_accepted"]}
      />
      <button type="submit" className="button block" disabled={pending}>
        {pending ? "Creating your account…" : "Create account"}
      </button>
      <p className="muted center">
        Already a customer? <Link to="/sign-in">Sign in</Link>
      </p>
    </form>
  );
}
