#!/usr/bin/env python
import os
import sys
from pathlib import Path


def _checkout_python() -> None:
    """Run in the checkout's .venv (made by scripts/run or scripts/test) when the Python that
    started us has no Django: `python manage.py ...` then works as the README writes it."""
    try:
        import django  # noqa: F401
    except ImportError:
        venv = Path(__file__).resolve().parent / ".venv"
        venv_python = venv / "bin" / "python"
        if venv_python.exists() and Path(sys.prefix).resolve() != venv.resolve():
            os.execv(str(venv_python), [str(venv_python), *sys.argv])  # noqa: S606
        raise


def main() -> None:
    _checkout_python()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
