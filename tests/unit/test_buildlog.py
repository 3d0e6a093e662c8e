from conveyor.docker.buildlog import parse_build_log

WARM = """\
#1 [app internal] load build definition from Dockerfile
#1 DONE 0.0s
#4 [app 1/5] FROM 127.0.0.1:5000/conveyor/busybox:1.35@sha256:abc
#4 DONE 0.1s
#5 [app] importing cache manifest from 127.0.0.1:5000/x/ci:main
#5 DONE 0.0s
#7 [app 2/5] COPY example/deps.lock /app/deps.lock
#7 CACHED
#8 [app 3/5] RUN install-deps /app/deps.lock
#8 CACHED
#9 [app 4/5] COPY example/src /app/src
#9 DONE 0.0s
#10 [app 5/5] COPY example/tests /app/tests
#10 DONE 0.0s
""".splitlines()


def test_cached_steps_and_cache_source_are_read_from_plain_progress() -> None:
    report = parse_build_log(WARM)
    assert [(s.index, s.cached) for s in report.layer_steps] == [(2, True), (3, True), (4, False), (5, False)]
    assert report.cache_sources == ("127.0.0.1:5000/x/ci:main",)
    assert report.summary() == (
        "cache: 2 of 4 steps CACHED (cache from 127.0.0.1:5000/x/ci:main); rebuilt from `COPY example/src /app/src`"
    )


def test_cold_build_reports_no_cached_step() -> None:
    cold = [line for line in WARM if "CACHED" not in line]
    report = parse_build_log(cold)
    assert report.cached == ()
    assert report.summary().startswith("cache: 0 of 4 steps CACHED")


def test_no_steps() -> None:
    assert parse_build_log(["random"]).summary() == "cache: no build steps seen"
