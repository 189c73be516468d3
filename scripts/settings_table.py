"""Print the README's settings table (Markdown) from ``jobsys.settings.Settings``."""

from __future__ import annotations

from jobsys.settings import Settings


def main() -> None:
    """One row per setting: environment variable, default, description."""
    print("| environment variable | default | what it does |")
    print("|---|---|---|")
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        shown = "(empty)" if default in (None, [], "") else f"`{default}`"
        print(f"| `JOBSYS_{name.upper()}` | {shown} | {field.description} |")


if __name__ == "__main__":
    main()
