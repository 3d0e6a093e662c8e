"""The Docker side: compose command lines as data (compose), the engine through the docker SDK (engine),
the run's session (session: subprocesses in one environment, logging compose in), pushes (pushing), build
logs (buildlog) and the temporary Docker config (config)."""
