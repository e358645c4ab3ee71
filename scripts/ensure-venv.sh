#!/usr/bin/env bash
# Create .venv and install the given requirements file; re-installs only when the file changed.
set -euo pipefail
req=${1:-requirements.txt}
py=${PYTHON:-python3}
if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)' 2>/dev/null; then
  echo "Sundial needs Python 3.11 or newer as '$py' (set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "→ creating .venv with $("$py" --version)"
  "$py" -m venv .venv
fi
stamp=".venv/.installed-$(basename "$req")"
want=$(cat requirements.txt "$req" | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "→ installing $req into .venv"
  # (this machine's pip configuration warns about absent local indexes; those lines are noise)
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$req" 2> >(grep -v "^WARNING: Location" >&2)
  echo "$want" > "$stamp"
fi
