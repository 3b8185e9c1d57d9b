"""This repository's Invoke tasks: the collection the `ljprof` command runs (ljprof/tasks.py).

`invoke profile --name bot` here is `ljprof profile --name bot`; invoke takes
the collection named `ns`, and the tasks are importable from here as before.
"""

from ljprof.tasks import *  # noqa: F403
from ljprof.tasks import ns  # noqa: F401
