"""Settings: declared once (schema), loaded by precedence (loading) from flags, the environment, `.env`
(envfile) and invoke.yaml (specs), checked (validation), into one frozen object (settings) holding the
domain objects the stages use (model); `.env.example` and the README's table are rendered (rendering)."""
