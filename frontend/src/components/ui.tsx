import {
  useEffect,
  useId,
  useRef,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
  type TextareaHTMLAttributes,
} from "react";
import { ApiError, describeError } from "../lib/errors";
import { formatMoney } from "../lib/money";

type FieldProps = InputHTMLAttributes<HTMLInputElement> & {
  label: string;
  errors?: string[];
  hint?: ReactNode;
};

/** A labelled input with its hint and the server's errors for it, wired for screen readers. */
export function Field({ label, errors, hint, className, ...input }: FieldProps) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = errors?.length ? `${id}-error` : undefined;
  return (
    <div className={`field ${className ?? ""}`}>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        aria-invalid={errors?.length ? true : undefined}
        aria-describedby={[hintId, errorId].filter(Boolean).join(" ") || undefined}
        {...input}
      />
      {hint && (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      )}
      {errorId && (
        <p className="field-error" id={errorId}>
          {errors!.join(" ")}
        </p>
      )}
    </div>
  );
}

type SelectProps = SelectHTMLAttributes<HTMLSelectElement> & {
  label: string;
  errors?: string[];
  children: ReactNode;
};

export function SelectField({ label, errors, children, className, ...select }: SelectProps) {
  const id = useId();
  const errorId = errors?.length ? `${id}-error` : undefined;
  return (
    <div className={`field ${className ?? ""}`}>
      <label htmlFor={id}>{label}</label>
      <select id={id} aria-invalid={errorId ? true : undefined} aria-describedby={errorId} {...select}>
        {children}
      </select>
      {errorId && (
        <p className="field-error" id={errorId}>
          {errors!.join(" ")}
        </p>
      )}
    </div>
  );
}

type TextAreaProps = TextareaHTMLAttributes<HTMLTextAreaElement> & { label: string; errors?: string[] };

export function TextAreaField({ label, errors, className, ...area }: TextAreaProps) {
  const id = useId();
  const errorId = errors?.length ? `${id}-error` : undefined;
  return (
    <div className={`field ${className ?? ""}`}>
      <label htmlFor={id}>{label}</label>
      <textarea id={id} aria-invalid={errorId ? true : undefined} aria-describedby={errorId} {...area} />
      {errorId && (
        <p className="field-error" id={errorId}>
          {errors!.join(" ")}
        </p>
      )}
    </div>
  );
}

export function Checkbox({
  label,
  errors,
  ...input
}: InputHTMLAttributes<HTMLInputElement> & { label: ReactNode; errors?: string[] }) {
  const id = useId();
  return (
    <div className="checkbox">
      <input type="checkbox" id={id} {...input} />
      <label htmlFor={id}>{label}</label>
      {errors?.length ? <p className="field-error">{errors.join(" ")}</p> : null}
    </div>
  );
}

/** The error of a failed request in words; field errors are shown at their fields. */
export function FormError({ error, shownFields = [] }: { error: unknown; shownFields?: string[] }) {
  if (!error) return null;
  let extra: string[] = [];
  if (error instanceof ApiError) {
    extra = Object.entries(error.fieldErrors)
      .filter(([name]) => !shownFields.includes(name))
      .map(([name, reasons]) => `${humanize(name)}: ${reasons.join(" ")}`);
  }
  return (
    <div className="alert alert-error" role="alert">
      <p>{describeError(error)}</p>
      {extra.length > 0 && (
        <ul>
          {extra.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Notice({ children, tone = "info" }: { children: ReactNode; tone?: "info" | "success" | "warning" }) {
  return (
    <div className={`alert alert-${tone}`} role="status">
      {children}
    </div>
  );
}

export function humanize(name: string): string {
  const text = name.replace(/[._]/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function Money({ amount, currency, sign }: { amount: string; currency: string; sign?: boolean }) {
  return (
    <span className="money">{formatMoney(amount, currency, undefined, sign ? { signDisplay: "exceptZero" } : {})}</span>
  );
}

export function Badge({ status }: { status: string }) {
  return <span className={`badge badge-${status.replace(/_/g, "-")}`}>{humanize(status)}</span>;
}

export function DateTime({ value }: { value: string | null | undefined }) {
  if (!value) return <span>—</span>;
  const date = new Date(value);
  return (
    <time dateTime={value}>
      {new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(date)}
    </time>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="loading" role="status">
      {label}
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Flowlet`;
  }, [title]);
  return (
    <header className="page-header">
      <h1>{title}</h1>
      {children && <div className="page-actions">{children}</div>}
    </header>
  );
}

export function Pager({
  page,
  hasNext,
  hasPrevious,
  onNext,
  onPrevious,
}: {
  page: number;
  hasNext: boolean;
  hasPrevious: boolean;
  onNext: () => void;
  onPrevious: () => void;
}) {
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" className="button secondary" disabled={!hasPrevious} onClick={onPrevious}>
        Previous
      </button>
      <span>Page {page}</span>
      <button type="button" className="button secondary" disabled={!hasNext} onClick={onNext}>
        Next
      </button>
    </nav>
  );
}

/** A modal built on <dialog>: focus stays inside, Escape closes it. */
export function Dialog({
  open,
  title,
  onClose,
  children,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      {open && (
        <>
          <h2 id={titleId}>{title}</h2>
          {children}
        </>
      )}
    </dialog>
  );
}
