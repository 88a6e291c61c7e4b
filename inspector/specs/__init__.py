"""The shipped specs, one YAML file per model (also at the top of the repo as specs/)."""
