"""Stage 2: a recipe + overrides -> a build plan with a content-hash tag (`plan`) and its build
context (`context`). The engine itself is behind `ljprof.docker_engine`."""
