// Asks for an API key when the server answers 401 (servers off loopback require keys).
import { useEffect, useState, type FormEvent } from "react";
import { AUTH_REQUIRED, setToken } from "../api/client";

export function AuthPrompt() {
  const [needed, setNeeded] = useState(false);
  const [key, setKey] = useState("");
  useEffect(() => {
    const on = () => setNeeded(true);
    window.addEventListener(AUTH_REQUIRED, on);
    return () => window.removeEventListener(AUTH_REQUIRED, on);
  }, []);
  if (!needed) return null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setToken(key.trim() || null);
    window.location.reload();
  };
  return (
    <form className="auth-prompt" onSubmit={submit} data-testid="auth-prompt">
      <label>
        This server needs an API key (create one with <code>kiseki keys create NAME</code>):{" "}
        <input type="password" value={key} onChange={(e) => setKey(e.target.value)} autoFocus aria-label="API key" />
      </label>{" "}
      <button type="submit" className="primary">
        Use key
      </button>
    </form>
  );
}
