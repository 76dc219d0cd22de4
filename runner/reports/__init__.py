"""Machine-readable reports every command shares: JUnit XML, the versioned JSON envelope, SARIF and TAP.

Each format lives in one module that knows nothing of checks, models or migrations; the
commands turn their own results into the format's small types.
"""
