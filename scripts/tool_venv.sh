#!/bin/sh
# A tool's own virtualenv, for tools whose pins conflict with requirements.lock (Airflow + cosmos, DataHub, checkov,
# PySpark). Made under the user's cache folder, keyed by a hash of the requirement files and the Python version, and
# reused when present: a second run (CI's too) installs nothing. Prints the venv's folder on stdout.
#
#   scripts/tool_venv.sh NAME REQUIREMENTS [PYTHON]
#
# REQUIREMENTS may name constraint files (`-c other.txt`, relative to it): they are part of the hash.
# The cache folder: $TAGLAKE_TOOL_CACHE, else $XDG_CACHE_HOME/taglake/venvs, else ~/.cache/taglake/venvs.
set -eu
if [ $# -lt 2 ]; then
    echo "usage: scripts/tool_venv.sh NAME REQUIREMENTS [PYTHON]" >&2
    exit 2
fi
name=$1
req=$2
python=${3:-python3}
if [ ! -f "$req" ]; then
    echo "tool_venv: $req: no such requirements file" >&2
    exit 2
fi
if ! command -v "$python" >/dev/null 2>&1; then
    echo "tool_venv: $python: no such Python (install it, or give another as the third argument)" >&2
    exit 2
fi
dir_of_req=$(dirname "$req")
constraints=$(sed -n 's/^[[:space:]]*-c[[:space:]]*//p' "$req")
version=$("$python" -c 'import sys; print(sys.version.split()[0])')
hash=$(
    {
        cat "$req"
        for c in $constraints; do cat "$dir_of_req/$c"; done
        echo "python $version"
    } | sha256sum | cut -c1-16
)
cache=${TAGLAKE_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/taglake/venvs}
venv=$cache/$name-$hash
# One maker at a time per venv (helpers and test lanes may ask at once): a lock beside it, and the check repeated
# under the lock. A venv whose Python does not run (a half-made or damaged one) is made again.
mkdir -p "$cache"
exec 9>"$venv.lock"
flock 9
if [ ! -f "$venv/.complete" ] || ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
    echo "tool_venv: making $venv (once; reused while $req is unchanged)" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    (cd "$dir_of_req" && "$venv/bin/python" -m pip install --quiet -r "$(basename "$req")") >&2
    touch "$venv/.complete"
fi
flock -u 9
echo "$venv"
