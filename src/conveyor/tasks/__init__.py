"""Conveyor's Invoke collection, `ns`: what a project's tasks file imports (`from conveyor.tasks import ns`)
and what the `conveyor` console script runs. This module only assembles it: one module per stage."""

from invoke.collection import Collection

from conveyor.tasks import build, cleanup, deploy, init, jobimage, pipeline, test
from conveyor.tasks.bridge import check_project

__all__ = ["ns"]

check_project()  # before Invoke reads invoke.yaml: one line, not a traceback (also for `inv --list`)

ns = Collection()
ns.add_task(build.build_ci)
ns.add_task(test.test)
ns.add_task(build.build_prod)
ns.add_task(pipeline.gitlab_ci)
ns.add_collection(deploy.collection)
ns.add_collection(cleanup.collection)
ns.add_task(pipeline.pipeline)
ns.add_task(init.init)
ns.add_task(jobimage.job_image)
