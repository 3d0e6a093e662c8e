"""Conveyor's job image: the image the generated GitLab CI jobs run in, `<registry image>/conveyor-job:<version>`
(named in conveyor.versions), with this very Conveyor, the Docker CLI and its compose v2 plugin, and git.
`inv job-image` builds it (build) from the Dockerfile shipped next to this module, on a base (base) made
with debootstrap or named by the user, from a context prepared on the host (context, wheels), without
network inside the build and without Docker Hub."""
