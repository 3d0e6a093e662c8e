"""The pipeline, described once from the settings (description): run locally in GitLab's order (local), or
written as GitLab CI YAML (gitlab, globs, writing)."""
