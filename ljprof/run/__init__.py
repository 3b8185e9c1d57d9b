"""Stage 3: a profile + image facts -> a run plan (`plan`, pure), then one supervised run in a
container -> reports/<profile>/<run-id>/ with raw/ and manifest.json (`runner`)."""
