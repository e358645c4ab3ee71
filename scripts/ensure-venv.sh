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
# python gssapi/krb5 (Kerberos sign-in, S12) build against the OS Kerberos library
if ! command -v krb5-config >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "→ installing Debian's libkrb5-dev (the Kerberos library the gssapi package builds against)"
    apt-get install -y -q libkrb5-dev gcc >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q libkrb5-dev gcc >/dev/null 2>&1)
  fi
  command -v krb5-config >/dev/null 2>&1 || { echo "Sundial needs the Kerberos development library: install Debian's libkrb5-dev (or your system's krb5 devel package)." >&2; exit 1; }
fi
stamp=".venv/.installed-$(basename "$req")"
want=$(cat requirements.txt "$req" | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "→ installing $req into .venv"
  # (this machine's pip configuration warns about absent local indexes; those lines are noise)
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$req" 2> >(grep -v "^WARNING: Location" >&2)
  echo "$want" > "$stamp"
fi
