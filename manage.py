#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# Commands that serve or wait for others' work get no history context of their own: the
# requests and jobs they run attach theirs.
NO_HISTORY_CONTEXT = {
    "runserver",
    "rqworker",
    "rqscheduler",
    "shell",
    "dbshell",
    "test",
    "testserver",
    "migrate",
    "makemigrations",
    "check",
    "collectstatic",
}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "residency.settings")
    from django.core.management import execute_from_command_line

    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if not command or command.startswith("-") or command in NO_HISTORY_CONTEXT:
        execute_from_command_line(sys.argv)
        return
    import django

    django.setup()
    from residency.history import SOURCE_COMMAND, history_context

    # Every change a command makes is recorded as "manage.py <command>" (issue 10).
    with history_context(source=SOURCE_COMMAND, actor=f"manage.py {command}"):
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
