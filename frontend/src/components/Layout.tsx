import { useEffect, useRef, useState, type ReactNode } from "react";
import { Link, NavLink, Outlet, useLocation } from "react-router-dom";
import { useAuth } from "../lib/auth";
import { hasRole } from "../lib/types";
import { LiveUpdates } from "./LiveUpdates";

const CUSTOMER_LINKS = [
  ["/", "Overview"],
  ["/transfer", "Send money"],
  ["/transactions", "Transactions"],
  ["/cards", "Cards"],
  ["/investments", "Investments"],
  ["/kyc", "Verification"],
  ["/security", "Security"],
] as const;

const CONSOLE_LINKS = [
  ["/console/alerts", "Alerts"],
  ["/console/held", "Held transfers"],
  ["/console/kyc", "KYC reviews"],
  ["/console/reviews", "Periodic reviews"],
  ["/console/audit", "Audit trail"],
  ["/console/reports", "Reports"],
  ["/console/erasure", "Erasure requests"],
  ["/console/sanctions", "Sanctions lists"],
  ["/console/rules", "AML rules"],
] as const;

export function Brand() {
  return (
    <Link to="/" className="brand" aria-label="Flowlet home">
      <svg viewBox="0 0 32 32" aria-hidden="true" width="28" height="28">
        <rect width="32" height="32" rx="8" className="brand-mark" />
        <path d="M9 22c4-1 6-4 7-8s4-6 7-6" className="brand-flow" />
      </svg>
      <span>Flowlet</span>
    </Link>
  );
}

function NavGroup({ title, links }: { title?: string; links: readonly (readonly [string, string])[] }) {
  return (
    <div className="nav-group">
      {title && <p className="nav-title">{title}</p>}
      <ul>
        {links.map(([to, label]) => (
          <li key={to}>
            <NavLink to={to} end={to === "/"}>
              {label}
            </NavLink>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The signed-in frame: header, navigation for the person's roles, the page. */
export function Layout() {
  const { user, signOut } = useAuth();
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  const customer = hasRole(user, "customer");
  const officer = hasRole(user, "compliance_officer");
  const admin = hasRole(user, "admin");
  const [lastPath, setLastPath] = useState(location.pathname);
  if (lastPath !== location.pathname) {
    setLastPath(location.pathname);
    setMenuOpen(false);
  }
  // After a client-side navigation, move focus to the new page (as a full page load would).
  const main = useRef<HTMLElement>(null);
  const firstRender = useRef(true);
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    main.current?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [location.pathname]);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Brand />
        <button
          type="button"
          className="menu-button"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen((open) => !open)}
        >
          Menu
        </button>
        <div className="user-menu">
          <LiveUpdates enabled={customer || officer} />
          <span className="user-name" title={user?.email}>
            {user?.first_name} {user?.last_name}
          </span>
          <button type="button" className="button secondary small" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <div className="frame">
        <nav id="main-nav" className={`sidenav ${menuOpen ? "open" : ""}`} aria-label="Main">
          {customer && <NavGroup links={CUSTOMER_LINKS} />}
          {officer && <NavGroup title="Compliance" links={CONSOLE_LINKS} />}
          {admin && (
            <NavGroup
              title="Administration"
              links={[
                ["/admin/users", "Users and roles"],
                ["/admin/webhooks", "Webhooks"],
              ]}
            />
          )}
          {!customer && <NavGroup title="Account" links={[["/security", "Security"]]} />}
        </nav>
        <main id="main" className="content" tabIndex={-1} ref={main}>
          <Outlet />
        </main>
      </div>
    </div>
  );
}

export function AuthFrame({ children }: { children: ReactNode }) {
  return (
    <div className="auth-frame">
      <div className="auth-aside" aria-hidden="true">
        <Brand />
        <p className="auth-tagline">Banking that shows its work.</p>
        <ul className="auth-points">
          <li>Instant transfers between Flowlet accounts</li>
          <li>Cards you can freeze in one tap</li>
          <li>Every change recorded and verifiable</li>
        </ul>
      </div>
      <main id="main" className="auth-main">
        <div className="auth-card">{children}</div>
      </main>
    </div>
  );
}
