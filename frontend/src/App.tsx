import type { ReactNode } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router-dom";
import { AuthFrame, Layout } from "./components/Layout";
import { Loading, PageHeader } from "./components/ui";
import { useAuth } from "./lib/auth";
import { hasRole, type Role } from "./lib/types";
import { AccountPage } from "./pages/Account";
import { CardsPage } from "./pages/Cards";
import { DashboardPage } from "./pages/Dashboard";
import { InvestmentsPage } from "./pages/Investments";
import { KycPage } from "./pages/Kyc";
import { MagicLinkPage } from "./pages/MagicLink";
import { ForgotPasswordPage, ResetPasswordPage, VerifyEmailPage } from "./pages/Recovery";
import { RegisterPage } from "./pages/Register";
import { SecurityPage } from "./pages/Security";
import { SignInPage } from "./pages/SignIn";
import { SsoCallbackPage } from "./pages/SsoCallback";
import { TransactionsPage } from "./pages/Transactions";
import { TransferPage } from "./pages/Transfer";
import { AlertsPage } from "./pages/console/Alerts";
import { AuditPage } from "./pages/console/Audit";
import { CustomerPage } from "./pages/console/Customer";
import { RiskReviewsPage } from "./pages/console/RiskReviews";
import { ErasurePage } from "./pages/console/Erasure";
import { HeldTransfersPage } from "./pages/console/Held";
import { KycReviewsPage } from "./pages/console/KycReviews";
import { ReportsPage } from "./pages/console/Reports";
import { SanctionsListsPage } from "./pages/console/SanctionsLists";
import { RulesPage } from "./pages/console/Rules";
import { UsersPage } from "./pages/admin/Users";
import { WebhooksPage } from "./pages/admin/Webhooks";

function RequireAuth({ children }: { children: ReactNode }) {
  const { status, signedOutByChoice } = useAuth();
  const location = useLocation();
  if (status === "loading") return <Loading label="Opening your session…" />;
  if (status === "signed-out") {
    // After an expired session, come back here after signing in; after a sign-out, start fresh.
    const state = signedOutByChoice ? null : { from: location.pathname + location.search };
    return <Navigate to="/sign-in" replace state={state} />;
  }
  return <>{children}</>;
}

function RequireRole({ role, children }: { role: Role; children: ReactNode }) {
  const { user } = useAuth();
  if (!hasRole(user, role)) {
    return (
      <section>
        <PageHeader title="Not available" />
        <p className="lead">
          This area is for {role === "admin" ? "administrators" : role === "customer" ? "customers" : "compliance officers"}.
          Your account does not have access to it.
        </p>
      </section>
    );
  }
  return <>{children}</>;
}

/** The start page for each role: customers see their money, staff their queue. */
function Home() {
  const { user } = useAuth();
  if (hasRole(user, "customer")) return <DashboardPage />;
  if (hasRole(user, "compliance_officer")) return <Navigate to="/console/alerts" replace />;
  if (hasRole(user, "admin")) return <Navigate to="/admin/users" replace />;
  return <Navigate to="/security" replace />;
}

function SignedOutOnly({ children }: { children: ReactNode }) {
  const { status } = useAuth();
  const location = useLocation();
  if (status === "signed-in") {
    const from = (location.state as { from?: string } | null)?.from ?? "/";
    return <Navigate to={from} replace />;
  }
  return <AuthFrame>{children}</AuthFrame>;
}

export function App() {
  return (
    <Routes>
      <Route path="/sign-in" element={<SignedOutOnly><SignInPage /></SignedOutOnly>} />
      <Route path="/sign-in/link" element={<SignedOutOnly><MagicLinkPage /></SignedOutOnly>} />
      <Route path="/sign-in/sso" element={<AuthFrame><SsoCallbackPage /></AuthFrame>} />
      <Route path="/register" element={<SignedOutOnly><RegisterPage /></SignedOutOnly>} />
      <Route path="/forgot-password" element={<SignedOutOnly><ForgotPasswordPage /></SignedOutOnly>} />
      <Route path="/reset-password" element={<AuthFrame><ResetPasswordPage /></AuthFrame>} />
      <Route path="/verify-email" element={<AuthFrame><VerifyEmailPage /></AuthFrame>} />
      <Route element={<RequireAuth><Layout /></RequireAuth>}>
        <Route index element={<Home />} />
        <Route path="accounts/:accountId" element={<RequireRole role="customer"><AccountPage /></RequireRole>} />
        <Route path="transfer" element={<RequireRole role="customer"><TransferPage /></RequireRole>} />
        <Route path="transactions" element={<RequireRole role="customer"><TransactionsPage /></RequireRole>} />
        <Route path="cards" element={<RequireRole role="customer"><CardsPage /></RequireRole>} />
        <Route path="investments" element={<RequireRole role="customer"><InvestmentsPage /></RequireRole>} />
        <Route path="kyc" element={<RequireRole role="customer"><KycPage /></RequireRole>} />
        <Route path="security" element={<SecurityPage />} />
        <Route path="console" element={<Navigate to="/console/alerts" replace />} />
        <Route path="console/alerts" element={<RequireRole role="compliance_officer"><AlertsPage /></RequireRole>} />
        <Route path="console/held" element={<RequireRole role="compliance_officer"><HeldTransfersPage /></RequireRole>} />
        <Route path="console/kyc" element={<RequireRole role="compliance_officer"><KycReviewsPage /></RequireRole>} />
        <Route path="console/audit" element={<RequireRole role="compliance_officer"><AuditPage /></RequireRole>} />
        <Route path="console/reports" element={<RequireRole role="compliance_officer"><ReportsPage /></RequireRole>} />
        <Route path="console/erasure" element={<RequireRole role="compliance_officer"><ErasurePage /></RequireRole>} />
        <Route path="console/sanctions" element={<RequireRole role="compliance_officer"><SanctionsListsPage /></RequireRole>} />
        <Route path="console/customers/:userId" element={<RequireRole role="compliance_officer"><CustomerPage /></RequireRole>} />
        <Route path="console/reviews" element={<RequireRole role="compliance_officer"><RiskReviewsPage /></RequireRole>} />
        <Route path="console/rules" element={<RequireRole role="compliance_officer"><RulesPage /></RequireRole>} />
        <Route path="admin/users" element={<RequireRole role="admin"><UsersPage /></RequireRole>} />
        <Route path="admin/webhooks" element={<RequireRole role="admin"><WebhooksPage /></RequireRole>} />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}

function NotFound() {
  return (
    <section>
      <PageHeader title="Page not found" />
      <p className="lead">There is nothing at this address.</p>
    </section>
  );
}
