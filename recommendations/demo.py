"""Demo data for this app, loaded by `manage.py load_demo`."""


def load_demo(*, stdout) -> None:
    return None
