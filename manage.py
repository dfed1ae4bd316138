#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # manage.py is the developer's tool: development mode unless told otherwise. The
    # web server's entry points (config.asgi, config.wsgi) default to production,
    # and a deployment sets EVERGREEN_MODE=production for its commands too.
    os.environ.setdefault("EVERGREEN_MODE", "development")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
