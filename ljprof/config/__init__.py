"""Stage 1: profiles.yml -> validated, frozen configuration (`loader`), on a YAML walker that
points at file:line:col (`yamlcheck`), into the dataclasses every later stage reads (`model`)."""
