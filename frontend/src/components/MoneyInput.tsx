import { Field } from "./ui";

/** An amount field: text with a decimal keyboard (a number input would round through floats). */
export function MoneyInput({
  label,
  currency,
  value,
  onChange,
  errors,
  hint,
}: {
  label: string;
  currency: string;
  value: string;
  onChange: (value: string) => void;
  errors?: string[];
  hint?: string;
}) {
  return (
    <Field
      label={`${label} (${currency})`}
      inputMode="decimal"
      autoComplete="off"
      value={value}
      onChange={(e) => onChange(e.target.value)}
      errors={errors}
      hint={hint}
      required
    />
  );
}
