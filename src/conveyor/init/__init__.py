"""`conveyor init`: start Conveyor in a project that has compose files. It reads the compose model as compose
itself does, guesses the CI service, the prod images and the deployable branch (model), and writes the files
a project needs (texts): invoke.yaml with a starting `conveyor:` section, a compose override per compose
file set (never an edit of the user's files), `.env.example`, a one-line tasks.py, and .gitlab-ci.yml when
there is none. The pure plan (planning) takes the compose models and git's answers; the edge (edge) runs
compose and git and writes."""

from conveyor.init.edge import check_compose_v2, clean_compose_error, init_project, read_compose, write
from conveyor.init.model import (
    AskGit,
    Guess,
    Options,
    ReadModel,
    choose_ci_service,
    deployable_branch,
    image_name,
    is_generated,
    override_path,
    prod_candidates,
)
from conveyor.init.planning import InitPlan, plan, report
from conveyor.init.texts import ci_override_text, gitlab_jobs, prod_override_text, scalar

__all__ = [
    "AskGit",
    "Guess",
    "InitPlan",
    "Options",
    "ReadModel",
    "check_compose_v2",
    "choose_ci_service",
    "ci_override_text",
    "clean_compose_error",
    "deployable_branch",
    "gitlab_jobs",
    "image_name",
    "init_project",
    "is_generated",
    "override_path",
    "plan",
    "prod_candidates",
    "prod_override_text",
    "read_compose",
    "report",
    "scalar",
    "write",
]
