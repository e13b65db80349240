"""Write environment.yml from requirements.lock, so conda users get exactly the pip pins.

Usage: python tools/sync_environment.py   (tests/test_environment.py fails when the two disagree)
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def render(lock_lines: list[str]) -> str:
    pins = [line.strip() for line in lock_lines if line.strip() and not line.startswith("#")]
    body = "\n".join(f"      - {pin}" for pin in pins)
    return (
        "# Generated from requirements.lock by tools/sync_environment.py; do not edit by hand.\n"
        "# Only Python and pip come from conda: every package is pinned for pip, as in requirements.lock.\n"
        "name: alliance-reanalysis\n"
        "channels: []\n"
        "dependencies:\n"
        "  - python=3.11\n"
        "  - pip\n"
        "  - pip:\n"
        f"{body}\n"
        "      - -e .\n"
    )


if __name__ == "__main__":
    text = render((ROOT / "requirements.lock").read_text().splitlines())
    (ROOT / "environment.yml").write_text(text)
    print("wrote environment.yml")
