"""Conveyor's tasks: this module only assembles the root collection."""

from invoke.collection import Collection

from tasks import build_ci, build_prod, cleanup_tasks, deploy_tasks, gitlab_ci_file, pipeline_task, run_tests
from tasks.wiring import check_project

check_project()  # before Invoke reads invoke.yaml: one line, not a traceback

ns = Collection()
ns.add_task(build_ci.build_ci)
ns.add_task(run_tests.test)
ns.add_task(build_prod.build_prod)
ns.add_task(gitlab_ci_file.gitlab_ci)
ns.add_collection(deploy_tasks.collection)
ns.add_collection(cleanup_tasks.collection)
ns.add_task(pipeline_task.pipeline)
